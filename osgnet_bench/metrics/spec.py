"""What to compute: IoU thresholds, ranks k and the hit rule, resolved from a track's defaults."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from osgnet_bench.errors import UserError
from osgnet_bench.tracks import Track, recall_key

IouRule = Literal["gt", "ge"]
IOU_RULES: tuple[str, ...] = ("gt", "ge")
_IOU_RULE_OF: dict[str, IouRule] = {"gt": "gt", "ge": "ge"}


@dataclass(frozen=True)
class MetricSpec:
    """Recall is computed for every (k, t) in ``topk`` x ``thresholds``.

    ``iou_rule`` ``"gt"``: a window is a hit when IoU > t (official Ego4D / 2D-TAN rule);
    ``"ge"``: IoU >= t (SnAG-style).
    """

    thresholds: tuple[float, ...]
    topk: tuple[int, ...]
    iou_rule: IouRule = "gt"

    @property
    def recall_keys(self) -> list[str]:
        """Metric keys in report order: ``R1@0.3, R1@0.5, R5@0.3, R5@0.5`` for k-major order."""
        return [recall_key(k, t) for k in self.topk for t in self.thresholds]


def spec_for_track(
    track: Track,
    thresholds: Sequence[float] | None = None,
    topk: Sequence[int] | None = None,
    iou_rule: str | None = None,
) -> MetricSpec:
    """The track's thresholds, k and hit rule (one of ``IOU_RULES``), each overridable; checks the values.

    The ranking metric's recall keys must stay computable, so overrides that drop one of them
    are refused.
    """
    chosen_thresholds = tuple(float(t) for t in (track.thresholds if thresholds is None else thresholds))
    chosen_topk = tuple(int(k) for k in (track.topk if topk is None else topk))
    rule = _IOU_RULE_OF.get(iou_rule if iou_rule is not None else ("gt" if track.strict_iou else "ge"))
    if not chosen_thresholds or any(not 0.0 <= t <= 1.0 for t in chosen_thresholds):
        raise UserError(f"IoU thresholds must be numbers in [0, 1], got {list(chosen_thresholds)}.")
    if not chosen_topk or any(k < 1 for k in chosen_topk):
        raise UserError(f"top-k values must be positive integers, got {list(chosen_topk)}.")
    if rule is None:
        raise UserError(f"unknown IoU rule {iou_rule!r}; choose 'gt' (IoU > t) or 'ge' (IoU >= t).")
    spec = MetricSpec(_unique(chosen_thresholds), _unique(chosen_topk), rule)
    missing = [key for key in track.rank_keys if key not in spec.recall_keys]
    if missing:
        raise UserError(
            f"the {track.name} ranking metric {track.rank_metric_name} needs {', '.join(missing)}; "
            "keep its k and threshold in --topk / --thresholds."
        )
    return spec


def _unique(values: tuple) -> tuple:
    """Drop repeated values, keeping the first occurrence's position."""
    return tuple(dict.fromkeys(values))
