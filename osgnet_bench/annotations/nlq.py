"""Reader for the raw Ego4D NLQ JSON (``nlq_{train,val}.json``, ``nlq_test_unannotated.json``).

Nesting: videos -> clips -> annotations -> language_queries (pipeline.md §1.1). Every
language-query entry becomes one record, textless ones included (with ``query == ""``), so
that ``query_idx`` is the official index. Ground truth is [clip_start_sec, clip_end_sec] in
clip-relative seconds; duration is ``video_end_sec - video_start_sec`` as in the reference.
Numbers keep the type JSON gave them, so a conversion writes them back unchanged.
"""

from __future__ import annotations

from typing import Any

from osgnet_bench.annotations.fields import (
    as_object,
    optional_text,
    require_list,
    require_number,
    require_str,
)
from osgnet_bench.annotations.records import QueryRecord, Window
from osgnet_bench.errors import UserError

QUERY_TYPE = "nlq"


def is_raw_nlq(data: Any) -> bool:
    """True when ``data`` has the raw NLQ nesting (videos with clips)."""
    videos = data.get("videos") if isinstance(data, dict) else None
    return isinstance(videos, list) and bool(videos) and isinstance(videos[0], dict) and "clips" in videos[0]


def read_raw_nlq(data: dict, source: str, query_type: str = QUERY_TYPE) -> list[QueryRecord]:
    """All language-query entries of a parsed raw NLQ file, in file order."""
    if not is_raw_nlq(data):
        raise UserError(f"{source}: not a raw Ego4D NLQ file (expected 'videos' with 'clips').")
    records: list[QueryRecord] = []
    for v, video in enumerate(data["videos"]):
        for c, clip in enumerate(require_list(video, "clips", f"{source}: videos[{v}]")):
            where = f"{source}: videos[{v}].clips[{c}]"
            clip_uid = require_str(clip, "clip_uid", where)
            duration = require_number(clip, "video_end_sec", where) - require_number(clip, "video_start_sec", where)
            for a, annotation in enumerate(require_list(clip, "annotations", where)):
                annotation_where = f"{where}.annotations[{a}]"
                annotation_uid = require_str(annotation, "annotation_uid", annotation_where)
                entries = require_list(annotation, "language_queries", annotation_where)
                for q, raw_entry in enumerate(entries):
                    entry_where = f"{annotation_where}.language_queries[{q}]"
                    entry = as_object(raw_entry, entry_where)
                    records.append(
                        QueryRecord(
                            video_id=clip_uid,
                            annotation_uid=annotation_uid,
                            query_idx=q,
                            query=optional_text(entry, "query", entry_where),
                            duration=duration,
                            windows=_window(entry, entry_where),
                            query_type=query_type,
                            template=entry.get("template"),
                        )
                    )
    return records


def _window(entry: dict, where: str) -> tuple[Window, ...] | None:
    """The one GT window of an annotated entry, ``None`` for an unannotated (test) entry."""
    if "clip_start_sec" not in entry and "clip_end_sec" not in entry:
        return None
    return ((require_number(entry, "clip_start_sec", where), require_number(entry, "clip_end_sec", where)),)
