"""Query records -> rows of the unified jsonl, exactly as the reference conversion writes them.

Rules (pipeline.md §1.2, §1.6, §1.7): one row per record with text, in record order; a textless
record is skipped but its index is never reused; keys in the order ``query``, ``query_id``,
``duration``, ``video_id``, ``query_type``, then ``timestamps`` (a list of [start, end]) only
when the record has ground truth. Numbers are written as the reader found them. ``label``
(query noun -> LVIS class, pipeline.md §1.4) is not generated.
"""

from __future__ import annotations

from collections.abc import Iterable

from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from osgnet_bench.tracks import Track


def records_to_jsonl_rows(records: Iterable[QueryRecord], track: Track) -> list[dict]:
    """One jsonl row (a dict in the reference key order) per record that has query text.

    A ``UserError`` is raised when a record has no duration (GoalStep test without a durations
    source) or when two rows would share a ``query_id`` (the key of the text-feature stores).
    """
    rows: list[dict] = []
    video_of_query_id: dict[str, str] = {}
    for record in records:
        if not record.has_text:
            continue
        if record.duration is None:
            raise UserError(
                f"video {record.video_id!r}: duration unknown, so query {record.query_id!r} "
                "cannot be written; the GoalStep test release needs a durations source "
                "(--durations, see docs/annotations.md)."
            )
        if record.query_id in video_of_query_id:
            raise UserError(
                f"query_id {record.query_id!r} occurs twice (videos "
                f"{video_of_query_id[record.query_id]!r} and {record.video_id!r}); jsonl query_ids "
                "key the text-feature stores and must be unique."
            )
        video_of_query_id[record.query_id] = record.video_id
        row = {
            "query": record.query,
            "query_id": record.query_id,
            "duration": record.duration,
            "video_id": record.video_id,
            "query_type": track.query_type,
        }
        if record.windows is not None:
            row["timestamps"] = [[start, end] for start, end in record.windows]
        rows.append(row)
    return rows
