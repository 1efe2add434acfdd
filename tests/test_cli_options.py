"""Options generated from the config dataclasses: what a flag or config-file value becomes (no training:
the task function is replaced by one that records the config it was given)."""

import pytest
from typer.testing import CliRunner

import classifykit.tasks.pipeline as pipeline
from classifykit.cli.app import app
from classifykit.errors import ClassifykitError


@pytest.fixture
def given(monkeypatch):
    """The config each ``train`` command passed to its task, by task name."""
    seen = {}

    def train(cfg, resume=None, epochs=None):
        seen["text" if cfg.TASK == "text" else "images"] = cfg
        seen["epochs"] = epochs

    monkeypatch.setattr(pipeline, "train", train)
    return seen


def invoke(*args):
    return CliRunner().invoke(app, ["train", *args])


@pytest.mark.parametrize(("args", "task", "clip"), [
    (["text", "t.csv"], "text", 1.0),  # recurrent models clip unless told otherwise
    (["text", "t.csv", "--clip-grad-norm", "none"], "text", None),
    (["text", "t.csv", "--clip-grad-norm", "None"], "text", None),
    (["text", "t.csv", "--clip-grad-norm", "5"], "text", 5.0),
    (["images", "photos"], "images", None),
    (["images", "photos", "--clip-grad-norm", "none"], "images", None),
    (["images", "photos", "--clip-grad-norm", "2.5"], "images", 2.5),
])
def test_clip_grad_norm_none_turns_clipping_off(given, args, task, clip):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert given[task].clip_grad_norm == clip


@pytest.mark.parametrize(("text", "clip"), [("clip_grad_norm: null\n", None), ("clip-grad-norm: none\n", None),
                                            ("clip_grad_norm: 3\n", 3.0)])
def test_config_file_clip_grad_norm(given, tmp_path, text, clip):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    assert invoke("text", "t.csv", "--config", str(config)).exit_code == 0
    assert given["text"].clip_grad_norm == clip
    assert invoke("text", "t.csv", "--config", str(config), "--clip-grad-norm", "0.5").exit_code == 0
    assert given["text"].clip_grad_norm == 0.5  # the flag overrides the file


def test_clip_grad_norm_zero_says_how_to_turn_it_off(given):
    result = invoke("text", "t.csv", "--clip-grad-norm", "0")
    assert isinstance(result.exception, ClassifykitError)
    assert str(result.exception) == "--clip-grad-norm 0.0: must be above 0 (e.g. 1.0), or none to turn clipping off."


def test_clip_grad_norm_word_is_refused_by_the_parser(given):
    result = invoke("images", "photos", "--clip-grad-norm", "off")
    assert result.exit_code == 2 and "text" not in given and "images" not in given
    assert "'off' is not a number or none" in result.output


def test_input_size_none_is_auto(given):
    assert invoke("images", "photos", "--input-size", "none").exit_code == 0
    assert given["images"].input_size is None
    result = invoke("images", "photos", "--input-size", "1.5")
    assert result.exit_code == 2 and "'1.5' is not a whole number or none" in result.output


def test_resume_names_the_options_it_ignores(given):
    result = invoke("text", "--resume", "runs/r", "--cpu-bf16", "--epochs", "6", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr == ("note: --cpu-bf16, --quiet are ignored with --resume: the run keeps its saved "
                             "configuration (runs/r/config.json; only --epochs can change).\n")
    assert given["epochs"] == 6  # --epochs extends the run (issue 15, defect 15)
    result = invoke("images", "photos", "--resume", "runs/p", "--no-amp", "--config", "c.yaml")
    assert "note: DATA, --config, --no-amp are ignored with --resume" in result.stderr
    assert invoke("images", "--resume", "runs/p", "--no-amp").exit_code == 0
    assert given["epochs"] is None


def test_resume_alone_says_nothing(given):
    for task in ("text", "images"):
        result = invoke(task, "--resume", "runs/r")
        assert result.exit_code == 0 and "ignored" not in result.output
    result = invoke("text", "--resume", "runs/r", "--nproc", "1")  # the launch honours it
    assert "ignored" not in result.output
