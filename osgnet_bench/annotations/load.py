"""Open any supported annotation file and return its query records.

Formats are told apart by content, not by name: JSON Lines (unified jsonl), raw Ego4D NLQ JSON,
the official GoalStep release JSON, and the TACoS ``{split: {video: ...}}`` JSON.
"""

from __future__ import annotations

import os

from osgnet_bench.annotations import goalstep, nlq, tacos
from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from osgnet_bench.files import looks_like_jsonl, read_json
from osgnet_bench.tracks import Track


def load_annotations(path: str | os.PathLike, track: Track, split: str | None = None) -> list[QueryRecord]:
    """Records of ``path`` in file order (textless raw NLQ entries included, ``query == ""``).

    ``split`` picks the split of a multi-split file (TACoS JSON); other formats ignore it.
    """
    if not os.path.exists(path):
        raise UserError(f"{path}: no such file.")
    if looks_like_jsonl(path):
        return read_query_jsonl(path)
    data = read_json(path)
    if nlq.is_raw_nlq(data):
        return nlq.read_raw_nlq(data, str(path), query_type=track.query_type)
    if goalstep.is_goalstep_release(data):
        return goalstep.read_goalstep_release(data, str(path))
    if tacos.is_tacos_json(data):
        return tacos.read_tacos_json(data, str(path), split=split)
    raise UserError(
        f"{path}: unrecognised annotation format; expected a jsonl file, a raw Ego4D NLQ JSON, "
        "the official GoalStep release JSON or the TACoS JSON (see docs/formats.md)."
    )
