"""Reader for the TACoS JSON ``{split: {video_id: {fps, num_frames, duration, annotations}}}``.

Each annotation is ``{"sentence", "segment(frame)", "segment"}``; ``segment`` is [start, end]
in seconds (rounded to 2 decimals). Conversion (pipeline.md §1.7): for each video in file order,
annotation ``i`` becomes ``query_id = "{video_id}_{i}"`` with ``timestamps = [segment]`` and the
video's ``duration``. ``annotation_uid`` is the video id.
"""

from __future__ import annotations

from typing import Any

from osgnet_bench.annotations.fields import (
    as_number,
    as_object,
    optional_text,
    require,
    require_list,
    require_number,
)
from osgnet_bench.annotations.records import QueryRecord, Window
from osgnet_bench.errors import UserError

QUERY_TYPE = "tacos"


def is_tacos_json(data: Any) -> bool:
    """True when ``data`` maps split names to videos that carry ``annotations`` and ``duration``."""
    if not isinstance(data, dict) or not data or "videos" in data:
        return False
    videos = next(iter(data.values()))
    if not isinstance(videos, dict) or not videos:
        return False
    video = next(iter(videos.values()))
    return isinstance(video, dict) and "annotations" in video and "duration" in video


def read_tacos_json(data: dict, source: str, split: str | None = None) -> list[QueryRecord]:
    """All sentences of one split, in file order.

    ``split`` may be left out only when the file holds a single split.
    """
    if not is_tacos_json(data):
        raise UserError(f"{source}: not a TACoS JSON file (expected {{split: {{video: ...}}}}).")
    splits = ", ".join(repr(name) for name in data)
    if split is None:
        if len(data) > 1:
            raise UserError(f"{source}: holds several splits ({splits}); choose one with --split.")
        split = next(iter(data))
    if split not in data:
        raise UserError(f"{source}: has no split {split!r}; it holds {splits}.")
    records: list[QueryRecord] = []
    videos = as_object(data[split], f"{source}: {split}")
    for video_id, raw_video in videos.items():
        where = f"{source}: {split}.{video_id}"
        video = as_object(raw_video, where)
        duration = require_number(video, "duration", where)
        for i, raw_annotation in enumerate(require_list(video, "annotations", where)):
            annotation_where = f"{where}.annotations[{i}]"
            annotation = as_object(raw_annotation, annotation_where)
            records.append(
                QueryRecord(
                    video_id=video_id,
                    annotation_uid=video_id,
                    query_idx=i,
                    query=optional_text(annotation, "sentence", annotation_where),
                    duration=duration,
                    windows=(_segment(annotation, annotation_where),),
                    query_type=QUERY_TYPE,
                )
            )
    return records


def _segment(annotation: dict, where: str) -> Window:
    """The ``segment`` pair in seconds, numbers unchanged."""
    segment = require(annotation, "segment", where)
    if not isinstance(segment, list) or len(segment) != 2:
        raise UserError(f"{where}.segment: expected [start, end] in seconds, got {segment!r}.")
    return (as_number(segment[0], f"{where}.segment[0]"), as_number(segment[1], f"{where}.segment[1]"))
