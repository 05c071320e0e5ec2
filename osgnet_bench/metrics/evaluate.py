"""Score predictions against ground truth for one track: the numbers ``osgnet-bench evaluate`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from osgnet_bench.annotations.records import QueryKey, QueryRecord
from osgnet_bench.errors import UserError
from osgnet_bench.metrics.matching import describe_examples, match_predictions
from osgnet_bench.metrics.spec import MetricSpec, spec_for_track
from osgnet_bench.metrics.vectorised import score_vectorised
from osgnet_bench.predictions import Prediction
from osgnet_bench.tracks import Track

MIOU_KEY = "mIoU"
RANK_KEY = "rank_metric"


@dataclass(frozen=True)
class EvaluationResult:
    """Metrics of one run on one track.

    ``metrics`` holds ``R{k}@{t}`` for every k and t of ``spec`` (k-major), then ``mIoU`` and
    ``rank_metric`` (the track's leaderboard number), all percentages 0-100, averaged over the
    ``num_evaluated`` predicted queries as the official evaluator does. ``missing`` lists the
    GT queries with text that have no prediction.
    """

    track: Track
    spec: MetricSpec
    metrics: dict[str, float]
    num_evaluated: int
    num_missing: int
    num_gt: int
    missing: tuple[QueryKey, ...] = ()

    def to_json(self) -> dict:
        """The ``--format json`` object."""
        return {
            "track": self.track.name,
            "metrics": dict(self.metrics),
            "num_evaluated": self.num_evaluated,
            "num_missing": self.num_missing,
            "num_gt": self.num_gt,
        }


def evaluate(
    records: Sequence[QueryRecord],
    predictions: Sequence[Prediction],
    track: Track,
    spec: MetricSpec | None = None,
    strict: bool = False,
    gt_source: str = "the ground truth",
    pred_source: str = "the predictions",
) -> EvaluationResult:
    """Official-rule metrics of ``predictions`` against ``records``.

    ``strict`` refuses to score when a GT query with text has no prediction (the official
    evaluator silently averages over the submitted ones only).
    """
    spec = spec or spec_for_track(track)
    absent = [key for key in track.rank_keys if key not in spec.recall_keys]
    if absent:
        raise UserError(
            f"the {track.name} ranking metric {track.rank_metric_name} needs {', '.join(absent)}, "
            "which the requested thresholds and k leave out."
        )
    if not predictions:
        raise UserError(f"{pred_source}: contains no predictions.")
    matched = match_predictions(records, predictions, gt_source, pred_source)
    if strict and matched.missing:
        raise UserError(
            f"{pred_source}: {len(matched.missing)} of the {matched.num_gt} queries in {gt_source} "
            f"have no prediction, e.g. {describe_examples(matched.missing)}. Strict mode (--strict) "
            "requires every query to be predicted; without it they are left out of the averages, as the "
            "official evaluator does."
        )
    scores = score_vectorised(matched.pred_windows, matched.gt_windows, spec)
    metrics = dict(scores.recall)
    metrics[MIOU_KEY] = scores.miou
    metrics[RANK_KEY] = track.rank_metric(metrics)
    return EvaluationResult(
        track=track,
        spec=spec,
        metrics=metrics,
        num_evaluated=scores.num_evaluated,
        num_missing=len(matched.missing),
        num_gt=matched.num_gt,
        missing=tuple(matched.missing),
    )
