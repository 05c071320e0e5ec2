"""Pair each prediction with its ground-truth query by (clip_uid, annotation_uid, query_idx).

The official evaluator looks (clip_uid, annotation_uid) up and indexes ``language_queries`` with
``query_idx``; keying records on the same triple gives the same pairs. Unlike the official
script, duplicated and unknown predictions are refused with a clear message (docs/metrics.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from osgnet_bench.annotations.records import QueryKey, QueryRecord, Window, index_records
from osgnet_bench.errors import UserError
from osgnet_bench.predictions import Prediction

MAX_EXAMPLES = 3


@dataclass(frozen=True)
class MatchedQueries:
    """Predictions paired with ground truth, in prediction order.

    ``pred_windows[i]`` is a float array [k_i, 2] and ``gt_windows[i]`` the record's g_i >= 1
    (start, end) pairs, for the same query.
    ``num_gt`` counts the GT queries that have text (the ones a full submission covers);
    ``missing`` lists those without a prediction, in GT order.
    """

    pred_windows: list[np.ndarray]
    gt_windows: list[tuple[Window, ...]]
    num_gt: int
    missing: list[QueryKey]


def describe_key(key: QueryKey) -> str:
    """``(clip, annotation, idx)`` -> readable text for error messages."""
    clip, annotation, idx = key
    return f"(clip {clip!r}, annotation {annotation!r}, query_idx {idx})"


def describe_examples(keys: Sequence[QueryKey]) -> str:
    """The first few keys, readable, with "..." when there are more."""
    shown = ", ".join(describe_key(key) for key in keys[:MAX_EXAMPLES])
    return shown + (", ..." if len(keys) > MAX_EXAMPLES else "")


def match_predictions(
    records: Sequence[QueryRecord],
    predictions: Sequence[Prediction],
    gt_source: str,
    pred_source: str,
) -> MatchedQueries:
    """Pair predictions with records; refuses duplicated, unknown or unannotated queries."""
    index = index_records(records, gt_source)
    _refuse_duplicates(predictions, pred_source)
    _refuse_unknown(predictions, index, gt_source, pred_source)
    gt_windows = [_gt_windows(index[p.key], gt_source) for p in predictions]
    predicted = {p.key for p in predictions}
    missing = [r.key for r in records if r.has_text and r.key not in predicted]
    return MatchedQueries(
        pred_windows=[p.windows for p in predictions],
        gt_windows=gt_windows,
        num_gt=sum(1 for r in records if r.has_text),
        missing=missing,
    )


def _refuse_duplicates(predictions: Sequence[Prediction], source: str) -> None:
    counts = Counter(p.key for p in predictions)
    repeated = [key for key, count in counts.items() if count > 1]
    if not repeated:
        return
    extra = sum(counts[key] - 1 for key in repeated)
    places = [p.where for p in predictions if p.key == repeated[0] and p.where]
    located = f" The first one is at {' and '.join(places[:2])}." if places else ""
    raise UserError(
        f"{source}: {len(repeated)} queries are predicted more than once ({extra} extra "
        f"entries), e.g. {describe_examples(repeated)}.{located} The official evaluator would "
        "score every copy; keep exactly one prediction per query."
    )


def _refuse_unknown(
    predictions: Sequence[Prediction],
    index: dict[QueryKey, QueryRecord],
    gt_source: str,
    pred_source: str,
) -> None:
    unknown = [p.key for p in predictions if p.key not in index]
    if not unknown:
        return
    hint = ""
    by_query_id = {(annotation, idx): clip for clip, annotation, idx in index}
    moved = [key for key in unknown if (key[1], key[2]) in by_query_id]
    if moved:
        clip, annotation, idx = moved[0]
        hint = (
            f" {len(moved)} of them exist under another clip, e.g. annotation {annotation!r} "
            f"query_idx {idx} belongs to clip {by_query_id[(annotation, idx)]!r}, not {clip!r}."
        )
    raise UserError(
        f"{pred_source}: {len(unknown)} predictions are for queries that {gt_source} does not "
        f"contain, e.g. {describe_examples(unknown)}.{hint} Check that the ground truth and the "
        "predictions are for the same split and track."
    )


def _gt_windows(record: QueryRecord, gt_source: str) -> tuple[Window, ...]:
    """The record's GT windows; refuses queries without any."""
    if not record.windows:
        raise UserError(
            f"{gt_source}: query {describe_key(record.key)} has no ground-truth windows "
            "(is this an unannotated test file?); predictions can only be scored against "
            "annotated queries."
        )
    return record.windows
