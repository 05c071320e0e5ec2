"""Temporal IoU exactly as the official Ego4D evaluator computes it, without its NaN.

intersection = max(0, min(e, ge) - max(s, gs)); "union" = max(0, max(e, ge) - min(s, gs)), the
convex hull, which equals the true union whenever the windows overlap. Times are used as given:
no clipping, no reordering of reversed windows. Where the hull is 0 the intersection is 0 too,
and the official 0/0 = NaN is defined here as IoU 0 (docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def iou_matrix(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of every predicted window with every GT window.

    pred: [..., K, 2], gt: [..., G, 2] (same leading shape) -> [..., K, G] float64.
    """
    pred_start, pred_end = pred[..., :, None, 0], pred[..., :, None, 1]
    gt_start, gt_end = gt[..., None, :, 0], gt[..., None, :, 1]
    inter = np.minimum(pred_end, gt_end)
    inter -= np.maximum(pred_start, gt_start)
    np.maximum(inter, 0.0, out=inter)
    hull = np.maximum(pred_end, gt_end)
    hull -= np.minimum(pred_start, gt_start)
    hull[hull <= 0.0] = 1.0  # the intersection is 0 there, so the IoU becomes 0
    inter /= hull
    return inter


def interval_iou(pred: Sequence[float], gt: Sequence[float]) -> float:
    """IoU of one predicted window with one GT window, both (start, end) seconds."""
    inter = max(0.0, min(pred[1], gt[1]) - max(pred[0], gt[0]))
    hull = max(0.0, max(pred[1], gt[1]) - min(pred[0], gt[0]))
    return inter / hull if hull > 0 else 0.0
