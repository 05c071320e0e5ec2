"""The fast evaluator: whole chunks of queries at once as padded numpy arrays.

For each chunk the predictions are padded to [n, K, 2] and the GT windows to [n, G, 2] (with
masks), IoUs computed as [n, K, G] and reduced over GT to the best IoU per rank [n, K]; a running
maximum over ranks gives, for every k, the best IoU among the first k windows. No Python loop
runs per query: the loops run over chunks (to bound memory) and over ranks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from osgnet_bench.metrics.iou import iou_matrix
from osgnet_bench.metrics.padding import WindowList, pad_windows
from osgnet_bench.metrics.scores import MIOU_TOP_IOUS, Scores
from osgnet_bench.metrics.spec import MetricSpec
from osgnet_bench.tracks import recall_key

CHUNK_QUERIES = 65536


def score_vectorised(
    pred_windows: Sequence[WindowList],
    gt_windows: Sequence[WindowList],
    spec: MetricSpec,
    chunk: int = CHUNK_QUERIES,
) -> Scores:
    """Recall and mIoU of N queries.

    pred_windows: N window lists [k_i, 2] ranked best first (k_i >= 1); gt_windows: N window
    lists [g_i, 2] (g_i >= 1); query i of one is paired with query i of the other. A window list
    is a float array or a sequence of (start, end) pairs.
    """
    if len(pred_windows) == 0:
        raise ValueError("no queries to score")
    num = len(pred_windows)
    hits = dict.fromkeys(spec.recall_keys, 0)
    miou_terms = []
    for begin in range(0, num, chunk):
        best_per_rank, top1_terms = _chunk_ious(
            pred_windows[begin : begin + chunk], gt_windows[begin : begin + chunk], max(spec.topk)
        )
        for key, count in _chunk_hits(best_per_rank, spec).items():
            hits[key] += count
        miou_terms.append(top1_terms)
    recall = {key: count / num * 100.0 for key, count in hits.items()}
    miou = float(np.mean(np.concatenate(miou_terms))) * 100.0
    return Scores(recall=recall, miou=miou, num_evaluated=num)


def _chunk_ious(
    pred_list: Sequence[WindowList], gt_list: Sequence[WindowList], max_rank: int
) -> tuple[np.ndarray, np.ndarray]:
    """(best IoU over GT of each ranked window [n, K], -inf where padded; mIoU term of each
    query [n]) for one chunk. Windows past ``max_rank`` can change no metric and are dropped."""
    pred, pred_mask = pad_windows(pred_list, max_width=max_rank)
    gt, gt_mask = pad_windows(gt_list)
    ious = iou_matrix(pred, gt)  # [n, K, G]
    ious = np.where(gt_mask[:, None, :], ious, -np.inf)
    best_per_rank = np.where(pred_mask, ious.max(axis=2), -np.inf)  # [n, K]
    return best_per_rank, _top1_terms(ious[:, 0, :])


def _chunk_hits(best_per_rank: np.ndarray, spec: MetricSpec) -> dict[str, int]:
    """Hit count per recall key from the best IoU of each rank [n, K].

    The best IoU within the first k ranks grows one rank (one column) at a time, which is much
    faster than reducing the short rank axis of every row; ranks past K change nothing.
    """
    width = best_per_rank.shape[1]
    best_so_far = best_per_rank[:, 0].copy()
    hits = {}
    for rank in range(1, max(spec.topk) + 1):
        if 1 < rank <= width:
            np.maximum(best_so_far, best_per_rank[:, rank - 1], out=best_so_far)
        if rank in spec.topk:
            for t in spec.thresholds:
                passed = best_so_far > t if spec.iou_rule == "gt" else best_so_far >= t
                hits[recall_key(rank, t)] = int(passed.sum())
    return hits


def _top1_terms(top1: np.ndarray) -> np.ndarray:
    """Mean of the 3 largest IoUs of the top-1 window over the GT windows: [n, G] -> [n].

    Padded GT slots are -inf; the largest values are summed in ascending order, as the official
    ``np.mean(np.sort(iou)[-3:])`` does.
    """
    largest = np.sort(top1, axis=1)[:, -MIOU_TOP_IOUS:]
    valid = np.isfinite(largest)
    return np.where(valid, largest, 0.0).sum(axis=1) / valid.sum(axis=1)
