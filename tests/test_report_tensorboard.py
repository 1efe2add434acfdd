"""report.tensorboard: event files read back with TensorBoard's own reader."""

import builtins

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from classifykit.errors import ClassifykitError
from classifykit.report.tensorboard import write_tensorboard
from test_report_runfolder import SPIKE_STEP, make_image_run


def _load(logdir):
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    return acc


def test_scalars_round_trip(tmp_path):
    run = make_image_run(tmp_path)
    logdir = write_tensorboard(run)
    assert logdir == run / "tensorboard"
    acc = _load(logdir)
    val_acc = acc.Scalars("epoch/val_acc")
    assert [e.step for e in val_acc] == [1, 2, 3, 4]
    assert [round(e.value, 4) for e in val_acc] == [0.5, 0.58, 0.75, 0.7]
    spike = [e for e in acc.Scalars("step/grad_norm") if e.step == SPIKE_STEP]
    assert len(spike) == 1 and spike[0].value == 100.0
    assert {"grad_norm/stem", "grad_norm/layer1", "grad_norm/fc"} <= set(acc.Tags()["scalars"])
    (test_acc,) = acc.Scalars("test/accuracy")
    assert test_acc.step == 3 and test_acc.value == pytest.approx(6 / 9)


def test_export_twice_replaces_the_first(tmp_path):
    run = make_image_run(tmp_path)
    write_tensorboard(run)
    write_tensorboard(run)
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 1
    assert len(_load(run / "tensorboard").Scalars("epoch/train_loss")) == 4


def test_missing_tensorboard_is_a_clear_error(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "torch.utils.tensorboard":
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ClassifykitError, match=r"pip install 'classifykit\[tensorboard\]'"):
        write_tensorboard(make_image_run(tmp_path))


def test_cli_report_tensorboard_flag(tmp_path):
    from typer.testing import CliRunner

    from classifykit.cli.app import app

    run = make_image_run(tmp_path)
    result = CliRunner().invoke(app, ["report", str(run), "--tensorboard"])
    assert result.exit_code == 0, result.output
    assert f"tensorboard: {run / 'tensorboard'}" in result.output
    assert len(_load(run / "tensorboard").Scalars("step/grad_norm")) == 40
