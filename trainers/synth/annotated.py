"""What the official-format writers need to know about one synthetic video and its queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from osgnet_bench.files import write_jsonl
from trainers.synth.scenes import Event, VideoPlan


@dataclass
class SynthQuery:
    """One query: its event, sentence, NLQ template and ``label`` list."""

    event: Event
    text: str
    template: str | None
    labels: list[dict]
    is_substep: bool = False


@dataclass
class SynthVideo:
    """One video of a split: its id (clip_uid / video_uid / TACoS id), plan and queries in order."""

    video_id: str
    plan: VideoPlan
    queries: list[SynthQuery]


@dataclass
class AnnotationFiles:
    """Where one track's annotation files were written, and the lemma rows of every split."""

    raw: dict[str, Path]  # split -> official raw JSON
    jsonl: dict[str, Path]  # split -> jsonl without labels
    lemma_jsonl: dict[str, Path]  # split -> jsonl with 'label'
    gt_file: Path  # the config's json_file (ground truth for metrics)
    rows: dict[str, list[dict]] = field(default_factory=dict)  # split -> lemma rows


def new_uid(rng: np.random.Generator) -> str:
    """A random (seeded) UUID4 string, like Ego4D's uids."""
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def seconds(cell: float, fps: float) -> float:
    """Cell position -> seconds on the 16-frame grid, rounded like the official files (5 decimals)."""
    return round(cell * 16.0 / fps, 5)


def write_rows(plain: Path, lemma: Path, rows: list[dict]) -> None:
    """Write the jsonl pair of one split (no trailing newline, as the reference's files)."""
    write_jsonl(lemma, rows, trailing_newline=False)
    write_jsonl(plain, [{k: v for k, v in row.items() if k != "label"} for row in rows], trailing_newline=False)
