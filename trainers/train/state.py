"""Full training-state checkpoints, written atomically, and the official weights-only export.

A training-state file (``last.pt``, ``best.pt``) is a ``torch.save`` dict::

    {"format": "osgnet-bench/train-state", "version": 1,
     "model": state_dict, "ema": state_dict, "optimizer": ..., "schedule": ...,
     "epoch": int,            # epochs fully completed
     "iteration": int,        # optimiser steps taken in total
     "epoch_iteration": int,  # optimiser steps taken inside the current epoch
     "rng": {...}, "config": dict, "metrics": dict}

The official export (``*_official.pth.tar``) is ``{"epoch": int, "state_dict": ema_state_dict}``,
the layout the reference saves and loads.
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from osgnet_bench.errors import UserError
from osgnet_bench.files import atomic_writer

STATE_FORMAT = "osgnet-bench/train-state"


def rng_state() -> dict[str, Any]:
    """Every random generator the training loop draws from, as tensors and plain values only, so
    that a training state loads with ``torch.load(weights_only=True)``."""
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state` (CUDA states only when CUDA is present)."""
    random.setstate(tuple(state["python"]))
    saved = state["numpy"]
    np.random.set_state((saved["name"], saved["keys"].numpy().astype(np.uint32), saved["pos"],
                         saved["has_gauss"], saved["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file, flush, fsync, then rename over ``path``."""
    with atomic_writer(path, mode="wb") as handle:
        torch.save(obj, handle)


def save_training_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write a training-state dict (see the module docstring) atomically."""
    save_atomic({"format": STATE_FORMAT, "version": 1, **state}, path)


def load_training_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a training-state file written by :func:`save_training_state`."""
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such training-state file.") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: not a readable training-state checkpoint ({reason}).") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise UserError(f"{path}: not an osgnet-bench training-state checkpoint (no 'format' marker).")
    return state


def export_official(path: str | os.PathLike, epoch: int, ema_state: dict[str, torch.Tensor]) -> None:
    """Write EMA weights in the reference's ``{"epoch", "state_dict"}`` layout."""
    save_atomic({"epoch": int(epoch), "state_dict": ema_state}, path)
