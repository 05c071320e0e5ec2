"""Greedy hard NMS and the reference's NMS cascade, for many queries at once.

Every function works on Q queries side by side: candidates are [Q, N] arrays sorted best first
with a validity mask, and the only Python loops run over candidate positions and thresholds,
never over queries. IoU is the reference's (intersection over hull, 0 when the hull is empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from osgnet_bench.metrics.iou import iou_matrix

NUM_WINDOWS = 5


@dataclass(frozen=True)
class TopWindows:
    """The ensemble's answer: ``windows`` [Q, n, 2], ``scores`` [Q, n], best first, padded by
    repeating the last window; ``distinct`` [Q] counts the windows before padding."""

    windows: np.ndarray
    scores: np.ndarray
    distinct: np.ndarray


def sort_candidates(
    windows: np.ndarray, scores: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stable sort of each query's candidates by descending score, invalid ones last.

    windows [Q, N, 2], scores [Q, N], valid [Q, N] -> the same arrays reordered. Equal scores
    keep their input order, as Python's ``sorted(..., reverse=True)`` does.
    """
    order = np.argsort(np.where(valid, -scores, np.inf), axis=1, kind="stable")
    return (
        np.take_along_axis(windows, order[:, :, None], axis=1),
        np.take_along_axis(scores, order, axis=1),
        np.take_along_axis(valid, order, axis=1),
    )


def greedy_nms(
    windows: np.ndarray, valid: np.ndarray, threshold: float, max_keep: int
) -> tuple[np.ndarray, np.ndarray]:
    """The candidates greedy hard NMS keeps: (positions [Q, max_keep], count [Q]).

    windows [Q, N, 2] sorted best first, valid [Q, N]. Walking down the list, a candidate is
    kept when fewer than ``max_keep`` are kept so far and no kept candidate overlaps it with
    IoU > ``threshold``. Positions past a query's count are 0. Only the kept windows are
    compared with each candidate, so the cost is O(Q N max_keep), not O(Q N^2).
    """
    num_queries, num_candidates = valid.shape
    rows = np.arange(num_queries)
    positions = np.zeros((num_queries, max_keep), dtype=np.int64)
    kept_windows = np.zeros((num_queries, max_keep, 2))
    num_kept = np.zeros(num_queries, dtype=np.int64)
    for i in range(num_candidates):
        room = num_kept < max_keep
        if not room.any():
            break
        overlaps = iou_matrix(windows[:, i : i + 1], kept_windows)[:, 0, :] > threshold  # [Q, max_keep]
        overlaps &= np.arange(max_keep)[None, :] < num_kept[:, None]
        take = valid[:, i] & room & ~overlaps.any(axis=1)
        positions[rows[take], num_kept[take]] = i
        kept_windows[rows[take], num_kept[take]] = windows[take, i]
        num_kept += take
    return positions, num_kept


def cascade_nms(
    windows: np.ndarray,
    scores: np.ndarray,
    valid: np.ndarray,
    thresholds: Sequence[float],
    num_windows: int = NUM_WINDOWS,
) -> TopWindows:
    """The reference's cascade: NMS at each threshold in turn until ``num_windows`` are found.

    windows [Q, N, 2], scores [Q, N], valid [Q, N] (every query needs >= 1 valid candidate), in
    any order. Candidates are sorted by score; for each threshold, greedy NMS (at most
    ``num_windows`` kept) runs on all of them, windows whose (start, end, score) already appear
    in the output are dropped and the rest appended, and a query stops once it has
    ``num_windows``. Short outputs are padded by repeating the last window.
    """
    windows, scores, valid = sort_candidates(windows, scores, valid)
    num_queries = len(windows)
    triples = np.concatenate([windows, scores[:, :, None]], axis=2)  # [Q, N, 3]
    out = np.zeros((num_queries, num_windows, 3))
    count = np.zeros(num_queries, dtype=np.int64)
    rows = np.arange(num_queries)[:, None]
    slots = np.arange(num_windows)[None, :]
    for threshold in thresholds:
        active = count < num_windows
        if not active.any():
            break
        positions, num_kept = greedy_nms(windows, valid, threshold, num_windows)
        kept = np.take_along_axis(triples, positions[:, :, None], axis=1)  # [Q, S, 3]
        same = (kept[:, :, None, :] == out[:, None, :, :]).all(axis=3)  # [Q, S, S]
        seen = (same & (slots < count[:, None])[:, None, :]).any(axis=2)
        new = (slots < num_kept[:, None]) & ~seen & active[:, None]
        position = count[:, None] + np.cumsum(new, axis=1) - 1
        placed = new & (position < num_windows)
        out[np.broadcast_to(rows, placed.shape)[placed], position[placed]] = kept[placed]
        count = np.minimum(count + new.sum(axis=1), num_windows)
    if (count == 0).any():
        raise ValueError("every query needs at least one valid candidate")
    last = np.minimum(slots, count[:, None] - 1)  # [Q, S]
    out = np.take_along_axis(out, last[:, :, None], axis=1)
    return TopWindows(windows=out[:, :, :2], scores=out[:, :, 2], distinct=count)
