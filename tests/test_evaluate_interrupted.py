"""``classifykit evaluate`` on a run whose training was interrupted: it evaluates the best model so far,
says so once, and records ``training_complete`` in eval.json; finished and early-stopped runs say nothing."""

import csv

import pytest
from typer.testing import CliRunner

import classifykit.engine.trainer as trainer
from classifykit import runfolder as rf
from classifykit.cli.app import app
from classifykit.config import TextConfig
from classifykit.errors import ClassifykitError
from classifykit.io import read_csv_rows, read_json
from classifykit.tasks.pipeline import evaluate as evaluate_run
from classifykit.tasks.progress import TrainingProgress, training_note, training_progress
from classifykit.tasks.pipeline import train as train_text


def _table(path, n=80):
    words = {"pos": "good great fine superb lovely", "neg": "bad awful poor dull weak"}
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(n):
            label = "pos" if i % 2 else "neg"
            w.writerow([" ".join(words[label].split()[: 2 + i % 4]) + " film", label])
    return path


def _cfg(tmp_path, **kw):
    values = dict(data=str(_table(tmp_path / "reviews.csv")), runs_dir=str(tmp_path / "runs"), name="r",
                  epochs=4, batch_size=16, embed_dim=8, hidden_size=8, lr=0.03, min_freq=1, max_length=6,
                  quiet=True, device="cpu", num_workers=0, patience=0, model="lstm")
    values.update(kw)
    return TextConfig(**values)


class Killed(BaseException):
    """Stands in for Ctrl-C / SIGKILL: not an Exception, so nothing on the way catches it."""


@pytest.fixture
def interrupted(tmp_path, monkeypatch):
    """A text run of 4 epochs killed right after epoch 2 was written (checkpoint and metrics)."""
    line = trainer._epoch_line

    def kill_after_epoch_2(epoch, *args):
        if epoch == 2:
            raise Killed
        return line(epoch, *args)

    monkeypatch.setattr(trainer, "_epoch_line", kill_after_epoch_2)
    with pytest.raises(Killed):
        train_text(_cfg(tmp_path))
    monkeypatch.undo()
    run = tmp_path / "runs" / "r"
    assert not (run / rf.EVAL).exists() and len(read_csv_rows(run / rf.METRICS)) == 2
    return run


def test_interrupted_run_is_evaluated_with_a_note(interrupted):
    progress = training_progress(interrupted)
    assert progress.epochs_run == 2 and progress.epochs == 4 and not progress.stopped_early
    assert not progress.complete
    assert progress.best_epoch == read_json(interrupted / rf.MODEL_META)["best_epoch"]
    assert progress.best_epoch in (1, 2)
    assert training_note(interrupted) == (
        f"note: training of this run stopped after epoch 2 of 4 (interrupted?); evaluating the best model "
        f"so far (epoch {progress.best_epoch}). Resume with: classifykit train text --resume {interrupted}")
    report, out_dir = evaluate_run(interrupted, device="cpu")
    assert out_dir == interrupted and report["n"] == 20
    assert report["training_complete"] is False
    assert read_json(interrupted / rf.EVAL)["training_complete"] is False


def test_evaluate_command_prints_the_note_once(interrupted):
    result = CliRunner().invoke(app, ["evaluate", str(interrupted), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.output.count("note: training of this run stopped after epoch 2 of 4 (interrupted?)") == 1
    assert f"Resume with: classifykit train text --resume {interrupted}" in result.output
    assert "test accuracy" in result.output


def test_without_checkpoint_the_logs_tell(interrupted):
    (interrupted / rf.LAST_CHECKPOINT).unlink()
    progress = training_progress(interrupted)
    assert (progress.epochs_run, progress.epochs, progress.stopped_early) == (2, 4, False)
    assert training_note(interrupted).startswith("note: training of this run stopped after epoch 2 of 4")


def test_finished_run_has_no_note(tmp_path):
    run = train_text(_cfg(tmp_path, epochs=2))
    assert training_progress(run).complete and training_note(run) is None
    report, _ = evaluate_run(run, device="cpu")
    assert report["training_complete"] is True
    result = CliRunner().invoke(app, ["evaluate", str(run), "--device", "cpu"])
    assert result.exit_code == 0 and "note:" not in result.output


def test_early_stopped_run_is_complete(tmp_path):
    # lr 0: validation accuracy never improves after epoch 1, so patience 1 stops after epoch 2 of 5
    # (constant schedule: with onecycle/cosine patience counts only in the schedule's last 30%).
    run = train_text(_cfg(tmp_path, epochs=5, patience=1, lr=0.0, schedule="constant"))
    assert training_progress(run) == TrainingProgress(epochs_run=2, epochs=5, best_epoch=1, stopped_early=True)
    assert training_note(run) is None
    (run / rf.LAST_CHECKPOINT).unlink()  # the replay of metrics.csv with the saved patience agrees
    assert training_progress(run) == TrainingProgress(epochs_run=2, epochs=5, best_epoch=1, stopped_early=True)
    assert training_note(run) is None


def test_unknown_progress_adds_null(tmp_path):
    run = train_text(_cfg(tmp_path, epochs=1))
    (run / rf.LAST_CHECKPOINT).unlink()
    (run / rf.METRICS).unlink()
    assert training_progress(run) is None and training_note(run) is None
    report, _ = evaluate_run(run, device="cpu")
    assert report["training_complete"] is None


def test_run_stopped_during_epoch_1_is_one_clear_error(tmp_path, monkeypatch):
    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(trainer, "train_one_epoch", killed)
    with pytest.raises(Killed):
        train_text(_cfg(tmp_path, epochs=40))
    monkeypatch.undo()
    run = tmp_path / "runs" / "r"
    assert not (run / rf.WEIGHTS).exists() and not (run / rf.LAST_CHECKPOINT).exists()
    assert training_progress(run) == TrainingProgress(epochs_run=0, epochs=40, best_epoch=0, stopped_early=False)
    assert training_note(run) is None
    message = (f"{run} has no finished epoch (training stopped during epoch 1 of 40): there is no model to "
               f"evaluate, and no checkpoint to resume from. Train it again: classifykit train text "
               f"{tmp_path / 'reviews.csv'}")
    with pytest.raises(ClassifykitError) as e:
        evaluate_run(run, device="cpu")
    assert str(e.value) == message
    result = CliRunner().invoke(app, ["evaluate", str(run), "--device", "cpu"])
    assert str(result.exception) == message
    assert "note:" not in result.output and not (run / rf.EVAL).exists()
