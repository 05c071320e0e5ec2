"""Turn ensembled windows into a validated EvalAI submission (and a scored predictions list)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from osgnet_bench.annotations.records import QueryKey, QueryRecord, index_records
from osgnet_bench.errors import UserError
from osgnet_bench.predictions import Prediction
from osgnet_bench.tracks import Track
from submissions.nms import TopWindows
from submissions.validate import ValidationReport, validate_submission
from submissions.writer import RankedWindows, build_submission

MAX_PROBLEMS_SHOWN = 5


def submission_order(keys: Sequence[QueryKey], queries: Sequence[QueryRecord] | None) -> list[int]:
    """Row order of the submission: the query list's order when given (queries not in it last),
    else the order of ``keys``."""
    if queries is None:
        return list(range(len(keys)))
    row_of = {key: row for row, key in enumerate(keys)}
    ordered = [row_of[record.key] for record in queries if record.key in row_of]
    listed = set(ordered)
    return ordered + [row for row in range(len(keys)) if row not in listed]


def validated_submission(
    keys: Sequence[QueryKey],
    top: TopWindows,
    track: Track,
    queries: Sequence[QueryRecord] | None,
    challenge: str | None,
) -> tuple[dict[str, Any], ValidationReport]:
    """The submission dict and its validation report; raises ``UserError`` when it is invalid.

    Windows are clipped to the query's duration when ``queries`` (the test or val query list)
    gives one.
    """
    index = index_records(queries, "the query list") if queries is not None else {}
    ranked = []
    all_windows = top.windows.tolist()  # one conversion for all queries
    for row in submission_order(keys, queries):
        record = index.get(keys[row])
        clip_uid, annotation_uid, query_idx = keys[row]
        duration = record.duration if record else None
        ranked.append(RankedWindows(clip_uid, annotation_uid, query_idx, all_windows[row], duration))
    submission = build_submission(ranked, track, challenge)
    report = validate_submission(submission, track, queries, challenge)
    if not report.is_valid:
        shown = "; ".join(f"{p.path}: {p.message}" for p in report.errors[:MAX_PROBLEMS_SHOWN])
        more = len(report.errors) - MAX_PROBLEMS_SHOWN
        totals = ", ".join(f"{kind} {count}" for kind, count in report.counts().items())
        raise UserError(
            f"the ensembled submission is invalid, so nothing was written: {len(report.errors)} errors "
            f"({totals}), e.g. {shown}{f'; and {more} more' if more > 0 else ''}. Missing queries mean "
            "the prediction files do not cover the query list; unknown ones mean they are for another split."
        )
    return submission, report


def ensembled_predictions(submission: dict[str, Any], keys: Sequence[QueryKey], top: TopWindows) -> list[Prediction]:
    """The submission's entries as predictions (same clipped windows, same order), with the
    ensemble's scores when every input had scores."""
    scored = bool(np.isfinite(top.scores).all())
    row_of = {key: row for row, key in enumerate(keys)}
    predictions = []
    for entry in submission["results"]:
        key = (entry["clip_uid"], entry["annotation_uid"], entry["query_idx"])
        predictions.append(
            Prediction(
                video_id=key[0],
                annotation_uid=key[1],
                query_idx=key[2],
                windows=np.asarray(entry["predicted_times"], dtype=np.float64),
                scores=top.scores[row_of[key]] if scored else None,
            )
        )
    return predictions
