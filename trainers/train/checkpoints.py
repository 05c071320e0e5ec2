"""Where a checkpoint is written and read: training states, the official export, the order in
which a save commits its files, and how a start brings the run directory level after a kill.

A training state (``checkpoints/last.pt``, ``checkpoints/best.pt``) is a ``torch.save`` dict::

    {"format": "osgnet-bench/train-state", "version": 2,
     "model": state_dict, "ema": state_dict, "optimizer": ..., "schedule": ...,
     "epoch": int,            # epochs fully completed (= the 1-based number of the last one)
     "iteration": int,        # optimiser steps taken in total
     "epoch_iteration": int,  # optimiser steps taken inside the current epoch
     "progress": {...},       # the counters above, best metric and epoch, per-epoch history
                              # (best_epoch and history[].epoch: 0-based indices; users see them + 1)
     "rng": [...],            # every rank's generators
     "world_size": int, "config": dict, "track": str, "total_epochs": int, "metrics": dict | None,
     "checksum": "sha256:..."}

The official export (``*_official.pth.tar``) is ``{"epoch": int, "state_dict": ema_state_dict}``
(``epoch``: the 0-based index of the last epoch trained, as the reference saves it),
the layout the reference saves and loads, plus ``checksum``, ``track`` and ``config``, which the
reference's loader (``checkpoint["state_dict"]``) ignores. Every file is written to a temporary
file, flushed, fsynced and renamed, so a reader never sees half a file.

**Commit order.** A save writes, one atomic rename each, ``last.pt`` -> ``last_official`` (epoch
ends) -> ``best.pt`` -> ``best_official`` (new best) -> ``summary.json`` -> the ``val`` event of
``log.jsonl`` (epoch ends). ``last.pt`` is the commit record: once it is renamed the save has
happened, and every later file is a function of it. A kill between two renames leaves the later
files one save behind; the next start (``--resume auto`` or a torchrun restart) finds that,
redoes exactly the missing steps from ``last.pt`` (:func:`recover`), and only then trains, so
``best.pt``, ``summary.json``, the log and ``last.pt`` agree about the best model whenever training
runs. A kill before ``last.pt`` is renamed leaves the previous save whole.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import torch

from osgnet_bench.errors import UserError
from osgnet_bench.tracks import get_track
from trainers.model.checkpoint import (
    CHECKSUM_KEY,
    TRAIN_STATE_FORMAT,
    TRAIN_STATE_VERSION,
    load_checkpoint_file,
    official_state_dict,
    with_checksum,
)
from trainers.train import faults
from trainers.train.run_dir import CHECKPOINT_DIR, SUMMARY, RunLogger, read_events

STATE_FORMAT = TRAIN_STATE_FORMAT
LAST = "last.pt"
BEST = "best.pt"
LAST_OFFICIAL = "last_official.pth.tar"
BEST_OFFICIAL = "best_official.pth.tar"
# what resuming reads from a training state
RESUME_KEYS = ("model", "ema", "optimizer", "schedule", "progress", "rng")


def shown_epoch(index: int | None) -> int | None:
    """The 1-based epoch number users see (console, ``log.jsonl``, ``summary.json``) of the 0-based
    epoch index a training state stores (``progress.best_epoch``, ``progress.history[].epoch``)."""
    return None if index is None else index + 1


def checkpoint_path(run_dir: str | os.PathLike, name: str) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / name


def rng_state() -> dict[str, Any]:
    """Every random generator the training loop draws from, as tensors and plain values only, so
    that a training state loads with ``torch.load(weights_only=True)``."""
    name, keys, pos, has_gauss, cached_gaussian = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state())
    state = {
        "python": random.getstate(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state` (CUDA states only when CUDA is present)."""
    random.setstate(tuple(state["python"]))
    saved = state["numpy"]
    np.random.set_state(
        (
            saved["name"],
            saved["keys"].numpy().astype(np.uint32),
            saved["pos"],
            saved["has_gauss"],
            saved["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def to_cpu(value: Any) -> Any:
    """``value`` with every tensor inside it on the CPU (what is saved and checksummed)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cpu(item) for item in value)
    return value


def training_state_content(state: dict[str, Any]) -> dict[str, Any]:
    """What a training-state file holds for ``state``: format marker, version, checksum."""
    return with_checksum({"format": STATE_FORMAT, "version": TRAIN_STATE_VERSION, **to_cpu(state)})


def export_content(
    epoch: int, ema_state: dict[str, torch.Tensor], track: str | None = None, config: dict | None = None
) -> dict[str, Any]:
    """The official-layout export of EMA weights: ``{"epoch", "state_dict"}`` plus what we record."""
    recorded = {key: value for key, value in (("track", track), ("config", config)) if value is not None}
    return with_checksum({"epoch": int(epoch), "state_dict": official_state_dict(to_cpu(ema_state)), **recorded})


def save_training_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write a training-state dict (see the module docstring) atomically."""
    save_file(Path(path), training_state_content(state))


def export_official(
    path: str | os.PathLike,
    epoch: int,
    ema_state: dict[str, torch.Tensor],
    track: str | None = None,
    config: dict | None = None,
) -> None:
    """Write EMA weights in the reference's ``{"epoch", "state_dict"}`` layout (atomically)."""
    save_file(Path(path), export_content(epoch, ema_state, track, config))


def load_training_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a training-state file (checksum verified) that holds everything a resume needs."""
    content = load_checkpoint_file(path)
    if content.get("format") != STATE_FORMAT:
        raise UserError(
            f"{path}: not an osgnet-bench training-state checkpoint (no 'format' marker); a run can "
            "only continue from a last.pt or best.pt written by `osgnet-bench train`."
        )
    missing = [key for key in RESUME_KEYS if key not in content]
    if missing:
        raise UserError(
            f"{path}: this training state lacks {', '.join(missing)}, so a run cannot continue from it "
            "(it is incomplete or was not written by osgnet-bench train). Use another checkpoint."
        )
    return content


def save_file(path: Path, content: Any) -> None:
    """``torch.save`` ``content`` to ``path`` atomically (see :func:`commit_file`)."""
    commit_file(path, lambda handle: torch.save(content, handle))


def commit_file(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write a temporary file next to ``path`` with ``write``, flush, fsync, rename it over
    ``path`` and fsync the folder. Fault points before the write, before the rename (a kill there
    leaves the temporary file, removed on the next start) and after it. A write error (a full
    disk) is a ``UserError``; the previous ``path`` is then untouched."""
    name = f"{path.parent.name}/{path.name}" if path.parent.name == CHECKPOINT_DIR else path.name
    faults.point("save.before_write", name=name)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    writer: _RecordingWriter | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "xb") as handle:
            writer = _RecordingWriter(handle)
            write(cast(IO[bytes], writer))
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        error = exc if isinstance(exc, OSError) else (writer.error if writer is not None else None)
        if error is None:
            raise
        raise _write_error(path, error) from None
    faults.point("save.before_rename", name=name)
    try:
        os.replace(temporary, path)
        _fsync_folder(path.parent)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise _write_error(path, exc) from None
    faults.point("save.after_rename", name=name)


class _RecordingWriter:
    """A binary file that keeps the error of a failed write: ``torch.save`` reports one (a full
    disk) as a ``RuntimeError`` about a stream position, which would hide the reason."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.handle.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.handle.flush()


def _write_error(path: Path, exc: OSError) -> UserError:
    previous = "the previous file is intact" if path.exists() else "no file was created"
    return UserError(
        f"{path}: could not be written ({exc.strerror or exc}); {previous}. Free some space (or fix the "
        "folder's permissions) and continue with --resume auto."
    )


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_save(
    run_dir: Path,
    content: dict[str, Any],
    epoch_end: bool,
    improved: bool,
    logger: RunLogger,
    val_values: dict[str, Any] | None = None,
) -> None:
    """Write one save in the commit order of the module docstring. ``content`` is a
    :func:`training_state_content`; ``val_values`` extra fields of the ``val`` event."""
    save_file(checkpoint_path(run_dir, LAST), content)
    if epoch_end:
        save_file(checkpoint_path(run_dir, LAST_OFFICIAL), state_export(content))
    if improved:
        save_file(checkpoint_path(run_dir, BEST), content)
        save_file(checkpoint_path(run_dir, BEST_OFFICIAL), state_export(content))
    if epoch_end:
        write_summary(run_dir, content)
        entry = content["progress"]["history"][-1]
        if entry["metrics"] is not None:
            logger.event(
                "val", entry["iteration"], epoch=shown_epoch(entry["epoch"]), **(val_values or {}), **entry["metrics"]
            )


def state_export(content: dict[str, Any]) -> dict[str, Any]:
    """The official export of a training state's EMA weights (epoch: the last one trained)."""
    return export_content(
        max(content["progress"]["epoch"] - 1, 0), content["ema"], content.get("track"), content.get("config")
    )


def summary_of(run_dir: Path, content: dict[str, Any]) -> dict[str, Any]:
    """``summary.json`` for the training state ``content`` of ``run_dir``."""
    progress = content["progress"]
    best = checkpoint_path(run_dir, BEST)
    track = content["track"]
    return {
        "track": track,
        "epochs": progress["epoch"],
        "total_epochs": content["total_epochs"],
        "iterations": progress["iteration"],
        "world_size": content["world_size"],
        "best_metric": progress["best_metric"],
        "best_epoch": shown_epoch(progress["best_epoch"]),
        "ranked_by": get_track(track).rank_metric_name,
        "last_checkpoint": str(checkpoint_path(run_dir, LAST)),
        "best_checkpoint": str(best) if best.exists() else None,
        "history": [{**entry, "epoch": shown_epoch(entry["epoch"])} for entry in progress["history"]],
        "finished": progress["epoch"] >= content["total_epochs"],
    }


def summary_text(run_dir: Path, content: dict[str, Any]) -> str:
    return json.dumps(summary_of(run_dir, content), indent=2) + "\n"


def write_summary(run_dir: Path, content: dict[str, Any]) -> None:
    text = summary_text(run_dir, content)
    commit_file(run_dir / SUMMARY, lambda handle: handle.write(text.encode("utf-8")))


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def recover(run_dir: Path, content: dict[str, Any], logger: RunLogger) -> list[str]:
    """Redo the steps of the last save that a kill cut short (see the module docstring), given
    ``content``, the run's ``last.pt``; returns the files redone (logged as a ``recovered`` event).

    Only an epoch-end save writes files after ``last.pt``; after a mid-epoch save (or after a
    completed one) nothing is missing.
    """
    progress = content["progress"]
    if progress["epoch_iteration"] != 0 or progress["epoch"] == 0:
        return []
    if "track" not in content or "total_epochs" not in content:
        return []  # written by a version without this commit order: nothing to redo from it
    redone = []
    export = state_export(content)
    files = [(LAST_OFFICIAL, export)]
    if progress["best_epoch"] is not None and progress["best_epoch"] == progress["epoch"] - 1:
        files += [(BEST, content), (BEST_OFFICIAL, export)]  # this save found a new best
    for name, expected in files:
        path = checkpoint_path(run_dir, name)
        if recorded_checksum(path) != expected[CHECKSUM_KEY]:
            save_file(path, expected)
            redone.append(f"{CHECKPOINT_DIR}/{name}")
    if _read_text(run_dir / SUMMARY) != summary_text(run_dir, content):
        write_summary(run_dir, content)
        redone.append(SUMMARY)
    logged = {event.get("epoch") for event in read_events(run_dir) if event.get("event") == "val"}
    for entry in progress["history"]:
        epoch = shown_epoch(entry["epoch"])
        if entry["metrics"] is not None and epoch not in logged:
            logger.event("val", entry["iteration"], epoch=epoch, recovered=True, **entry["metrics"])
            redone.append(f"log.jsonl (val, epoch {epoch})")
    if redone:
        logger.event("recovered", progress["iteration"], files=redone)
    return redone


def recorded_checksum(path: Path) -> str | None:
    """The checksum ``path`` records (its tensors are not read), or None if it has none or cannot be read."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - a missing, cut or foreign file simply does not match
        return None
    value = content.get(CHECKSUM_KEY) if isinstance(content, dict) else None
    return value if isinstance(value, str) else None
