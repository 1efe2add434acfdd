"""The typer application object; command modules register themselves on it."""

import typer


def markdown_help(text: str) -> str:
    """``text`` escaped for the Markdown help renderer, which drops what looks like an HTML tag
    (``<pad>``, ``<data name>``) and reads ``[...]`` as a link."""
    return text.replace("<", "\\<").replace("[", "\\[")


app = typer.Typer(
    name="classifykit",
    help="Turn a folder of images or a table of texts into a trained, evaluated, saved classifier.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # docstring paragraphs wrap to the terminal instead of keeping hard breaks
)
train_app = typer.Typer(help="Train a classifier on images or texts.", no_args_is_help=True)
app.add_typer(train_app, name="train")
demo_app = typer.Typer(help="End-to-end demos on real data that ships offline.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
