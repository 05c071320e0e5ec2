"""Shared test fixtures: where the test data lives, and small helpers.

Two kinds of test data:

* the reference parity fixture and the state-dict manifests are the project's own test data, in
  ``tests/data/reference`` (``reference_fixtures``): those tests run on every clone;
* the licensed Ego4D annotations, the reference's configs and the official evaluator are not
  shipped. They are read from ``shared_dir()`` (``$OSGNET_BENCH_SHARED``, else ``../shared``).
  A test that needs one of them is skipped when it is absent, except under ``CI=true``, where it
  fails with the missing path: CI must not pass by skipping its strongest tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_FIXTURES = Path(__file__).resolve().parent / "data" / "reference"


def shared_dir() -> Path:
    """``$OSGNET_BENCH_SHARED`` if set, else ``../shared`` next to the repository."""
    return Path(os.environ.get("OSGNET_BENCH_SHARED", REPO_ROOT.parent / "shared"))


def running_in_ci() -> bool:
    """True when the environment variable ``CI`` is ``true`` (as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def shared_path(relative: str) -> Path:
    """``shared_dir() / relative``, a file or folder that a test needs.

    When it does not exist the calling test is skipped, or fails naming the path when
    ``CI=true``. Call it inside a test or fixture, e.g.
    ``shared_path("reference/official/evaluate_ego4d_nlq.py")``.
    """
    path = shared_dir() / relative
    if not path.exists():
        message = f"{path} is missing; set OSGNET_BENCH_SHARED (now {shared_dir()}) to the folder that has {relative}"
        if running_in_ci():
            pytest.fail(f"CI=true, so this test fails instead of skipping: {message}", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def reference_fixtures() -> Path:
    """``tests/data/reference``: the parity fixture ``osgnet_small_nlq.pt`` and ``manifests/*.json``."""
    return REFERENCE_FIXTURES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Directory of the real (licensed) Ego4D annotation files, ``shared_dir() / "data"``."""
    return shared_path("data")


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """Directory of the reference specification, official configs and evaluator, ``shared_dir() / "reference"``."""
    return shared_path("reference")


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch intra-op thread for the module's tests, restored afterwards: small CPU tensors
    run faster on one thread than on two contended ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
