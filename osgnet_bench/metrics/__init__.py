"""Official-rule temporal grounding metrics: R@k at IoU thresholds, mIoU, the ranking metric.

``score_vectorised`` is the fast evaluator used everywhere; ``score_loop`` is the per-query
reference it is tested and benchmarked against. Rules and deviations: docs/metrics.md.
"""

from osgnet_bench.metrics.evaluate import EvaluationResult, evaluate
from osgnet_bench.metrics.loop import score_loop
from osgnet_bench.metrics.matching import MatchedQueries, match_predictions
from osgnet_bench.metrics.scores import Scores
from osgnet_bench.metrics.spec import IOU_RULES, MetricSpec, spec_for_track
from osgnet_bench.metrics.vectorised import score_vectorised

__all__ = [
    "IOU_RULES",
    "EvaluationResult",
    "MatchedQueries",
    "MetricSpec",
    "Scores",
    "evaluate",
    "match_predictions",
    "score_loop",
    "score_vectorised",
    "spec_for_track",
]
