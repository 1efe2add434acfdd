"""Shared pytest fixtures. Tests generate their own small inputs; real-data tests are marked integration."""

import os

import pytest
import torch

# The machine has 2 cores and tests run beside each other: one intra-op thread keeps them predictable.
torch.set_num_threads(1)
os.environ.setdefault("CLASSIFYKIT_PROGRESS", "plain")


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
