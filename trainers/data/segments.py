"""Ground-truth windows in feature-grid units (pipeline.md §2.5-2.6).

Training targets use grid = seconds * fps / (feat_stride * downsample_rate), with no
half-window offset, exactly as the reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def seconds_to_grid(windows: Sequence[tuple[float, float]], fps: float, stride: float) -> np.ndarray:
    """float64 (N, 2): ``windows`` [start, end] seconds as feature-grid positions."""
    return np.asarray(windows, dtype=np.float64).reshape(-1, 2) * fps / stride


def jitter_windows(windows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Temporal jittering: each window [a, b] of length d grows to r*d (r uniform in 1..10) around
    a centre moved by u*(r-1)*d/2 (u uniform in [-1, 1]), so it always contains the original."""
    start, end = windows[:, 0], windows[:, 1]
    length = end - start
    ratio = rng.integers(1, 11, size=len(windows)).astype(np.float64)
    shift = rng.uniform(-1.0, 1.0, size=len(windows))
    centre = (start + end) / 2 - shift * (ratio - 1) * length / 2
    return np.stack([centre - ratio * length / 2, centre + ratio * length / 2], axis=1)
