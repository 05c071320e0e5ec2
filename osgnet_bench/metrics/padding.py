"""Pack variable-length window lists into one padded array without a per-query Python loop."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

WindowList = np.ndarray | Sequence[Sequence[float]]


def pad_windows(windows: Sequence[WindowList], max_width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """N window lists [k_i, 2] -> (windows [N, K, 2] float64, mask [N, K] bool).

    Each list is a float array [k_i, 2] (predictions) or a sequence of (start, end) pairs
    (annotation records). K = max k_i, or ``max_width`` when that is smaller: windows past it are
    dropped. Padded slots hold zeros and ``mask`` False.
    """
    counts = np.fromiter(map(len, windows), dtype=np.int64, count=len(windows))
    kept = counts if max_width is None else np.minimum(counts, max_width)
    width = int(kept.max()) if len(kept) else 0
    mask = np.arange(width)[None, :] < kept[:, None]
    total = int(counts.sum())
    if total == 0:
        return np.zeros((len(windows), width, 2), dtype=np.float64), mask
    flat = _flatten(windows, total)
    if (counts == width).all():  # every list has exactly K windows: nothing to pad or drop
        return flat.reshape(len(windows), width, 2), mask
    first = np.cumsum(counts) - counts  # row of each query's first window in ``flat``
    # Gather every slot from ``flat`` (padded slots read a valid row, then are zeroed): one
    # vectorised take, much faster than scattering into a zero array.
    source = np.minimum(first[:, None] + np.arange(width)[None, :], total - 1)
    padded = np.take(flat, source, axis=0)
    np.copyto(padded, 0.0, where=~mask[..., None])
    return padded, mask


def _flatten(windows: Sequence[WindowList], total: int) -> np.ndarray:
    """All windows one after another, [total, 2].

    Arrays are concatenated; Python pairs are read in a single ``fromiter`` pass, several times
    faster than turning each query's pairs into an array first.
    """
    if isinstance(windows[0], np.ndarray):
        return np.concatenate(windows).reshape(-1, 2)
    values = chain.from_iterable(chain.from_iterable(windows))
    return np.fromiter(values, dtype=np.float64, count=2 * total).reshape(-1, 2)
