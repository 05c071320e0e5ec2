"""Reader for the unified one-query-per-line jsonl (pipeline.md §1.3).

Each line: ``query`` (or ``narration_query``), ``query_id`` = ``{annotation_uid}_{idx}``,
``duration``, ``video_id``, ``query_type``, optional ``timestamps`` [[s, e], ...] and ``label``.
"""

from __future__ import annotations

import os

from osgnet_bench.annotations.fields import as_number
from osgnet_bench.annotations.records import QueryRecord, Window, split_query_id
from osgnet_bench.errors import UserError
from osgnet_bench.files import read_jsonl

REQUIRED_KEYS = ("query_id", "video_id", "duration")


def read_query_jsonl(path: str | os.PathLike) -> list[QueryRecord]:
    """All records of a jsonl annotation file, in file order, with their line numbers."""
    records = []
    for line, row in read_jsonl(path):
        records.append(record_from_row(row, f"{path}: line {line}", line))
    return records


def record_from_row(row: object, where: str, line: int | None = None) -> QueryRecord:
    """One parsed jsonl object -> ``QueryRecord``; ``where`` names the file and line in errors."""
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}.")
    for key in REQUIRED_KEYS:
        if key not in row:
            raise UserError(f"{where}: missing key {key!r}.")
    text = row.get("query", row.get("narration_query"))
    if not isinstance(text, str):
        raise UserError(f"{where}: missing key 'query' (or 'narration_query').")
    try:
        annotation_uid, query_idx = split_query_id(str(row["query_id"]))
    except ValueError as exc:
        raise UserError(f"{where}: {exc}.") from None
    windows = _windows(row["timestamps"], where) if "timestamps" in row else None
    labels = row.get("label")
    return QueryRecord(
        video_id=str(row["video_id"]),
        annotation_uid=annotation_uid,
        query_idx=query_idx,
        query=text,
        duration=as_number(row["duration"], f"{where}: 'duration'"),
        windows=windows,
        query_type=str(row.get("query_type", "")),
        template=row.get("template"),
        labels=tuple(labels) if isinstance(labels, list) else None,
        line=line,
    )


def _windows(value: object, where: str) -> tuple[Window, ...]:
    """``timestamps`` as [start, end] pairs, numbers unchanged."""
    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
        raise UserError(f"{where}: 'timestamps' must be a list of [start, end] numbers.")
    return tuple((as_number(s, f"{where}: 'timestamps'"), as_number(e, f"{where}: 'timestamps'")) for s, e in value)
