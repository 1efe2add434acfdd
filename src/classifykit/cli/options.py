"""Typer commands generated from config dataclasses, so every flag is one field and they cannot drift.

``--config FILE`` (YAML/JSON) gives defaults; flags given on the command line override it.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from classifykit.cli.app import markdown_help
from classifykit.config import NONE_WORDS, build_config, load_config_file

_SKIP = {"data"}  # the positional argument
RESUME_CHANGES = ("epochs",)  # what --resume takes from the command line: extending a run (pipeline.train)

# ``train images`` and ``train text`` take these besides their config fields.
TRAIN_EXTRA = [
    inspect.Parameter("resume", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],
                      default=typer.Option(None, "--resume", help="Continue the run in this folder from checkpoints/last.pt (no DATA needed); with --epochs N, extend a finished or stopped run to N epochs (a new LR cycle over the epochs added).")),
    inspect.Parameter("nproc", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[int],
                      default=typer.Option(None, "--nproc", help="Launch N processes with torchrun (DDP); batch size is per process.")),
]


def _annotation(tp: Any) -> Any:
    args = typing.get_args(tp)
    if type(None) in args:  # ``int | None`` -> Optional[int] (typer reads typing.Optional)
        inner = next(a for a in args if a is not type(None))
        return Optional[inner]
    return Optional[tp]  # None = "not given on the command line", so --config values survive


def ignored_with_resume(data: str | None, config_file: Path | None, options: dict[str, Any]) -> list[str]:
    """What was given besides ``--resume`` that a resumed run ignores (it keeps its saved
    ``config.json``): ``DATA``, ``--config`` and every option given (``options``: field name ->
    value, None when not given), spelled as typed (``--no-amp`` for False)."""
    given = [("--no-" if value is False else "--") + name.replace("_", "-")
             for name, value in options.items() if value is not None]
    return ["DATA"] * (data is not None) + sorted(given + ["--config"] * (config_file is not None))


def _number_or_none(kind: type) -> Callable[[str], Any]:
    """A parser for an optional number: ``none``/``null`` passes through (build_config makes it None)."""
    def parse(text: str) -> Any:
        if text.strip().lower() in NONE_WORDS:
            return text
        try:
            return kind(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a {'whole ' if kind is int else ''}number or none.") from None
    return parse


def config_command(cls: type, run: Callable[..., Any], *, extra: list[inspect.Parameter] | None = None):
    """Build a typer callback for dataclass ``cls``.

    The callback takes ``DATA`` (positional), ``--config FILE``, one option per dataclass field (but
    not the fields marked ``only`` for another task than ``cls.TASK``) and any ``extra`` parameters,
    and calls ``run(cfg, **extra_values)`` with the resolved config.
    """
    hints = typing.get_type_hints(cls)
    params = [
        inspect.Parameter("data", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[str],
                          default=typer.Argument(None, help=markdown_help(cls.__dataclass_fields__["data"].metadata["help"]),
                                                show_default=False)),
        inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path],
                          default=typer.Option(None, "--config", help="YAML or JSON file of option values (flags override it).")),
    ]
    for f in dataclasses.fields(cls):
        if f.name in _SKIP or f.metadata.get("only", cls.TASK) != cls.TASK:
            continue
        flag = "--" + f.name.replace("_", "-")
        tp = hints[f.name]
        is_bool = tp is bool or set(typing.get_args(tp)) == {bool, type(None)}
        decls = [f"{flag}/--no-{f.name.replace('_', '-')}"] if is_bool else [flag]
        help_text = f.metadata.get("help", "")
        if "(default:" not in help_text:  # else the help describes a computed default itself
            help_text += f" [default: {'none' if f.default is None else f.default}]"  # spelled as on the command line
        help_text = markdown_help(help_text)
        parsing = {}
        numbers = set(typing.get_args(tp)) - {type(None)}
        if type(None) in typing.get_args(tp) and len(numbers) == 1 and numbers <= {int, float}:
            kind = numbers.pop()  # e.g. --clip-grad-norm none: None has a meaning of its own
            parsing = {"parser": _number_or_none(kind), "metavar": f"<{kind.__name__}|none>"}
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=_annotation(tp),
                                        default=typer.Option(None, *decls, help=help_text, show_default=False, **parsing)))
    extra = extra or []
    extra_names = [p.name for p in extra]
    params.extend(extra)

    def callback(**kwargs: Any) -> None:
        config_file = kwargs.pop("config")
        extras = {n: kwargs.pop(n) for n in extra_names}
        if extras.get("resume") is not None:
            extras["changes"] = {k: kwargs[k] for k in RESUME_CHANGES if kwargs.get(k) is not None}
            rest = {k: v for k, v in kwargs.items() if k != "data" and k not in RESUME_CHANGES}
            ignored = ignored_with_resume(kwargs["data"], config_file, rest)
            if ignored and os.environ.get("RANK", "0") == "0":  # once under torchrun
                Console(stderr=True, highlight=False, soft_wrap=True).print(
                    f"note: {', '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} ignored with --resume: the run "
                    f"keeps its saved configuration ({Path(extras['resume']) / 'config.json'}; only "
                    f"{', '.join('--' + k for k in RESUME_CHANGES)} can change).", style="yellow", markup=False)
        file_values = load_config_file(config_file) if config_file else {}
        cfg = build_config(cls, file_values, **kwargs)
        run(cfg, **extras)

    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__doc__ = run.__doc__
    return callback
