"""What is in a store: kind, entry count, sample keys, dtypes and shape statistics, and which
ids an annotation file needs that the store lacks (``osgnet-bench features inspect``).

Building the report reads every value the way the readers do, so a store that reports cleanly
can be trained on; any damage is a ``UserError`` naming the store and the key."""

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
from trainers.data.lmdb_meta import has_lmdb_magic
from trainers.data.lmdb_store import LmdbReader
from trainers.data.stores import TEXT_ARRAYS, VIDEO_ARRAYS, dense_shape_problem, load_class_table

SAMPLE_KEYS = 5
_PICKLE_PROTOCOL_2_OR_LATER = b"\x80"  # the PROTO opcode that starts every pickle of protocol 2 or later


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
        rows = [
            ("path", str(self.path)),
            ("kind", self.kind),
            ("entries", str(self.entries)),
            ("sample keys", ", ".join(self.sample_keys) or "-"),
            *self.stats,
        ]
        if self.needed is not None:
            shown = ", ".join(self.missing[:SAMPLE_KEYS]) + (" ..." if len(self.missing) > SAMPLE_KEYS else "")
            counts = f"{self.needed} needed, {len(self.missing)} missing"
            rows.append(("annotation ids", counts + (f": {shown}" if shown else "")))
        width = max(len(label) for label, _ in rows)
        return [f"{label.ljust(width)}  {value}" for label, value in rows]


EXPECTED_STORES = (
    "an LMDB store (a directory holding data.mdb, or an LMDB file), a LaViLa caption directory of "
    "{video_id}.json files, a caption .zip or a class-name table .pt"
)


def detect_kind(path: Path) -> str:
    """The kind of the store at ``path``, from evidence only: a ``.pt`` or ``.zip`` file, an LMDB
    meta page, caption ``.json`` files, and for LMDB the first value (an npz archive or a pickle)."""
    if path.is_file() and path.suffix == ".pt":
        return "classnames"
    if path.is_file() and path.suffix == ".zip":
        return "captions"
    if path.is_dir() and not (path / "data.mdb").exists():
        if any(path.glob("*.json")):
            return "captions"
        raise UserError(f"{path}: not a feature store: {_describe_directory(path)}; expected {EXPECTED_STORES}.")
    if path.is_file() and not has_lmdb_magic(path):
        raise UserError(f"{path}: not a feature store: it is not LMDB data; expected {EXPECTED_STORES}.")
    reader = LmdbReader(path, "feature")
    first = next(reader.items(), None)
    if first is None:
        raise UserError(f"feature store {path}: empty LMDB; pass --kind to say what it should hold.")
    key, value = first
    if value[:1] == _PICKLE_PROTOCOL_2_OR_LATER:
        return "objects"
    try:
        info = npz_member_header(value, TEXT_ARRAYS)
    except DecodeError as exc:
        raise UserError(
            f"feature store {path}: the value of key {key!r} is neither an npz archive of features nor a pickled "
            f"detection list ({exc}); pass --kind to say what the store should hold."
        ) from None
    return "text" if info.name == "token_features" else "video"


def _describe_directory(path: Path) -> str:
    entries = sorted(entry.name for entry in path.iterdir())
    if not entries:
        return "the directory is empty"
    shown = ", ".join(entries[:SAMPLE_KEYS]) + (" ..." if len(entries) > SAMPLE_KEYS else "")
    return f"the directory holds {len(entries)} entries ({shown}) but no data.mdb and no .json file"


def inspect_store(
    path: str | os.PathLike,
    kind: str | None = None,
    records: Sequence[QueryRecord] | None = None,
    quick: bool = False,
) -> StoreReport:
    """Describe the store at ``path``; with ``records``, also list the ids they need that it lacks.

    Every value is decoded and checked as the readers would (dense values are decompressed in
    chunks and checked against their CRC); ``quick`` reads only the npz headers of dense values."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such store (LMDB directory, class-name .pt, caption directory or zip).")
    kind = kind or detect_kind(path)
    inspectors = {
        "video": _dense,
        "text": _dense,
        "objects": _objects,
        "classnames": _classnames,
        "captions": _captions,
    }
    report, keys = inspectors[kind](path, kind, quick)
    if records is not None and kind != "classnames":
        needed = [r.query_id for r in records] if kind == "text" else [r.video_id for r in records]
        needed = list(dict.fromkeys(needed))
        present = set(keys)
        report.needed = len(needed)
        report.missing = [k for k in needed if k not in present]
    return report


def _dense(path: Path, kind: str, quick: bool) -> tuple[StoreReport, list[str]]:
    name = f"{kind}-feature"
    reader = LmdbReader(path, name)
    names, unit = (TEXT_ARRAYS, "tokens") if kind == "text" else (VIDEO_ARRAYS, "steps")
    keys, lengths, dims, dtypes, arrays = [], [], set(), set(), set()
    for key, value in reader.items():
        try:
            info = npz_member_header(value, names, check_data=not quick)
        except DecodeError as exc:
            raise UserError(f"{name} store {path}: the value of key {key!r} is corrupted: {exc}.") from None
        problem = dense_shape_problem(info.shape, info.dtype, unit)
        if problem is not None:
            raise UserError(f"{name} store {path}: the value of key {key!r} {problem}.")
        keys.append(key)
        lengths.append(info.shape[0] if len(info.shape) == 2 else 1)
        dims.add(info.shape[-1])
        dtypes.add(str(info.dtype))
        arrays.add(info.name)
    report = StoreReport(path, f"{kind} features (npz '{'/'.join(sorted(arrays))}')", len(keys), keys[:SAMPLE_KEYS])
    report.stats = [
        ("dtype", ", ".join(sorted(dtypes)) or "-"),
        ("dim", ", ".join(map(str, sorted(dims))) or "-"),
        (unit, _summary(lengths)),
    ]
    return report, keys


def _objects(path: Path, kind: str, quick: bool) -> tuple[StoreReport, list[str]]:
    reader = LmdbReader(path, "object")
    keys: list[str] = []
    lengths: list[int] = []
    per_step: list[int] = []
    classes: set[int] = set()
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
    report.stats = [
        ("steps", _summary(lengths)),
        ("classes per step", _summary(per_step)),
        ("distinct classes", _class_summary(classes)),
    ]
    return report, keys


def _classnames(path: Path, kind: str, quick: bool) -> tuple[StoreReport, list[str]]:
    table = load_class_table(path)
    report = StoreReport(path, "class-name embedding table (.pt)", int(table.shape[0]), [])
    report.stats = [("dtype", str(table.dtype).replace("torch.", "")), ("shape", "x".join(map(str, table.shape)))]
    return report, []


def _captions(path: Path, kind: str, quick: bool) -> tuple[StoreReport, list[str]]:
    source = CaptionSource(path)
    keys = source.video_ids()
    if not keys:
        where = "archive has no *.json member" if source.is_zip else "directory has no {video_id}.json file"
        raise UserError(f"caption source {path}: the {where}; expected LaViLa caption files.")
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
