"""Per-track statistics of the synthetic data, scaled-down versions of pipeline.md §1.5.

Lengths are in feature steps (``steps`` is the typical video length the user asks for).

| track | video length | GT window (median, cells) | queries per video | labels per query |
|---|---|---|---|---|
| NLQ v2 | 80% exactly ``steps`` (the 480 s clips), else 0.45-2.5x | 8, long tail | ~Poisson(mean) | 1.13, 16% empty |
| GoalStep | log-normal around 1.5x ``steps``, 0.25-5x | 16 (steps), 20-40% of that (substeps) | ~mean | 1.6 |
| TACoS | log-normal around ``steps``, 0.35-4x | 12 | ~Poisson(mean) | 2.0 |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackProfile:
    """What differs between the synthetic tracks.

    A video is ``steps`` long with probability ``fixed_length_prob``; otherwise ``steps`` times
    a log-normal factor (median ``length_median``, spread ``length_sigma``) clipped to
    ``length_range``. GT windows are log-normal in cells (``window_median``, ``window_sigma``).
    """

    name: str
    fps: float
    fixed_length_prob: float
    length_median: float
    length_sigma: float
    length_range: tuple[float, float]
    window_median: float
    window_sigma: float
    has_substeps: bool  # GoalStep: steps with substeps inside them
    empty_label_prob: float  # queries whose label list is empty
    noisy_label_prob: float  # queries with one extra wrong-class label entry
    surface_prob: float  # queries that also name a surface ("... on the board")
    distractor_ratio: float  # unqueried events per query (same noun or verb, other pairing)

    def draw_num_steps(self, steps: int, rng: np.random.Generator) -> int:
        """The feature length of one video."""
        factor = 1.0
        if rng.random() >= self.fixed_length_prob:
            factor = float(
                np.clip(self.length_median * np.exp(self.length_sigma * rng.standard_normal()), *self.length_range)
            )
        return max(32, int(round(steps * factor)))

    def draw_window_lengths(self, count: int, num_steps: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` GT window lengths in cells (log-normal, at least 0.5 cell, at most T/4)."""
        lengths = self.window_median * np.exp(self.window_sigma * rng.standard_normal(count))
        return np.clip(lengths, 0.5, max(1.0, num_steps / 4))

    def draw_num_queries(self, mean: float, rng: np.random.Generator) -> int:
        return max(1, 1 + int(rng.poisson(max(mean - 1, 0))))


PROFILES = {
    "nlq": TrackProfile(
        name="nlq",
        fps=30.0,
        fixed_length_prob=0.8,
        length_median=1.1,
        length_sigma=0.5,
        length_range=(0.45, 2.5),
        window_median=8.0,
        window_sigma=0.9,
        has_substeps=False,
        empty_label_prob=0.16,
        noisy_label_prob=0.13,
        surface_prob=0.0,
        distractor_ratio=0.4,
    ),
    "goalstep": TrackProfile(
        name="goalstep",
        fps=30.0,
        fixed_length_prob=0.0,
        length_median=1.5,
        length_sigma=0.7,
        length_range=(0.25, 5.0),
        window_median=16.0,
        window_sigma=0.7,
        has_substeps=True,
        empty_label_prob=0.10,
        noisy_label_prob=0.15,
        surface_prob=0.45,
        distractor_ratio=0.3,
    ),
    "tacos": TrackProfile(
        name="tacos",
        fps=29.4,
        fixed_length_prob=0.0,
        length_median=1.0,
        length_sigma=0.6,
        length_range=(0.35, 4.0),
        window_median=12.0,
        window_sigma=0.8,
        has_substeps=False,
        empty_label_prob=0.05,
        noisy_label_prob=0.10,
        surface_prob=0.85,
        distractor_ratio=0.4,
    ),
}
