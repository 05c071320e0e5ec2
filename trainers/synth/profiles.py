"""Per-track statistics of the synthetic data, scaled-down versions of pipeline.md §1.5.

Lengths are in feature steps (``steps`` is the typical video length the user asks for).

| track | video length | GT window (median, cells) | queries per video | labels per query |
|---|---|---|---|---|
| NLQ v2 | 80% exactly ``steps`` (the 480 s clips), else 0.45-2.5x | 8, long tail | ~Poisson(mean) | 1.13, 16% empty |
| GoalStep | log-normal around 1.5x ``steps``, 0.25-5x | 16 (steps), 5 (substeps) | ~mean (steps + substeps) | 1.6 |
| TACoS | log-normal around ``steps``, 0.35-4x | 12 | ~Poisson(mean) | 2.0 |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackProfile:
    """What differs between the synthetic tracks."""

    name: str
    fps: float
    window_median: float  # GT window length, feature cells
    window_sigma: float  # log-normal spread of window lengths
    empty_label_prob: float  # queries whose label list is empty
    noisy_label_prob: float  # queries with one extra wrong-class label entry
    surface_prob: float  # queries that also name a surface ("... on the board")
    distractor_ratio: float  # unqueried events per query (same noun or verb, other pairing)
    query_type: str

    def draw_num_steps(self, steps: int, rng: np.random.Generator) -> int:
        """The feature length of one video."""
        if self.name == "nlq":
            factor = 1.0 if rng.random() < 0.8 else rng.uniform(0.45, 2.5)
        elif self.name == "goalstep":
            factor = float(np.clip(1.5 * np.exp(0.7 * rng.standard_normal()), 0.25, 5.0))
        else:
            factor = float(np.clip(np.exp(0.6 * rng.standard_normal()), 0.35, 4.0))
        return max(32, int(round(steps * factor)))

    def draw_window_lengths(self, count: int, num_steps: int, rng: np.random.Generator, median: float | None = None) -> np.ndarray:
        """``count`` GT window lengths in cells (log-normal, at least 0.5 cell, at most T/4)."""
        centre = self.window_median if median is None else median
        lengths = centre * np.exp(self.window_sigma * rng.standard_normal(count))
        return np.clip(lengths, 0.5, max(1.0, num_steps / 4))

    def draw_num_queries(self, mean: float, rng: np.random.Generator) -> int:
        return max(1, 1 + int(rng.poisson(max(mean - 1, 0))))


PROFILES = {
    "nlq": TrackProfile("nlq", 30.0, 8.0, 0.9, 0.16, 0.13, 0.0, 0.4, "nlq"),
    "goalstep": TrackProfile("goalstep", 30.0, 16.0, 0.7, 0.10, 0.15, 0.45, 0.3, "goal_step"),
    "tacos": TrackProfile("tacos", 29.4, 12.0, 0.8, 0.05, 0.10, 0.85, 0.4, "tacos"),
}
