"""Open any supported annotation file and return its query records.

Formats are told apart by content, not by name: JSON Lines (unified jsonl), raw Ego4D NLQ JSON,
the official GoalStep release JSON, and the TACoS ``{split: {video: ...}}`` JSON.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from osgnet_bench.annotations import goalstep, nlq, tacos
from osgnet_bench.annotations.fields import Number
from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from osgnet_bench.files import looks_like_jsonl, read_json
from osgnet_bench.tracks import Track


def load_annotations(
    path: str | os.PathLike,
    track: Track,
    split: str | None = None,
    durations: Mapping[str, Number] | None = None,
) -> list[QueryRecord]:
    """Records of ``path`` in file order (textless raw NLQ entries included, ``query == ""``).

    ``split`` picks the split of a multi-split file (TACoS JSON); other formats ignore it.
    ``durations`` gives GoalStep test video lengths (``{video_uid: seconds}``); without it
    those records have ``duration=None``.
    """
    if not os.path.exists(path):
        raise UserError(f"{path}: no such file.")
    if looks_like_jsonl(path):
        return read_query_jsonl(path)
    return read_annotation_json(read_json(path), str(path), track, split, durations)


def read_annotation_json(
    data: Any,
    source: str,
    track: Track,
    split: str | None = None,
    durations: Mapping[str, Number] | None = None,
) -> list[QueryRecord]:
    """Records of an already parsed raw annotation JSON; the format must suit ``track``."""
    if nlq.is_raw_nlq(data):
        _check_track(source, track, "a raw Ego4D NLQ file", query_type=nlq.QUERY_TYPE)
        return nlq.read_raw_nlq(data, source, query_type=track.query_type)
    if goalstep.is_goalstep_release(data):
        _check_track(source, track, "a GoalStep release file", query_type=goalstep.QUERY_TYPE)
        return goalstep.read_goalstep_release(data, source, durations)
    if tacos.is_tacos_json(data):
        _check_track(source, track, "a TACoS JSON file", query_type=tacos.QUERY_TYPE)
        return tacos.read_tacos_json(data, source, split=split)
    raise UserError(
        f"{source}: unrecognised annotation format; expected a jsonl file, a raw Ego4D NLQ JSON "
        "('videos' with 'clips'), the official GoalStep release JSON ('videos' with 'segments' or "
        "'step_segments') or the TACoS JSON ({split: {video: {duration, annotations}}}); "
        "see docs/annotations.md."
    )


def _check_track(source: str, track: Track, what: str, query_type: str) -> None:
    """Refuse a file whose queries are of another kind than ``track``'s."""
    if track.query_type != query_type:
        raise UserError(
            f"{source}: is {what} (query type {query_type!r}), which does not belong to track "
            f"{track.name!r} (query type {track.query_type!r}); pick the matching --track."
        )
