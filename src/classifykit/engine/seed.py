"""Seeding Python, NumPy, torch and DataLoader workers, and deterministic algorithms.

Follows the PyTorch reproducibility notes (https://pytorch.org/docs/stable/notes/randomness.html).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    With ``deterministic=True`` torch uses only deterministic kernels
    (``torch.use_deterministic_algorithms``; ops without one raise), cuDNN autotuning is off and
    cuBLAS gets a fixed workspace (``CUBLAS_WORKSPACE_CONFIG=:4096:8``, required for deterministic
    cuBLAS on CUDA >= 10.2). Otherwise cuDNN may autotune (``benchmark=True``) for speed.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed Python and NumPy in a worker from its torch seed.

    torch seeds each worker's generator with ``base_seed + worker_id`` (``base_seed`` is drawn from
    the main process's generator when the iterator is created, so it is restored with the RNG state
    on resume). Deriving the Python and NumPy seeds from it here, as the PyTorch reproducibility
    notes recommend, makes augmentation randomness a function of that one seed whatever the torch
    version's own worker seeding does.
    """
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)
