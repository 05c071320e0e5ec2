"""What is in a store: kind, entry count, sample keys, dtypes and shape statistics, and which
ids an annotation file needs that the store lacks (``osgnet-bench features inspect``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from trainers.data.captions import CaptionSource
from trainers.data.codecs import DecodeError, decode_detections, npz_member_header
from trainers.data.lmdb_store import LmdbReader
from trainers.data.stores import TEXT_ARRAYS, VIDEO_ARRAYS, load_class_table

SAMPLE_KEYS = 5


@dataclass
class StoreReport:
    """The facts ``features inspect`` prints; ``stats`` are (label, value) rows."""

    path: Path
    kind: str
    entries: int
    sample_keys: list[str]
    stats: list[tuple[str, str]] = field(default_factory=list)
    needed: int | None = None
    missing: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        rows = [("path", str(self.path)), ("kind", self.kind), ("entries", str(self.entries)),
                ("sample keys", ", ".join(self.sample_keys) or "-"), *self.stats]
        if self.needed is not None:
            shown = ", ".join(self.missing[:SAMPLE_KEYS]) + (" ..." if len(self.missing) > SAMPLE_KEYS else "")
            counts = f"{self.needed} needed, {len(self.missing)} missing"
            rows.append(("annotation ids", counts + (f": {shown}" if shown else "")))
        width = max(len(label) for label, _ in rows)
        return [f"{label.ljust(width)}  {value}" for label, value in rows]


def detect_kind(path: Path) -> str:
    """Guess a store's kind from its layout and first value."""
    if path.is_file() and path.suffix == ".pt":
        return "classnames"
    if path.is_file() and path.suffix == ".zip":
        return "captions"
    if path.is_dir() and not (path / "data.mdb").exists():
        return "captions"
    reader = LmdbReader(path, "feature")
    first = next(reader.items(), None)
    if first is None:
        raise UserError(f"feature store {path}: empty LMDB; pass --kind to say what it should hold.")
    key, value = first
    if value[:2] != b"PK":
        return "objects"
    try:
        name, _, _ = npz_member_header(value, TEXT_ARRAYS)
    except DecodeError as exc:
        raise UserError(f"feature store {path}: the value of key {key!r} is corrupted: {exc}.") from None
    return "text" if name == "token_features" else "video"


def inspect_store(
    path: str | os.PathLike, kind: str | None = None, records: Sequence[QueryRecord] | None = None
) -> StoreReport:
    """Describe the store at ``path``; with ``records``, also list the ids they need that it lacks."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such store (LMDB directory, class-name .pt, caption directory or zip).")
    kind = kind or detect_kind(path)
    inspectors = {
        "video": _dense, "text": _dense, "objects": _objects, "classnames": _classnames, "captions": _captions,
    }
    report, keys = inspectors[kind](path, kind)
    if records is not None and kind != "classnames":
        needed = [r.query_id for r in records] if kind == "text" else [r.video_id for r in records]
        needed = list(dict.fromkeys(needed))
        present = set(keys)
        report.needed = len(needed)
        report.missing = [k for k in needed if k not in present]
    return report


def _dense(path: Path, kind: str) -> tuple[StoreReport, list[str]]:
    reader = LmdbReader(path, f"{kind}-feature")
    names = TEXT_ARRAYS if kind == "text" else VIDEO_ARRAYS
    keys, lengths, dims, dtypes, arrays = [], [], set(), set(), set()
    for key, value in reader.items():
        try:
            name, shape, dtype = npz_member_header(value, names)
        except DecodeError as exc:
            raise UserError(f"{kind}-feature store {path}: the value of key {key!r} is corrupted: {exc}.") from None
        keys.append(key)
        lengths.append(shape[0] if len(shape) == 2 else 1)
        dims.add(shape[-1] if shape else 0)
        dtypes.add(str(dtype))
        arrays.add(name)
    steps = "tokens" if kind == "text" else "steps"
    report = StoreReport(path, f"{kind} features (npz '{'/'.join(sorted(arrays))}')", len(keys), keys[:SAMPLE_KEYS])
    report.stats = [("dtype", ", ".join(sorted(dtypes)) or "-"), ("dim", ", ".join(map(str, sorted(dims))) or "-"),
                    (steps, _summary(lengths))]
    return report, keys


def _objects(path: Path, kind: str) -> tuple[StoreReport, list[str]]:
    reader = LmdbReader(path, "object")
    keys, lengths, per_step, classes = [], [], [], set()
    for key, value in reader.items():
        try:
            steps = decode_detections(value)
        except DecodeError as exc:
            raise UserError(f"object store {path}: the value of key {key!r} is corrupted: {exc}.") from None
        keys.append(key)
        lengths.append(len(steps))
        per_step.extend(len(step) for step in steps)
        for step in steps:
            classes.update(int(c) for c in step)
    report = StoreReport(path, "object detections (pickled per-step {class_id: score})", len(keys), keys[:SAMPLE_KEYS])
    report.stats = [("steps", _summary(lengths)), ("classes per step", _summary(per_step)),
                    ("distinct classes", _class_summary(classes))]
    return report, keys


def _classnames(path: Path, kind: str) -> tuple[StoreReport, list[str]]:
    table = load_class_table(path)
    report = StoreReport(path, "class-name embedding table (.pt)", int(table.shape[0]), [])
    report.stats = [("dtype", str(table.dtype).replace("torch.", "")), ("shape", "x".join(map(str, table.shape)))]
    return report, []


def _captions(path: Path, kind: str) -> tuple[StoreReport, list[str]]:
    source = CaptionSource(path)
    keys = source.video_ids()
    counts = [len(source.read(key)) for key in keys]
    where = "zip archive" if source.is_zip else "directory"
    report = StoreReport(path, f"LaViLa captions ({where} of {{video_id}}.json)", len(keys), keys[:SAMPLE_KEYS])
    report.stats = [("records per video", _summary(counts))]
    return report, keys


def _class_summary(classes: set[int]) -> str:
    return f"{len(classes)} (ids {min(classes)}-{max(classes)})" if classes else "0"


def _summary(values: Sequence[int]) -> str:
    if not values:
        return "-"
    array = np.asarray(values)
    return f"min {array.min()}, mean {array.mean():.1f}, max {array.max()}"
