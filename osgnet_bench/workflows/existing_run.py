"""What ``run`` does with a run directory that already holds a training run.

The run's ``config.yaml`` records the resolved config its weights were trained with, so it is
compared with the config of the new invocation before anything is written:

- nothing there: train from scratch;
- same config, finished (``summary.json`` says so): reuse the weights, no training;
- same config, unfinished (``checkpoints/last.pt``, not finished): resume it;
- same config, stopped before its first checkpoint: train anew if only its ``config.yaml`` is
  there, else refused (its log would mix two runs);
- another config: refused, naming the differing keys; ``--resume auto`` continues the run under
  the new config instead (a finished run only when the new config trains more epochs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from osgnet_bench.errors import UserError
from trainers.config import RunConfig
from trainers.train.checkpoints import LAST, checkpoint_path
from trainers.train.run_dir import CONFIG_FILE, SUMMARY, run_finished, run_traces

MAX_SHOWN = 8


class _Absent:
    """Stands for a key one document lacks."""

    def __repr__(self) -> str:
        return "absent"


ABSENT = _Absent()


class Training(str, Enum):
    """What happens to the training part of a ``run``."""

    TRAIN = "trained"  # a new run from scratch
    RESUME = "resumed"  # an unfinished run continued from checkpoints/last.pt
    REUSE = "reused"  # a finished run with the same config: its weights, no training
    SKIP = "skipped"  # --checkpoint given: no training at all


@dataclass(frozen=True)
class TrainingPlan:
    """The decision, and the line that tells the user about it (None for a plain new run)."""

    training: Training
    message: str | None = None


def plan_training(run_dir: Path, config: RunConfig, resume: str | None, checkpoint: str | None) -> TrainingPlan:
    """Decide what to do with ``run_dir`` for ``config`` (see the module docstring); raises
    ``UserError`` when the directory may be neither reused nor continued."""
    if resume is not None and resume != "auto":
        raise UserError(f"--resume takes only `auto` (continue the run in --out), got {resume!r}.")
    if resume is not None and checkpoint is not None:
        raise UserError("--resume continues training and --checkpoint skips it; give only one.")
    if not run_traces(run_dir):
        if resume is not None:
            raise UserError(f"--resume auto: {run_dir} holds no training run to continue; drop --resume to start one.")
        return TrainingPlan(Training.SKIP if checkpoint is not None else Training.TRAIN)
    recorded = recorded_config(run_dir)
    if recorded is None:
        raise UserError(
            f"{run_dir} holds a training run without its {CONFIG_FILE}, so whether its weights fit this "
            "config cannot be told; it is left as it is. Choose another --out."
        )
    finished, last = run_finished(run_dir), checkpoint_path(run_dir, LAST)
    changed = config_differences(recorded, config.document)
    shown = describe_changes(changed, recorded, config.document)
    if changed and resume is None:
        raise UserError(
            f"{run_dir} holds a {'finished' if finished else 'unfinished'} training run whose "
            f"{CONFIG_FILE} differs from this config in {shown}. Its files are left as they are: choose "
            "another --out for a new run, or pass --resume auto to continue this run under the new config."
        )
    if checkpoint is not None:
        return TrainingPlan(Training.SKIP)
    if finished:
        if not changed:
            return TrainingPlan(
                Training.REUSE,
                f"reusing the finished run in {run_dir} (same config as its "
                f"{CONFIG_FILE}): no training, its weights predict and are scored "
                "again (choose another --out to train anew).",
            )
        trained = finished_epochs(run_dir / SUMMARY)
        if trained is not None and trained >= config.optim.total_epochs:
            raise UserError(
                f"--resume auto: the run in {run_dir} already trained {trained} epoch(s) and the new "
                f"config trains {config.optim.total_epochs}, so there is nothing to continue and its "
                f"weights would not match the changed config ({shown}). Raise opt.epochs to train it "
                "further, or choose another --out."
            )
        return TrainingPlan(
            Training.RESUME, f"continuing the finished run in {run_dir} under a changed config: {shown}."
        )
    if not last.exists():
        traces = run_traces(run_dir, config.document)
        if traces:
            raise UserError(
                f"{run_dir} holds files of a run ({', '.join(traces[:MAX_SHOWN])}) but no {last} to "
                "continue from (it stopped before its first checkpoint); they are left as they are. "
                "Choose another --out, or move those files away to start over."
            )
        return TrainingPlan(Training.TRAIN)
    if changed:
        return TrainingPlan(
            Training.RESUME, f"resuming the unfinished run in {run_dir} from {last} under a changed config: {shown}."
        )
    return TrainingPlan(Training.RESUME, f"resuming the unfinished run in {run_dir} from {last} (same config).")


def recorded_config(run_dir: Path) -> dict | None:
    """The resolved config a run in ``run_dir`` recorded, or None when there is none."""
    path = run_dir / CONFIG_FILE
    if not path.exists():
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(
            f"{path}: the recorded config of the run in {run_dir} cannot be read ({exc}); it is left as "
            "it is. Choose another --out."
        ) from None
    if not isinstance(document, dict):
        raise UserError(
            f"{path}: the recorded config of the run in {run_dir} is not a YAML mapping; it is left as "
            "it is. Choose another --out."
        )
    return document


def finished_epochs(summary: Path) -> int | None:
    """The epochs a finished run trained, from its ``summary.json`` (None if unreadable)."""
    try:
        epochs = json.loads(summary.read_text(encoding="utf-8")).get("epochs")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return epochs if isinstance(epochs, int) else None


def config_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys (list items by index) whose values differ between two config documents."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            key
            for name in sorted(old.keys() | new.keys(), key=str)
            for key in config_differences(old.get(name, ABSENT), new.get(name, ABSENT), f"{prefix}{name}.")
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            key
            for index, (a, b) in enumerate(zip(old, new, strict=True))
            for key in config_differences(a, b, f"{prefix}{index}.")
        ]
    return [] if old == new and type(old) is type(new) else [prefix.rstrip(".")]


def describe_changes(keys: list[str], old: dict, new: dict) -> str:
    """``key (recorded -> now)`` for the first few differing keys."""
    shown = ", ".join(
        f"{key} ({_value_at(old, key)!r} recorded, {_value_at(new, key)!r} now)" for key in keys[:MAX_SHOWN]
    )
    return shown + (f" and {len(keys) - MAX_SHOWN} more key(s)" if len(keys) > MAX_SHOWN else "")


def _value_at(document: Any, key: str) -> Any:
    node = document
    for part in key.split("."):
        if isinstance(node, dict):
            node = node.get(part, ABSENT)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return ABSENT
    return node
