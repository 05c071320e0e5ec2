"""The in-memory form of one language query, shared by every reader, the evaluator and the validator."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from osgnet_bench.errors import UserError

Window = tuple[float, float]
QueryKey = tuple[str, str, int]


@dataclass(frozen=True)
class QueryRecord:
    """One language query (NLQ question, GoalStep step, TACoS sentence, NaQ narration).

    ``video_id`` is the key of the feature stores and the ``clip_uid`` of EvalAI submissions
    (NLQ clip, GoalStep video, TACoS video). ``query_idx`` is the position of the query in its
    annotation's raw list, counted *before* textless entries are skipped, so it is the official
    ``query_idx``. ``windows`` are ground-truth [start, end] seconds, ``None`` for unannotated
    (test) queries. ``query`` is ``""`` for textless raw entries, which are never predicted.
    ``duration`` and window bounds are the JSON numbers as read (an ``int`` stays an ``int``), so
    converted files reproduce the reference byte for byte.
    """

    video_id: str
    annotation_uid: str
    query_idx: int
    query: str
    duration: float | None
    windows: tuple[Window, ...] | None
    query_type: str
    template: str | None = None
    labels: tuple[dict, ...] | None = None
    line: int | None = None

    @property
    def query_id(self) -> str:
        """``{annotation_uid}_{query_idx}``: the key of text-feature stores and of jsonl files."""
        return join_query_id(self.annotation_uid, self.query_idx)

    @property
    def key(self) -> QueryKey:
        """The unique identity of a query: (clip_uid, annotation_uid, query_idx)."""
        return (self.video_id, self.annotation_uid, self.query_idx)

    @property
    def has_text(self) -> bool:
        """False for raw entries without query text, which converters skip and nobody predicts."""
        return bool(self.query)


def join_query_id(annotation_uid: str, query_idx: int) -> str:
    """``("abc_def", 12) -> "abc_def_12"``: the inverse of :func:`split_query_id`."""
    return f"{annotation_uid}_{query_idx}"


def split_query_id(query_id: str) -> tuple[str, int]:
    """``"abc_def_12" -> ("abc_def", 12)``; raises ``ValueError`` when there is no integer suffix."""
    annotation_uid, sep, idx = query_id.rpartition("_")
    if not sep or not annotation_uid or not idx.isdigit():
        raise ValueError(f"query_id {query_id!r} does not end in '_<integer>'")
    return annotation_uid, int(idx)


def index_records(records: Iterable[QueryRecord], source: str) -> dict[QueryKey, QueryRecord]:
    """Map each record's key to it, refusing duplicated keys (eval.md §4)."""
    index: dict[QueryKey, QueryRecord] = {}
    for record in records:
        if record.key in index:
            where = f" (line {record.line})" if record.line else ""
            raise UserError(
                f"{source}: query (clip {record.video_id!r}, annotation {record.annotation_uid!r}, "
                f"index {record.query_idx}) appears twice{where}; every query must be unique."
            )
        index[record.key] = record
    return index
