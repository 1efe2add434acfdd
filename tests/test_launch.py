"""classifykit.launch: `--nproc N` becomes a torchrun command line (pure argv rewriting)."""

from __future__ import annotations

import pytest

from classifykit.errors import ClassifykitError
from classifykit.launch import check_gpu_count, relaunch_under_torchrun, split_nproc, torchrun_argv

PY = "/venv/bin/python"
HEAD = [PY, "-m", "torch.distributed.run", "--standalone"]


def test_nproc_with_separate_value():
    argv = ["train", "images", "data/flowers", "--nproc", "2", "--epochs", "3"]
    assert torchrun_argv(argv, PY) == [*HEAD, "--nproc-per-node", "2", "-m", "classifykit",
                                       "train", "images", "data/flowers", "--epochs", "3"]


def test_nproc_with_equals_sign_at_the_end():
    argv = ["train", "text", "reviews.csv", "--batch-size", "32", "--nproc=4"]
    assert torchrun_argv(argv, PY) == [*HEAD, "--nproc-per-node", "4", "-m", "classifykit",
                                       "train", "text", "reviews.csv", "--batch-size", "32"]


def test_no_relaunch_without_nproc_or_with_one_process():
    assert torchrun_argv(["train", "images", "data"], PY) is None
    assert torchrun_argv(["train", "images", "data", "--nproc", "1"], PY) is None


def test_only_train_commands_are_relaunched():
    assert torchrun_argv(["export", "runs/a", "--nproc", "2"], PY) is None
    assert torchrun_argv(["--nproc", "2", "train", "images", "d"], PY) is None


def test_arguments_after_double_dash_are_kept():
    argv = ["train", "images", "--nproc", "2", "--", "--nproc"]
    assert split_nproc(argv) == (2, ["train", "images", "--", "--nproc"])


def test_other_options_that_start_alike_are_kept():
    assert split_nproc(["train", "images", "d", "--nprocs", "3"]) == (None, ["train", "images", "d", "--nprocs", "3"])


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "images", "d", "--nproc"], "--nproc needs a value: the number of processes, e.g. --nproc 2."),
    (["train", "images", "d", "--nproc", "0"], "--nproc 0: give the number of processes to start on this machine"),
    (["train", "images", "d", "--nproc=two"], "--nproc two: give the number of processes"),
    (["train", "--nproc", "2", "images", "--nproc", "2"], "--nproc is given twice; give it once."),
])
def test_bad_nproc_values(argv, message):
    with pytest.raises(ClassifykitError, match=message.replace(".", r"\.")):
        torchrun_argv(argv, PY)


def test_no_relaunch_returns_without_exec(monkeypatch):
    monkeypatch.setattr("os.execv", lambda *a: pytest.fail(f"exec {a}"))
    assert relaunch_under_torchrun(["train", "images", "d", "--nproc", "1"]) is None


def test_nproc_inside_a_torchrun_worker_is_refused(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setattr("os.execv", lambda *a: pytest.fail(f"exec {a}"))
    with pytest.raises(ClassifykitError, match="already runs under torchrun; drop --nproc"):
        relaunch_under_torchrun(["train", "images", "d", "--nproc", "2"])


def test_more_processes_than_gpus_is_refused(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    with pytest.raises(ClassifykitError, match=r"--nproc 3: this machine has 2 visible GPU\(s\) and each process "
                                               r"needs its own; use --nproc 2 or fewer"):
        check_gpu_count(3)
    check_gpu_count(2)


def test_relaunch_execs_torchrun_with_this_python(monkeypatch):
    import sys

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    calls = []
    monkeypatch.setattr("os.execv", lambda path, args: calls.append((path, args)))
    relaunch_under_torchrun(["train", "images", "d", "--nproc", "3"])
    assert calls == [(sys.executable, [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                       "--nproc-per-node", "3", "-m", "classifykit", "train", "images", "d"])]


def test_the_cli_leaves_the_process_group_at_the_end(monkeypatch):
    """cleanup_distributed was only called by tests: the console script now leaves a joined group."""
    import torch.distributed  # noqa: F401  (a command that trained has imported it)

    import classifykit.cli as cli
    import classifykit.engine.distributed as distributed
    import classifykit.launch as launch

    calls = []
    monkeypatch.setattr(launch, "relaunch_under_torchrun", lambda: None)
    monkeypatch.setattr(cli, "app", lambda: None)
    monkeypatch.setattr(distributed, "cleanup_distributed", lambda: calls.append("left"))
    cli.main()
    assert calls == ["left"]
