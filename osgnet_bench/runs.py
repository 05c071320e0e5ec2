"""The runs ``osgnet-bench compare`` reads: prediction files, EvalAI submissions or checkpoints.

A checkpoint (``.pt``, ``.pth``, ``.tar``) is first turned into a predictions file by running
``osgnet-bench infer`` in a separate process, so this module never imports torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from osgnet_bench.errors import UserError
from osgnet_bench.predictions import Prediction, read_predictions

CHECKPOINT_SUFFIXES: tuple[str, ...] = (".pt", ".pth", ".tar")
NAME_SUFFIXES: tuple[str, ...] = (".pth.tar", ".jsonl", ".json", *CHECKPOINT_SUFFIXES)
STDERR_TAIL_CHARS = 2000


@dataclass(frozen=True)
class Run:
    """One compared run: its display ``name``, the ``path`` given and its predictions."""

    name: str
    path: str
    predictions: list[Prediction]


def is_checkpoint(path: str | os.PathLike) -> bool:
    """True for a model checkpoint (by extension), which must be run through inference first."""
    return Path(path).suffix.lower() in CHECKPOINT_SUFFIXES


def run_name(path: str) -> str:
    """A file's name without its extension (``best_official.pth.tar`` -> ``best_official``)."""
    name = Path(path).name
    suffix = next((s for s in NAME_SUFFIXES if name.lower().endswith(s) and len(name) > len(s)), None)
    return name[: -len(suffix)] if suffix else Path(path).stem


def run_names(paths: Sequence[str]) -> list[str]:
    """Short names: each file's name without its extension, or the whole path where two clash."""
    stems = [run_name(path) for path in paths]
    counts = Counter(stems)
    return [stem if counts[stem] == 1 else path for stem, path in zip(stems, paths, strict=True)]


def load_runs(
    paths: Sequence[str], workdir: str | os.PathLike, config: str | None = None, split: str = "val"
) -> list[Run]:
    """Read every run; checkpoints are inferred on ``split`` with ``config`` into ``workdir``."""
    if len(set(paths)) != len(paths):
        repeated = sorted(path for path, count in Counter(paths).items() if count > 1)
        raise UserError(f"run {repeated[0]!r} is given more than once; give each run once.")
    runs: list[Run] = []
    for name, path in zip(run_names(paths), paths, strict=True):
        source = path
        if is_checkpoint(path):
            if config is None:
                raise UserError(f"{path}: is a checkpoint, so --config CONFIG is needed to run inference on it first.")
            source = str(Path(workdir) / f"run{len(runs)}_{Path(path).stem}.jsonl")
            infer_checkpoint(config, path, split, source)
        runs.append(Run(name=name, path=path, predictions=read_predictions(source)))
    return runs


def infer_checkpoint(config: str, checkpoint: str, split: str, out: str) -> None:
    """Run ``osgnet-bench infer`` on ``checkpoint`` in a child process, writing ``out``."""
    command = [sys.executable, "-m", "osgnet_bench", "infer", "--config", config, "--checkpoint", checkpoint]
    command += ["--split", split, "--out", out]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip()[-STDERR_TAIL_CHARS:]
        raise UserError(
            f"{checkpoint}: inference failed (osgnet-bench infer exited with {completed.returncode}): {detail}"
        )
    if not Path(out).is_file():
        raise UserError(f"{checkpoint}: osgnet-bench infer finished but wrote no predictions file {out}.")
