"""Weighted score fusion: pool every model's windows, fuse overlapping ones, NMS to 5.

Per query, with model weights w_m and a window's score s, its weighted score is c = w_m * s.

1. Candidates: each model's top ``per_model`` windows, sorted by descending c (stable: model
   order, then rank, on ties).
2. Clustering, in that order: a candidate joins the existing cluster whose fused window has the
   highest IoU with it (the earliest cluster on ties) if that IoU is > ``fuse_iou``, else it opens
   a new cluster. A cluster's fused window is the c-weighted mean of its members' starts and
   ends, updated after every join as fused += c / (sum of c) * (window - fused), so a window
   that fuses with nothing (or only with copies of itself) keeps its exact times.
3. A cluster's score is the sum of its members' c divided by the sum of the weights of the
   models that predict the query: a window found by every model keeps its score, one found by
   a single model of M equally weighted ones gets a M-th of it.
4. The fused windows go through the same NMS cascade as the reference method (0.5 / 0.7 / 0.9),
   giving 5 windows, padded by repeating the last.

All queries run at once; the loop is over candidate positions only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from osgnet_bench.errors import UserError
from osgnet_bench.metrics.iou import iou_matrix
from osgnet_bench.metrics.matching import describe_examples
from submissions.nms import TopWindows, cascade_nms, sort_candidates
from submissions.stack import StackedPredictions


@dataclass(frozen=True)
class FusionConfig:
    """``weights``: one per model (``None``: all 1); ``per_model``: windows taken from each
    model; ``fuse_iou``: IoU a window needs (>) with a cluster to join it; ``nms_thresholds``:
    the final cascade."""

    weights: tuple[float, ...] | None = None
    per_model: int = 10
    fuse_iou: float = 0.5
    nms_thresholds: tuple[float, ...] = (0.5, 0.7, 0.9)


def fuse_windows(stack: StackedPredictions, config: FusionConfig) -> TopWindows:
    """5 fused windows per query: [Q, 5, 2] windows, [Q, 5] scores, [Q] distinct counts."""
    num_queries, num_models = stack.present.shape
    weights = model_weights(config.weights, num_models)
    per_model = min(config.per_model, stack.windows.shape[2])
    valid = stack.valid[:, :, :per_model]
    not_positive = np.argwhere(valid & ~(stack.scores[:, :, :per_model] > 0))
    if len(not_positive):
        row, model, rank = not_positive[0]
        raise UserError(
            f"{stack.sources[model]}: query {describe_examples([stack.keys[row]])} has score "
            f"{float(stack.scores[row, model, rank])!r} at rank {rank + 1}; score fusion averages windows weighted by "
            "their scores, so every score must be positive. Use --method reference, which only compares scores."
        )
    weighted = stack.scores[:, :, :per_model] * weights[None, :, None]
    windows, weighted, valid = sort_candidates(
        stack.windows[:, :, :per_model].reshape(num_queries, -1, 2),
        weighted.reshape(num_queries, -1),
        valid.reshape(num_queries, -1),
    )
    weight_sum, fused, opened = _cluster(windows, weighted, valid, config.fuse_iou)
    present_weight = np.zeros(num_queries)
    for model in range(num_models):
        present_weight = np.where(stack.present[:, model], present_weight + weights[model], present_weight)
    return cascade_nms(fused, weight_sum / present_weight[:, None], opened, config.nms_thresholds)


def model_weights(weights: tuple[float, ...] | None, num_models: int) -> np.ndarray:
    """float64 [M]; refuses a count that does not match or a weight that is not positive."""
    if weights is None:
        return np.ones(num_models)
    if len(weights) != num_models:
        raise UserError(f"--weights: got {len(weights)} weights for {num_models} prediction files; give one per file.")
    array = np.asarray(weights, dtype=np.float64)
    if not (np.isfinite(array).all() and (array > 0).all()):
        raise UserError(f"--weights: every weight must be a positive number, got {list(weights)}.")
    return array


def _cluster(
    windows: np.ndarray, weighted: np.ndarray, valid: np.ndarray, fuse_iou: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy clustering of sorted candidates.

    windows [Q, N, 2], weighted scores [Q, N], valid [Q, N] -> per cluster slot: the sum of its
    members' c [Q, N], its fused window [Q, N, 2] and whether the slot holds a cluster [Q, N].
    """
    num_queries, num_candidates = valid.shape
    rows = np.arange(num_queries)
    weight_sum = np.zeros((num_queries, num_candidates))
    fused = np.zeros((num_queries, num_candidates, 2))
    num_open = np.zeros(num_queries, dtype=np.int64)
    for i in range(num_candidates):
        width = max(int(num_open.max()), 1)
        opened = np.arange(width)[None, :] < num_open[:, None]  # [Q, C]
        ious = np.where(opened, iou_matrix(windows[:, i : i + 1], fused[:, :width])[:, 0, :], -1.0)
        best = np.argmax(ious, axis=1)
        live = valid[:, i]
        joins = live & (ious[rows, best] > fuse_iou)
        target = np.where(joins, best, num_open)[live]
        at = rows[live]
        c = weighted[live, i]
        weight_sum[at, target] += c
        share = (c / weight_sum[at, target])[:, None]  # 1 for a new cluster: it takes the window as is
        fused[at, target] += share * (windows[live, i] - fused[at, target])
        num_open += live & ~joins
    return weight_sum, fused, np.arange(num_candidates)[None, :] < num_open[:, None]
