"""Shared test fixtures: where the optional real data lives, and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """``$OSGNET_BENCH_SHARED`` if set, else ``../shared`` next to the repository."""
    return Path(os.environ.get("OSGNET_BENCH_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Directory of the real annotation files; the test is skipped when it is absent."""
    path = shared_dir() / "data"
    if not path.is_dir():
        pytest.skip(f"real annotation files not available ({path})")
    return path


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """Directory of the reference parity fixtures; the test is skipped when it is absent."""
    path = shared_dir() / "fixtures"
    if not path.is_dir():
        pytest.skip(f"reference fixtures not available ({path})")
    return path


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """Directory of the reference specification and official configs; skipped when absent."""
    path = shared_dir() / "reference"
    if not path.is_dir():
        pytest.skip(f"reference configs not available ({path})")
    return path


@pytest.fixture(scope="module")
def one_thread():
    """One torch intra-op thread for the module's tests, restored afterwards: small CPU tensors
    run faster on one thread than on two contended ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
