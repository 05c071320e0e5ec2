"""Reading official OSGNet checkpoints and ours, strict loading, and conversion.

Our modules keep the reference's parameter names, so the name mapping is the identity after
removing a DistributedDataParallel ``module.`` prefix. Accepted inputs (see docs/model.md):

* official: ``{"epoch", "state_dict"}`` (the EMA weights, as the reference saves them), optionally
  ``state_dict_ema`` (preferred when present, as the reference's resume does), or a bare state dict;
* ours: ``{"format": "osgnet-bench/model", "version": 1, "epoch", "state_dict"}``;
* a training state of ``trainers.train.state`` (``"ema"`` preferred over ``"model"``).

Loading is strict: every missing, unexpected or mis-shaped key is reported in one ``UserError``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torch import nn

from osgnet_bench.errors import UserError
from osgnet_bench.files import atomic_writer
from trainers.train.state import STATE_FORMAT as TRAIN_STATE_FORMAT

MODEL_FORMAT = "osgnet-bench/model"
DDP_PREFIX = "module."
MAX_LISTED = 20


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], int | None, str]:
    """The state dict in ``path``, its epoch (if recorded) and its kind (official / ours / train-state)."""
    try:
        content = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such checkpoint file.") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a checkpoint file.") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if reason.startswith("Weights only load failed"):
            reason = ("not a torch.save file, or it holds Python objects besides tensors and plain "
                      "containers, which are not unpickled for safety")
        raise UserError(f"{path}: not a readable PyTorch checkpoint ({reason}).") from None
    if not isinstance(content, dict):
        raise UserError(f"{path}: expected a dict checkpoint, found {type(content).__name__}.")
    epoch = content.get("epoch") if isinstance(content.get("epoch"), int) else None
    if content.get("format") == MODEL_FORMAT:
        return _tensor_dict(content.get("state_dict"), path, "state_dict"), epoch, "ours"
    if content.get("format") == TRAIN_STATE_FORMAT:
        key = "ema" if isinstance(content.get("ema"), dict) else "model"
        return _tensor_dict(content.get(key), path, key), epoch, "train-state"
    for key in ("state_dict_ema", "state_dict"):
        if isinstance(content.get(key), dict):
            return _strip_prefix(_tensor_dict(content[key], path, key)), epoch, "official"
    if content and all(isinstance(v, torch.Tensor) for v in content.values()):
        return _strip_prefix(content), None, "official"
    raise UserError(f"{path}: no state dict found (expected a `state_dict` key, an osgnet-bench "
                    f"checkpoint, or a bare state dict); top-level keys: {sorted(map(str, content))[:10]}.")


def _tensor_dict(value: object, path: str | os.PathLike, key: str) -> dict[str, torch.Tensor]:
    if not isinstance(value, dict) or not all(isinstance(v, torch.Tensor) for v in value.values()):
        raise UserError(f"{path}: `{key}` is not a mapping of parameter names to tensors.")
    return dict(value)


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official names -> ours: drop a DDP ``module.`` prefix (the rest is the identity)."""
    return {k[len(DDP_PREFIX):] if k.startswith(DDP_PREFIX) else k: v for k, v in state.items()}


def official_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict without the entries official checkpoints never hold (see
    :func:`absent_from_official`), so the reference's strict loader accepts it."""
    return {k: v for k, v in state.items() if k != "loss_normalizer"}


def absent_from_official(model: nn.Module) -> dict[str, torch.Tensor]:
    """State our model keeps that official checkpoints never contain, at its starting value:
    the loss normaliser (the reference kept it as a python float, reset on every start)."""
    return {"loss_normalizer": torch.tensor(model.config.init_loss_normalizer, dtype=torch.float64)}


def check_state_dict(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor],
                     source: str) -> None:
    """Raise one UserError listing every missing, unexpected and mis-shaped key."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mis_shaped = [f"{k} (checkpoint {tuple(state[k].shape)}, model {tuple(expected[k].shape)})"
                  for k in expected if k in state and state[k].shape != expected[k].shape]
    problems = [(label, keys) for label, keys in (("missing", missing), ("unexpected", unexpected),
                                                   ("wrong shape", mis_shaped)) if keys]
    if problems:
        parts = []
        for label, keys in problems:
            listed = ", ".join(keys[:MAX_LISTED])
            more = f" and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED else ""
            parts.append(f"{len(keys)} {label}: {listed}{more}")
        raise UserError(f"{source}: checkpoint does not match the model config; " + "; ".join(parts)
                        + ". Check that --config is the config the checkpoint was trained with.")


def checked_state(model: nn.Module, path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], int | None, str]:
    """``read_checkpoint`` plus the strict check against ``model`` (which may be on the meta
    device); official files get the state they never contain at its starting value."""
    state, epoch, kind = read_checkpoint(path)
    state = {**absent_from_official(model), **state}
    check_state_dict(model.state_dict(), state, str(path))
    return state, epoch, kind


def load_checkpoint_into(model: nn.Module, path: str | os.PathLike) -> int | None:
    """Load an official or osgnet-bench checkpoint into ``model`` strictly; returns its epoch."""
    state, epoch, _ = checked_state(model, path)
    model.load_state_dict(state)
    return epoch


def convert_checkpoint(source: str | os.PathLike, model: nn.Module, out: str | os.PathLike) -> dict:
    """Check ``source`` against ``model`` and write it in our format to ``out`` atomically.

    Returns a summary: kind, epoch, number of tensors and of parameter values.
    """
    state, epoch, kind = checked_state(model, source)
    with atomic_writer(out, mode="wb") as handle:
        torch.save({"format": MODEL_FORMAT, "version": 1, "epoch": epoch, "state_dict": state}, handle)
    parameter_names = {name for name, _ in model.named_parameters()}
    return {"kind": kind, "epoch": epoch, "tensors": len(state),
            "parameters": sum(v.numel() for k, v in state.items() if k in parameter_names)}
