"""Build and write EvalAI submissions (NLQ / GoalStep) from ranked windows per query.

Every entry gets exactly ``WINDOWS_PER_QUERY`` = 5 ``[start, end]`` windows, best first (eval.md
§1.4, §7.5): fewer are padded by repeating the last one, more are truncated, each window is
ordered start <= end and clipped to [0, duration] (to [0, inf) when the duration is unknown).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from osgnet_bench.annotations.records import QueryKey, QueryRecord
from osgnet_bench.errors import UserError
from osgnet_bench.files import write_compact_json
from osgnet_bench.tracks import Track
from submissions.validate import describe_key, expected_challenge

WINDOWS_PER_QUERY = 5


@dataclass(frozen=True)
class RankedWindows:
    """A model's answer for one query: ``windows`` is (n, >=2) [start, end, ...] seconds, best first.

    Anything after the first two numbers of a window (e.g. a score) is ignored.
    """

    clip_uid: str
    annotation_uid: str
    query_idx: int
    windows: Sequence[Sequence[float]]
    duration: float | None = None

    @classmethod
    def for_record(cls, record: QueryRecord, windows: Sequence[Sequence[float]]) -> RankedWindows:
        """Windows for an annotation record, taking its key and duration."""
        return cls(record.video_id, record.annotation_uid, record.query_idx, windows, record.duration)

    @property
    def key(self) -> QueryKey:
        return (self.clip_uid, self.annotation_uid, self.query_idx)


def five_windows(
    windows: Sequence[Sequence[float]], duration: float | None = None, where: str = "query"
) -> list[list[float]]:
    """Exactly ``WINDOWS_PER_QUERY`` [start, end] pairs: ordered, clipped, truncated or padded.

    ``windows``: (n, >=2), n >= 1, best first. Raises ``UserError`` (naming ``where``) when there is
    no window or a time is not a finite number.
    """
    if len(windows) == 0:
        raise UserError(f"{where}: no predicted window; every query needs at least one.")
    upper = duration if duration is not None else math.inf
    chosen = []
    for window in islice(windows, WINDOWS_PER_QUERY):
        start, end = float(window[0]), float(window[1])
        if not (math.isfinite(start) and math.isfinite(end)):
            raise UserError(f"{where}: window [{start}, {end}] is not finite; cannot write it.")
        if end < start:
            start, end = end, start
        chosen.append([min(max(start, 0.0), upper), min(max(end, 0.0), upper)])
    chosen += [list(chosen[-1]) for _ in range(WINDOWS_PER_QUERY - len(chosen))]
    return chosen


def submission_entry(prediction: RankedWindows) -> dict[str, Any]:
    """One ``results`` entry in the EvalAI format."""
    return {
        "clip_uid": prediction.clip_uid,
        "annotation_uid": prediction.annotation_uid,
        "query_idx": int(prediction.query_idx),
        "predicted_times": five_windows(prediction.windows, prediction.duration, describe_key(prediction.key)),
    }


def build_submission(
    predictions: Iterable[RankedWindows], track: Track, challenge: str | None = None
) -> dict[str, Any]:
    """The whole submission dict, entries in the given order; a repeated query is a ``UserError``."""
    results = []
    seen: set[QueryKey] = set()
    for prediction in predictions:
        if prediction.key in seen:
            raise UserError(f"{describe_key(prediction.key)} is predicted twice; each query must appear once.")
        seen.add(prediction.key)
        results.append(submission_entry(prediction))
    return {
        "version": track.submission_version,
        "challenge": expected_challenge(track, challenge),
        "results": results,
    }


def write_submission(path: str | os.PathLike, submission: dict[str, Any]) -> None:
    """Write the submission JSON atomically (never a half-written file) and compact."""
    write_compact_json(path, submission)
