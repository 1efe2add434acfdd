"""Every command's --help renders every word of its help texts: the app renders help as Markdown,
which drops anything that looks like an HTML tag (``<pad>``) unless it is escaped or quoted."""

import re

import pytest
import typer
import typer.rich_utils
from typer.testing import CliRunner

from classifykit.cli import app


def _commands(command, path: tuple[str, ...] = ()):
    if hasattr(command, "commands"):  # a group (typer ships its own click)
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


COMMANDS = dict(_commands(typer.main.get_command(app)))
PLACEHOLDER = re.compile(r"<[a-z][^<>]*>")  # <pad>, <data name>, <class>


def _help(path, monkeypatch) -> str:
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 400)  # no wrapping inside a placeholder
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_checked():
    assert {" ".join(p) for p in COMMANDS} >= {"train images", "train text", "scan", "evaluate", "predict",
                                               "export", "report", "demo images", "demo text"}


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_help_shows_every_placeholder(path, monkeypatch):
    output = _help(path, monkeypatch)
    command = COMMANDS[path]
    texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    for text in texts:
        for word in PLACEHOLDER.findall(text.replace("\\", "")):
            assert word in output, f"{' '.join(path)} --help lost {word!r} of: {text}"


@pytest.mark.parametrize(("path", "words"), [
    (("train", "text"), ["maximum size including <pad> and <unk>.", "(default: <data name>-<timestamp>)"]),
    (("train", "images"), ["(default: <data name>-<timestamp>)"]),
    (("scan",), ["photos/<class>/<image>", "photos/train|val|test/<class>/<image>"]),
    (("report",), ["runs/<name>"]),
])
def test_help_words_reported_missing(path, words, monkeypatch):
    output = _help(path, monkeypatch)
    for word in words:
        assert word in output


def _options(path) -> set[str]:
    return {opt for p in COMMANDS[path].params for opt in getattr(p, "opts", [])}


def test_each_train_command_lists_only_its_own_options(monkeypatch):
    images, text = _options(("train", "images")), _options(("train", "text"))
    assert {"--path-column", "--root", "--channels-last", "--input-size", "--augment"} <= images
    assert not {"--text-column", "--max-vocab", "--rnn"} & images
    assert {"--text-column", "--max-vocab", "--rnn"} <= text
    assert not {"--path-column", "--root", "--channels-last", "--input-size"} & text
    shared = {"--label-column", "--encoding", "--epochs", "--clip-grad-norm", "--resume", "--config"}
    assert shared <= images and shared <= text
    output = _help(("train", "text"), monkeypatch)
    assert "--text-column" in output and "--path-column" not in output and "--channels-last" not in output
    output = _help(("train", "images"), monkeypatch)
    assert "--path-column" in output and "--text-column" not in output
