"""Advice names only options that exist (issue 15, defect 8: an error told ``predict`` users to pass
``--path-column``, which only ``scan`` and ``train`` have)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

import classifykit
from classifykit.cli import app  # every command registered
from classifykit.data.manifest import read_manifest

OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# Flags of other programs that messages quote whole commands of, and the ``--no-`` prefix of flags.
FOREIGN = {"--nproc-per-node", "--standalone", "--no-deps", "--logdir", "--help", "--no"}
FOREIGN_MODULES = {"report/browser.py"}  # Chromium's command line


def command_options() -> dict[str, set[str]]:
    """``{"train images": {"--epochs", ...}, "predict": {...}, ...}`` from the typer app."""
    out: dict[str, set[str]] = {}

    def walk(cmd, name: str) -> None:
        if hasattr(cmd, "commands"):  # a group (typer ships its own click)
            for sub_name, sub in cmd.commands.items():
                walk(sub, f"{name} {sub_name}".strip())
            return
        out[name] = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}

    walk(typer.main.get_command(app), "")
    return out


def string_options(tree: ast.AST) -> set[str]:
    """Every ``--option`` in the string constants (f-string parts included) of a module, docstrings
    left out (they describe, the messages advise)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found |= set(OPTION.findall(node.value))
    return found


def test_every_option_a_message_names_exists_on_some_command():
    known = set().union(*command_options().values())
    src = Path(classifykit.__file__).parent
    unknown = {}
    for path in sorted(src.rglob("*.py")):
        if str(path.relative_to(src)) in FOREIGN_MODULES:
            continue
        for option in string_options(ast.parse(path.read_text(encoding="utf-8"))) - known - FOREIGN:
            unknown.setdefault(option, []).append(str(path.relative_to(src)))
    assert unknown == {}


def assert_advice_fits(message: str, command: str) -> None:
    options = set(OPTION.findall(message))
    assert options <= command_options()[command], (command, message)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("advice")
    rng = np.random.default_rng(0)
    for c, level in (("bright", 200), ("dark", 20)):
        (root / "photos" / c).mkdir(parents=True)
        for i in range(8):
            Image.fromarray((level + rng.integers(0, 30, (12, 12))).astype(np.uint8), "L").save(root / "photos" / c / f"{i}.png")
    result = CliRunner().invoke(app, ["train", "images", str(root / "photos"), "--runs-dir", str(root / "runs"), "--name",
                                      "r", "--model", "smallcnn", "--epochs", "1", "--batch-size", "8", "--num-workers",
                                      "0", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    return root / "runs" / "r"


def test_predict_and_evaluate_with_an_odd_manifest_name_only_their_options(image_run, tmp_path):
    photos = image_run.parent.parent / "photos"
    odd = tmp_path / "odd.csv"
    odd.write_text("picture,kind\n" + "".join(f"{photos / 'dark' / f'{i}.png'},dark\n" for i in range(3)))
    result = CliRunner().invoke(app, ["predict", str(image_run), str(odd), "--out", str(tmp_path / "p.csv")])
    assert str(result.exception) == (f"{odd}: no image path column found among 'picture', 'kind' (looked for path, "
                                     "filepath, file_path, file, filename, file_name, image, image_path, img, img_path); "
                                     "rename its header to path.")
    assert_advice_fits(str(result.exception), "predict")
    result = CliRunner().invoke(app, ["evaluate", str(image_run), "--data", str(odd)])
    assert "rename its header to path" in str(result.exception)
    assert_advice_fits(str(result.exception), "evaluate")


def test_predict_with_a_gbk_manifest_says_how_to_save_it_as_utf8(image_run, tmp_path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("path,label\n猫的照片.png,dark\n".encode("gbk"))
    result = CliRunner().invoke(app, ["predict", str(image_run), str(gbk), "--out", str(tmp_path / "p.csv")])
    message = str(result.exception)
    assert "save it as UTF-8, e.g. iconv -f" in message and "--encoding" not in message
    assert_advice_fits(message, "predict")


def test_train_and_scan_keep_their_column_options_in_the_advice(tmp_path):
    odd = tmp_path / "odd.csv"
    odd.write_text("picture,kind\na.png,x\n")
    with pytest.raises(classifykit.errors.ClassifykitError, match="name it with --path-column"):
        read_manifest(odd)
    with pytest.raises(classifykit.errors.ClassifykitError, match="rename its header to path"):
        read_manifest(odd, options=False)


def test_predict_on_a_text_table_without_a_text_column_names_no_missing_option(tmp_path):
    from classifykit.text.inference import read_texts

    table = tmp_path / "t.csv"
    table.write_text("opinion,stars\ngood film,5\n")
    with pytest.raises(classifykit.errors.ClassifykitError) as e:
        read_texts(str(table))
    assert "Rename its header to text." in str(e.value)
    assert_advice_fits(str(e.value), "predict")
