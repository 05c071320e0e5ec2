"""Seeds and the deterministic mode (pipeline.md §4.7, §8.4).

The reference disabled cuDNN entirely and forced strict deterministic algorithms on every run.
Here determinism is an option (``trainer.deterministic``): when on, deterministic algorithms are
required and cuDNN autotuning is off; when off, nothing slows the run down.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_determinism(deterministic: bool) -> None:
    """Require deterministic kernels (and set the cuBLAS workspace they need), or allow the fast ones."""
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
