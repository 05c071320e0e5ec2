"""The readable reference evaluator: one query at a time in plain Python.

It states the official rules as directly as possible and is the baseline that tests and
``bench/evaluator.py`` hold the vectorised evaluator to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from osgnet_bench.metrics.iou import interval_iou
from osgnet_bench.metrics.scores import Scores
from osgnet_bench.metrics.spec import MetricSpec
from osgnet_bench.tracks import recall_key

TOP_IOUS_PER_QUERY = 3


def score_loop(
    pred_windows: Sequence[np.ndarray],
    gt_windows: Sequence[np.ndarray],
    spec: MetricSpec,
) -> Scores:
    """Recall and mIoU of N queries; same inputs and result as ``score_vectorised``."""
    if len(pred_windows) == 0:
        raise ValueError("no queries to score")
    hits = {key: 0 for key in spec.recall_keys}
    miou_terms = []
    for pred, gt in zip(pred_windows, gt_windows, strict=True):
        gt_pairs = [tuple(g) for g in np.asarray(gt).tolist()]
        ious = [[interval_iou(tuple(p), g) for g in gt_pairs] for p in np.asarray(pred).tolist()]
        for k in spec.topk:
            for t in spec.thresholds:
                if any(_passes(iou, t, spec) for row in ious[:k] for iou in row):
                    hits[recall_key(k, t)] += 1
        largest = sorted(ious[0])[-TOP_IOUS_PER_QUERY:]
        miou_terms.append(sum(largest) / len(largest))
    num = len(miou_terms)
    recall = {key: 100.0 * count / num for key, count in hits.items()}
    return Scores(recall=recall, miou=100.0 * math.fsum(miou_terms) / num, num_evaluated=num)


def _passes(iou: float, threshold: float, spec: MetricSpec) -> bool:
    return iou > threshold if spec.iou_rule == "gt" else iou >= threshold
