"""Reader for the raw Ego4D NLQ JSON (``nlq_{train,val}.json``, ``nlq_test_unannotated.json``).

Nesting: videos -> clips -> annotations -> language_queries (pipeline.md §1.1). Every
language-query entry becomes one record, textless ones included (with ``query == ""``), so
that ``query_idx`` is the official index. Ground truth is [clip_start_sec, clip_end_sec] in
clip-relative seconds; duration is ``video_end_sec - video_start_sec`` as in the reference.
"""

from __future__ import annotations

from typing import Any

from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError


def is_raw_nlq(data: Any) -> bool:
    """True when ``data`` has the raw NLQ nesting (videos with clips)."""
    videos = data.get("videos") if isinstance(data, dict) else None
    return isinstance(videos, list) and bool(videos) and isinstance(videos[0], dict) and "clips" in videos[0]


def read_raw_nlq(data: dict, source: str, query_type: str = "nlq") -> list[QueryRecord]:
    """All language-query entries of a parsed raw NLQ file, in file order."""
    if not is_raw_nlq(data):
        raise UserError(f"{source}: not a raw Ego4D NLQ file (expected 'videos' with 'clips').")
    records: list[QueryRecord] = []
    for v, video in enumerate(data["videos"]):
        for c, clip in enumerate(video.get("clips", [])):
            where = f"{source}: videos[{v}].clips[{c}]"
            clip_uid = _require(clip, "clip_uid", where)
            duration = float(_require(clip, "video_end_sec", where)) - float(
                _require(clip, "video_start_sec", where)
            )
            for a, annotation in enumerate(clip.get("annotations", [])):
                annotation_uid = _require(annotation, "annotation_uid", f"{where}.annotations[{a}]")
                for q, entry in enumerate(annotation.get("language_queries", [])):
                    records.append(
                        QueryRecord(
                            video_id=clip_uid,
                            annotation_uid=annotation_uid,
                            query_idx=q,
                            query=entry.get("query") or "",
                            duration=duration,
                            windows=_window(entry, f"{where}.annotations[{a}].language_queries[{q}]"),
                            query_type=query_type,
                            template=entry.get("template"),
                        )
                    )
    return records


def _window(entry: dict, where: str) -> tuple[tuple[float, float], ...] | None:
    if "clip_start_sec" not in entry and "clip_end_sec" not in entry:
        return None
    start = _require(entry, "clip_start_sec", where)
    end = _require(entry, "clip_end_sec", where)
    return ((float(start), float(end)),)


def _require(mapping: dict, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise UserError(f"{where}: missing key {key!r}.")
    return mapping[key]
