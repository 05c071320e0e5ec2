"""The readable reference evaluator: one query at a time in plain Python.

It states the official rules as directly as possible and is the baseline that tests and
``bench/evaluator.py`` hold the vectorised evaluator to.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from osgnet_bench.metrics.iou import interval_iou
from osgnet_bench.metrics.padding import WindowList
from osgnet_bench.metrics.scores import MIOU_TOP_IOUS, Scores
from osgnet_bench.metrics.spec import MetricSpec
from osgnet_bench.tracks import recall_key


def score_loop(
    pred_windows: Sequence[WindowList],
    gt_windows: Sequence[WindowList],
    spec: MetricSpec,
) -> Scores:
    """Recall and mIoU of N queries; same inputs and result as ``score_vectorised``."""
    if len(pred_windows) == 0:
        raise ValueError("no queries to score")
    hits = dict.fromkeys(spec.recall_keys, 0)
    miou_terms = []
    for pred, gt in zip(pred_windows, gt_windows, strict=True):
        gt_pairs = _pairs(gt)
        ious = [[interval_iou(p, g) for g in gt_pairs] for p in _pairs(pred)]
        for k in spec.topk:
            for t in spec.thresholds:
                if any(_passes(iou, t, spec) for row in ious[:k] for iou in row):
                    hits[recall_key(k, t)] += 1
        largest = sorted(ious[0])[-MIOU_TOP_IOUS:]
        miou_terms.append(sum(largest) / len(largest))
    num = len(miou_terms)
    recall = {key: count / num * 100.0 for key, count in hits.items()}
    return Scores(recall=recall, miou=float(np.mean(miou_terms)) * 100.0, num_evaluated=num)


def _pairs(windows: WindowList) -> list:
    """A window list as Python (start, end) pairs."""
    return windows.tolist() if isinstance(windows, np.ndarray) else list(windows)


def _passes(iou: float, threshold: float, spec: MetricSpec) -> bool:
    return iou > threshold if spec.iou_rule == "gt" else iou >= threshold
