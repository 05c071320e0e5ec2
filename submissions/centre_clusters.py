"""The reference's consensus proposals: cluster the models' top windows by their centres.

Per query (pipeline.md §6.1, ``top1_generator``): proposals with equal centres keep only the
last one; the centres are sorted and split wherever two neighbours are ``gap`` seconds or more
apart. Each cluster yields one window, the element-wise mean of (start, end, score) of its
middle proposal (by centre; of the two middle ones the better scored, the lower one on ties)
and its best-scored proposal (the first by centre on ties). Clusters are ranked by the sum of
their members' scores. Everything runs on all queries at once; loops are over the M proposal
positions only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusterProposals:
    """``windows`` [Q, C, 2], ``scores`` [Q, C] (mean of middle and best), ``totals`` [Q, C]
    (sum of member scores), ``valid`` [Q, C]; clusters ordered by descending total."""

    windows: np.ndarray
    scores: np.ndarray
    totals: np.ndarray
    valid: np.ndarray


def cluster_proposals(windows: np.ndarray, scores: np.ndarray, valid: np.ndarray, gap: float) -> ClusterProposals:
    """Consensus windows from P proposals per query.

    windows [Q, P, 2], scores [Q, P], valid [Q, P], proposals in model order.
    """
    centres = (windows[:, :, 1] + windows[:, :, 0]) / 2
    valid = valid & ~_overwritten(centres, valid)
    order = np.argsort(np.where(valid, centres, np.inf), axis=1, kind="stable")
    centres = np.take_along_axis(centres, order, axis=1)
    sorted_windows = np.take_along_axis(windows, order[:, :, None], axis=1)
    sorted_scores = np.take_along_axis(scores, order, axis=1)
    members = np.concatenate([sorted_windows, sorted_scores[:, :, None]], axis=2)  # [Q, P, 3]
    valid = np.take_along_axis(valid, order, axis=1)  # valid ones first, by centre
    starts_cluster = np.ones_like(valid)
    starts_cluster[:, 1:] = np.diff(centres, axis=1) >= gap
    cluster_id = np.cumsum(starts_cluster, axis=1) - 1
    num_queries, num_proposals = valid.shape
    rows = np.arange(num_queries)
    out = np.zeros((num_queries, num_proposals, 3))
    totals = np.zeros((num_queries, num_proposals))
    exists = np.zeros((num_queries, num_proposals), dtype=bool)
    for cluster in range(num_proposals):
        inside = valid & (cluster_id == cluster)
        size = inside.sum(axis=1)
        exists[:, cluster] = size > 0
        first = np.argmax(inside, axis=1)
        best = np.argmax(np.where(inside, members[:, :, 2], -np.inf), axis=1)
        upper = first + size // 2
        lower = np.maximum(upper - 1, 0)
        upper_wins = members[rows, np.minimum(upper, num_proposals - 1), 2] > members[rows, lower, 2]
        middle = np.where((size % 2 == 1) | upper_wins, upper, lower)
        middle = np.minimum(middle, num_proposals - 1)
        out[:, cluster] = (members[rows, middle] + members[rows, best]) / 2
        total = np.zeros(num_queries)
        for position in range(num_proposals):
            total = np.where(inside[:, position], total + members[:, position, 2], total)
        totals[:, cluster] = total
    rank = np.argsort(np.where(exists, -totals, np.inf), axis=1, kind="stable")
    out = np.take_along_axis(out, rank[:, :, None], axis=1)
    return ClusterProposals(
        windows=out[:, :, :2],
        scores=out[:, :, 2],
        totals=np.take_along_axis(totals, rank, axis=1),
        valid=np.take_along_axis(exists, rank, axis=1),
    )


def _overwritten(centres: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """bool [Q, P]: a later valid proposal has exactly the same centre (the last one wins)."""
    later_same = np.zeros_like(valid)
    for position in range(centres.shape[1] - 1):
        same = (centres[:, position + 1 :] == centres[:, position : position + 1]) & valid[:, position + 1 :]
        later_same[:, position] = same.any(axis=1)
    return later_same
