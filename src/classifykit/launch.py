"""``classifykit train ... --nproc N``: run the same command under torchrun with N processes on this machine.

The command line is rewritten to ``python -m torch.distributed.run --standalone --nproc-per-node N
-m classifykit train ...`` (``--nproc`` dropped; ``torch.distributed.run`` is what the ``torchrun``
script runs) and this process is replaced by it, so Ctrl-C and the exit status go straight to
torchrun. ``--standalone`` makes torchrun pick a free local rendezvous port, so two runs on one
machine do not collide on 29500. Several machines, or any other torchrun option: call torchrun
yourself (docs/distributed.md).
"""

from __future__ import annotations

import os
import sys

from classifykit.errors import ClassifykitError

FLAG = "--nproc"
_TORCHRUN_ENV = ("TORCHELASTIC_RUN_ID", "LOCAL_RANK")  # set by torchrun in every worker


def _parse_nproc(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ClassifykitError(f"{FLAG} {value}: give the number of processes to start on this machine (1 or more).")
    return n


def split_nproc(argv: list[str]) -> tuple[int | None, list[str]]:
    """Find ``--nproc N`` / ``--nproc=N`` in ``argv``; returns ``(N or None, argv without it)``.

    Arguments after ``--`` are left alone (they are values, not options).

    Raises:
        ClassifykitError: ``--nproc`` without a value, given twice, or not a positive integer.
    """
    nproc, rest, i = None, [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg == FLAG or arg.startswith(FLAG + "="):
            if nproc is not None:
                raise ClassifykitError(f"{FLAG} is given twice; give it once.")
            if arg == FLAG:
                if i + 1 >= len(argv):
                    raise ClassifykitError(f"{FLAG} needs a value: the number of processes, e.g. {FLAG} 2.")
                value, i = argv[i + 1], i + 2
            else:
                value, i = arg.split("=", 1)[1], i + 1
            nproc = _parse_nproc(value)
            continue
        rest.append(arg)
        i += 1
    return nproc, rest


def torchrun_argv(argv: list[str], python: str = sys.executable) -> list[str] | None:
    """The torchrun command line for ``classifykit`` arguments ``argv`` (``sys.argv[1:]``), or None.

    None when ``argv`` is not a ``train`` command (only training runs under torchrun; other commands
    reject ``--nproc`` as an unknown option), has no ``--nproc``, or has ``--nproc 1`` (the command
    runs in this process as is).
    Example: ``["train", "images", "data", "--nproc", "2"]`` ->
    ``[python, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
    "-m", "classifykit", "train", "images", "data"]``.

    Raises:
        ClassifykitError: a bad ``--nproc`` value (see :func:`split_nproc`).
    """
    if argv[:1] != ["train"]:
        return None
    nproc, rest = split_nproc(argv)
    if nproc is None or nproc == 1:
        return None
    return [python, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
            "-m", "classifykit", *rest]


def check_gpu_count(nproc: int) -> None:
    """Refuse more processes than visible GPUs when CUDA is available (each process takes GPU ``LOCAL_RANK``).

    Raises:
        ClassifykitError: ``nproc`` exceeds ``torch.cuda.device_count()``.
    """
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if 0 < gpus < nproc:
        raise ClassifykitError(f"{FLAG} {nproc}: this machine has {gpus} visible GPU(s) and each process needs "
                               f"its own; use {FLAG} {gpus} or fewer (see CUDA_VISIBLE_DEVICES).")


def relaunch_under_torchrun(argv: list[str] | None = None) -> None:
    """If ``argv`` (default ``sys.argv[1:]``) asks for ``--nproc N`` with N > 1, exec torchrun; else return.

    Does not return when it launches: this process becomes torchrun (``os.execv``), which starts N
    workers running the same command without ``--nproc`` and exits with their status.

    Raises:
        ClassifykitError: a bad ``--nproc`` value, ``--nproc`` inside a torchrun worker, or more
            processes than GPUs on a CUDA machine (NCCL, the CUDA backend, needs one GPU per process).
    """
    argv = sys.argv[1:] if argv is None else argv
    cmd = torchrun_argv(argv)
    if cmd is None:
        return
    if any(k in os.environ for k in _TORCHRUN_ENV):
        raise ClassifykitError(f"{FLAG}: this command already runs under torchrun; drop {FLAG} "
                               f"(torchrun's --nproc-per-node sets the process count).")
    check_gpu_count(split_nproc(argv)[0])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
