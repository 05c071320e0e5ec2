"""Time the vectorised evaluator against the per-query loop on synthetic NLQ-like data.

For each size N the script draws N queries (one GT window each, 5-10 ranked predicted windows
jittered around it) in the form matching hands to the scorers (predictions as float arrays, GT
as the (start, end) tuples annotation records hold), scores them with both implementations,
checks that every number is identical and prints the times and the speed-up. Both get the same
input and the same number of timed runs; the best run of each is reported. Usage::

    python bench/evaluator.py                   # N = 5k, 50k, 500k, one run each
    python bench/evaluator.py --sizes 5000 50000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from osgnet_bench.metrics import score_loop, score_vectorised, spec_for_track
from osgnet_bench.tracks import get_track


def synthetic_queries(num: int, seed: int) -> tuple[list[np.ndarray], list[tuple]]:
    """(predicted windows: N arrays [k_i, 2] with 5 <= k_i <= 10, GT windows: N 1-tuples of pairs)."""
    rng = np.random.default_rng(seed)
    gt_start = rng.uniform(0.0, 470.0, num)
    gt_length = rng.exponential(10.0, num) + 0.1
    gt = np.stack([gt_start, gt_start + gt_length], axis=1)
    counts = rng.integers(5, 11, num)
    owner = np.repeat(np.arange(num), counts)
    centre = gt_start[owner] + gt_length[owner] / 2 + rng.normal(0.0, 12.0, len(owner))
    half = gt_length[owner] / 2 * rng.lognormal(0.0, 0.5, len(owner))
    windows = np.stack([centre - half, centre + half], axis=1)
    pred = np.split(windows, np.cumsum(counts)[:-1])
    return pred, [((start, end),) for start, end in gt.tolist()]


def best_time(repeats: int, function, *args) -> tuple[float, object]:
    """(fastest of ``repeats`` runs in seconds, the last run's result)."""
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 50_000, 500_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each implementation")
    args = parser.parse_args()
    spec = spec_for_track(get_track("nlq"))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, numpy {np.__version__}; best of {args.repeats} run(s) each"
    )
    print(f"{'queries':>9} {'loop s':>9} {'vectorised s':>13} {'speed-up':>9}  identical  R1@0.3  mIoU")
    for num in args.sizes:
        pred, gt = synthetic_queries(num, args.seed)
        loop_s, loop_scores = best_time(args.repeats, score_loop, pred, gt, spec)
        vector_s, vector_scores = best_time(args.repeats, score_vectorised, pred, gt, spec)
        identical = vector_scores == loop_scores
        print(
            f"{num:>9} {loop_s:>9.3f} {vector_s:>13.3f} {loop_s / vector_s:>8.1f}x  {identical!s:>9}  "
            f"{vector_scores.recall['R1@0.3']:6.2f}  {vector_scores.miou:5.2f}"
        )
        if not identical:
            raise SystemExit(f"results differ at N={num}: loop {loop_scores}, vectorised {vector_scores}")


if __name__ == "__main__":
    main()
