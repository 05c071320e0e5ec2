"""Pack variable-length window lists into one padded array without a per-query Python loop."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pad_windows(windows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """N arrays [k_i, 2] -> (windows [N, K, 2] float64, mask [N, K] bool), K = max k_i.

    Padded slots hold zeros and ``mask`` False.
    """
    counts = np.fromiter(map(len, windows), dtype=np.int64, count=len(windows))
    width = int(counts.max()) if len(counts) else 0
    padded = np.zeros((len(windows), width, 2), dtype=np.float64)
    mask = np.arange(width)[None, :] < counts[:, None]
    if len(windows):
        flat = np.concatenate(windows).reshape(-1, 2)
        # Filling each coordinate through flat slot indices is far faster than a 2-D boolean
        # assignment; slots come out row-major, in the same order as the concatenation.
        slots = np.flatnonzero(mask)
        rows = padded.reshape(-1, 2)
        rows[slots, 0] = flat[:, 0]
        rows[slots, 1] = flat[:, 1]
    return padded, mask
