"""Reading official OSGNet checkpoints and ours, strict loading, conversion, and the checksum
every checkpoint we write carries.

Our modules keep the reference's parameter names, so the name mapping is the identity after
removing a DistributedDataParallel ``module.`` prefix. Accepted inputs (see docs/model.md):

* official: ``{"epoch", "state_dict"}`` (the EMA weights, as the reference saves them), optionally
  ``state_dict_ema`` (preferred when present, as the reference's resume does), or a bare state dict;
  our official-layout exports add ``checksum``, ``track`` and ``config``, which the reference's
  loader ignores;
* ours: ``{"format": "osgnet-bench/model", "version": 1, "epoch", "state_dict"}``;
* a training state (``"format": "osgnet-bench/train-state"``, written by
  ``trainers.train.checkpoints``; ``"ema"`` preferred over ``"model"``).

Every file we write holds ``"checksum": "sha256:<hex>"`` over all its other content (names, types,
tensor dtypes, shapes and bytes), checked on every load: a flipped byte in a tensor is a clear
error instead of a silently changed weight. Official files have no checksum and load as before.
Weights holding NaN or infinity are refused. Loading is strict: every missing, unexpected or
mis-shaped key is reported in one ``UserError``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from osgnet_bench.errors import UserError
from osgnet_bench.files import atomic_writer
from trainers.model.osgnet import OSGNet

MODEL_FORMAT = "osgnet-bench/model"
TRAIN_STATE_FORMAT = "osgnet-bench/train-state"
# training states from version 2 on must carry a checksum (version 1 files predate it)
TRAIN_STATE_VERSION = 2
CHECKSUM_KEY = "checksum"
CHECKSUM_PREFIX = "sha256:"
DDP_PREFIX = "module."
MAX_LISTED = 20


@dataclass(frozen=True)
class CheckpointRecord:
    """What a checkpoint file holds for inference: the weights (``state``), the epoch, the kind
    (``official``, ``ours`` or ``train-state``) and, for files we wrote, the evaluation track and
    the resolved run config they were trained with (None when not recorded)."""

    state: dict[str, torch.Tensor]
    epoch: int | None
    kind: str
    track: str | None = None
    config: dict | None = None


def load_checkpoint_file(path: str | os.PathLike) -> dict:
    """The top-level dict of a ``torch.save`` file, read without unpickling code, its checksum
    verified when it has one; every way a file can be unreadable is a ``UserError``."""
    try:
        content = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such checkpoint file.") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a checkpoint file.") from None
    except PermissionError:
        raise UserError(f"{path}: cannot be read (permission denied).") from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to parse an untrusted file is the file's fault
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if reason.startswith("Weights only load failed"):
            reason = (
                "not a torch.save file, or it holds Python objects besides tensors and plain "
                "containers, which are not unpickled for safety"
            )
        elif isinstance(exc, (KeyError, IndexError, AttributeError, TypeError)):
            reason = "not a torch.save file"
        raise UserError(f"{path}: not a readable PyTorch checkpoint ({reason}).") from None
    if not isinstance(content, dict):
        raise UserError(f"{path}: expected a dict checkpoint, found {type(content).__name__}.")
    verify_checksum(content, path)
    return content


def read_checkpoint_record(path: str | os.PathLike) -> CheckpointRecord:
    """The weights in ``path`` with what the file says about them (see :class:`CheckpointRecord`)."""
    content = load_checkpoint_file(path)
    epoch = content.get("epoch") if isinstance(content.get("epoch"), int) else None
    track = content.get("track") if isinstance(content.get("track"), str) else None
    config = content.get("config") if isinstance(content.get("config"), dict) else None
    if content.get("format") == MODEL_FORMAT:
        state, kind = _tensor_dict(content.get("state_dict"), path, "state_dict"), "ours"
    elif content.get("format") == TRAIN_STATE_FORMAT:
        key = "ema" if isinstance(content.get("ema"), dict) else "model"
        if key not in content:
            raise UserError(
                f"{path}: this training state holds no `model` weights (keys: "
                f"{', '.join(sorted(map(str, content))[:10])}); it is incomplete or was not "
                "written by osgnet-bench. Use another checkpoint."
            )
        state, kind = _tensor_dict(content.get(key), path, key), "train-state"
    else:
        state, kind = _official_state(content, path), "official"
    check_finite(state, path)
    return CheckpointRecord(state, epoch, kind, track, config)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], int | None, str]:
    """The state dict in ``path``, its epoch (if recorded) and its kind (official / ours / train-state)."""
    record = read_checkpoint_record(path)
    return record.state, record.epoch, record.kind


def _official_state(content: dict, path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The weights of an official file: ``state_dict_ema``, ``state_dict`` or the bare dict itself."""
    for key in ("state_dict_ema", "state_dict"):
        if isinstance(content.get(key), dict):
            return _strip_prefix(_tensor_dict(content[key], path, key))
    if content and all(isinstance(v, torch.Tensor) for v in content.values()):
        return _strip_prefix(content)
    raise UserError(
        f"{path}: no state dict found (expected a `state_dict` key, an osgnet-bench "
        f"checkpoint, or a bare state dict); top-level keys: {sorted(map(str, content))[:10]}."
    )


def checksum(content: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` over everything in ``content`` but its checksum: every key, the type and
    value of every plain value, and the dtype, shape and bytes of every tensor, in a fixed order."""
    digest = hashlib.sha256()
    _feed(digest, {key: value for key, value in content.items() if key != CHECKSUM_KEY})
    return CHECKSUM_PREFIX + digest.hexdigest()


def with_checksum(content: Mapping[str, Any]) -> dict[str, Any]:
    """``content`` plus its :func:`checksum` under ``checksum``."""
    return {**content, CHECKSUM_KEY: checksum(content)}


def verify_checksum(content: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Raise a ``UserError`` when ``content`` does not match the checksum it carries, or when a
    training state of a version that always carries one has none."""
    recorded = content.get(CHECKSUM_KEY)
    if recorded is None:
        version = content.get("version")
        if content.get("format") == TRAIN_STATE_FORMAT and not (version is None or version == 1):
            raise UserError(
                f"{path}: this training state has no checksum although its version ({version!r}) "
                "always carries one; the file is damaged. Use another checkpoint (best.pt, or a "
                "backup copy)."
            )
        return
    if recorded != checksum(content):
        raise UserError(
            f"{path}: checksum mismatch: the tensors in this file are not the ones that were saved "
            "(it was damaged on disk or in a copy). The file is left as it is; use another "
            "checkpoint (best.pt, or a backup copy)."
        )


def _feed(digest: Any, value: Any) -> None:
    """Add ``value`` to ``digest`` unambiguously (type tags and lengths before contents)."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().to("cpu").contiguous()
        digest.update(f"tensor {tensor.dtype} {tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, Mapping):
        digest.update(f"dict {len(value)};".encode())
        for key in sorted(value, key=repr):
            digest.update(f"{key!r}:".encode())
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__} {len(value)};".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__} {value!r};".encode())


def check_finite(state: Mapping[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Refuse weights holding NaN or infinity, naming the tensors."""
    bad = [
        name for name, tensor in state.items() if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if bad:
        listed = ", ".join(bad[:MAX_LISTED]) + (f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else "")
        raise UserError(
            f"{path}: {len(bad)} tensor(s) hold NaN or infinite values: {listed}. These weights cannot "
            "predict anything; use an earlier checkpoint of the run."
        )


def _tensor_dict(value: object, path: str | os.PathLike, key: str) -> dict[str, torch.Tensor]:
    if not isinstance(value, dict) or not all(isinstance(v, torch.Tensor) for v in value.values()):
        raise UserError(f"{path}: `{key}` is not a mapping of parameter names to tensors.")
    return dict(value)


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official names -> ours: drop a DDP ``module.`` prefix (the rest is the identity)."""
    return {k[len(DDP_PREFIX) :] if k.startswith(DDP_PREFIX) else k: v for k, v in state.items()}


def official_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict without the entries official checkpoints never hold (see
    :func:`absent_from_official`), so the reference's strict loader accepts it."""
    return {k: v for k, v in state.items() if k != "loss_normalizer"}


def absent_from_official(model: OSGNet) -> dict[str, torch.Tensor]:
    """State our model keeps that official checkpoints never contain, at its starting value:
    the loss normaliser (the reference kept it as a python float, reset on every start)."""
    return {"loss_normalizer": torch.tensor(model.config.init_loss_normalizer, dtype=torch.float64)}


def check_state_dict(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], source: str) -> None:
    """Raise one UserError listing every missing, unexpected and mis-shaped key."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mis_shaped = [
        f"{k} (checkpoint {tuple(state[k].shape)}, model {tuple(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = [
        (label, keys)
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mis_shaped))
        if keys
    ]
    if problems:
        parts = []
        for label, keys in problems:
            listed = ", ".join(keys[:MAX_LISTED])
            more = f" and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED else ""
            parts.append(f"{len(keys)} {label}: {listed}{more}")
        raise UserError(
            f"{source}: checkpoint does not match the model config; "
            + "; ".join(parts)
            + ". Check that --config is the config the checkpoint was trained with."
        )


def checked_record(model: OSGNet, path: str | os.PathLike) -> CheckpointRecord:
    """``read_checkpoint_record`` plus the strict check against ``model`` (which may be on the meta
    device); official files get the state they never contain at its starting value."""
    record = read_checkpoint_record(path)
    state = {**absent_from_official(model), **record.state}
    check_state_dict(model.state_dict(), state, str(path))
    return dataclasses.replace(record, state=state)


def checked_state(model: OSGNet, path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], int | None, str]:
    """:func:`checked_record` as ``(state, epoch, kind)``."""
    record = checked_record(model, path)
    return record.state, record.epoch, record.kind


def load_checkpoint_into(model: OSGNet, path: str | os.PathLike) -> int | None:
    """Load an official or osgnet-bench checkpoint into ``model`` strictly; returns its epoch."""
    state, epoch, _ = checked_state(model, path)
    model.load_state_dict(state)
    return epoch


def convert_checkpoint(source: str | os.PathLike, model: OSGNet, out: str | os.PathLike) -> dict:
    """Check ``source`` against ``model`` and write it in our format to ``out`` atomically.

    The track and config the source records (if any) are kept. Returns a summary: kind, epoch,
    number of tensors and of parameter values.
    """
    record = checked_record(model, source)
    state = record.state
    recorded = {key: value for key, value in (("track", record.track), ("config", record.config)) if value is not None}
    content = with_checksum(
        {"format": MODEL_FORMAT, "version": 1, "epoch": record.epoch, "state_dict": state, **recorded}
    )
    with atomic_writer(out, mode="wb") as handle:
        torch.save(content, handle)
    parameter_names = {name for name, _ in model.named_parameters()}
    return {
        "kind": record.kind,
        "epoch": record.epoch,
        "tensors": len(state),
        "parameters": sum(v.numel() for k, v in state.items() if k in parameter_names),
    }
