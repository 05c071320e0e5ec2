"""Time the vectorised evaluator against the per-query loop, and the official Ego4D NLQ evaluator
when its script is at hand, on synthetic NLQ-like data.

For each size N the script draws N queries (one GT window each, 5-10 ranked predicted windows
jittered around it) in the form matching hands to the scorers (predictions as float arrays, GT
as the (start, end) tuples annotation records hold), scores them with both implementations,
checks that every number is identical and prints the times and the speed-up. Both get the same
input and the same number of timed runs; the best run of each is reported.

The official evaluator (``evaluate_ego4d_nlq.py`` of EGO4D/episodic-memory; not part of this
project) is found with ``--official PATH``, else under ``$OSGNET_BENCH_SHARED`` or ``../shared``
next to the repository (``reference/official/evaluate_ego4d_nlq.py``). When found, it scores the
same queries given in its own input form (the submission's ``results`` list and the raw NLQ
ground truth, built before timing) with the same number of timed runs; the script checks that
its recalls and mIoU agree with ours to 1e-9 and prints its time and our speed-up over it. Usage::

    python bench/evaluator.py                   # N = 5k, 50k, 500k, one run each
    python bench/evaluator.py --sizes 5000 50000 --repeats 3
    python bench/evaluator.py --official path/to/evaluate_ego4d_nlq.py
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from osgnet_bench.metrics import MetricSpec, Scores, score_loop, score_vectorised, spec_for_track
from osgnet_bench.tracks import get_track, recall_key

OFFICIAL_SCRIPT = Path("reference") / "official" / "evaluate_ego4d_nlq.py"
AGREEMENT = 1e-9


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


def official_inputs(pred: list[np.ndarray], gt: list[tuple]) -> tuple[list[dict], dict]:
    """The same queries as the official evaluator reads them: submission ``results`` entries and a
    raw NLQ ground truth (one clip and annotation per 1,000 queries)."""
    results = [
        {
            "clip_uid": f"clip-{q // 1000}",
            "annotation_uid": f"ann-{q // 1000}",
            "query_idx": q % 1000,
            "predicted_times": windows.tolist(),
        }
        for q, windows in enumerate(pred)
    ]
    clips = [
        {
            "clip_uid": f"clip-{c}",
            "annotations": [
                {
                    "annotation_uid": f"ann-{c}",
                    "language_queries": [
                        {"clip_start_sec": start, "clip_end_sec": end}
                        for ((start, end),) in gt[c * 1000 : (c + 1) * 1000]
                    ],
                }
            ],
        }
        for c in range((len(gt) + 999) // 1000)
    ]
    return results, {"videos": [{"clips": clips}]}


def find_official(given: str | None) -> Path | None:
    """``given``, else the script under ``$OSGNET_BENCH_SHARED`` or ``../shared``; None when absent."""
    if given:
        return Path(given)
    shared = Path(os.environ.get("OSGNET_BENCH_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))
    path = shared / OFFICIAL_SCRIPT
    return path if path.is_file() else None


def load_official(path: Path) -> ModuleType:
    """The official script as a module (it needs numpy and terminaltables)."""
    spec = importlib.util.spec_from_file_location("evaluate_ego4d_nlq", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def official_scores(module: ModuleType, results: list[dict], gt: dict, spec: MetricSpec) -> tuple[np.ndarray, float]:
    """(recall fractions [thresholds, k], mIoU fraction) of the official evaluator, its prints muted."""
    with contextlib.redirect_stdout(io.StringIO()):
        recall, miou = module.evaluate_nlq_performance(results, gt, list(spec.thresholds), list(spec.topk))
    return np.asarray(recall), float(miou)


def agrees(ours: Scores, official: tuple[np.ndarray, float], spec: MetricSpec) -> bool:
    """Every recall and the mIoU of ours within ``AGREEMENT`` of the official ones (in percent)."""
    recall, miou = official
    close = [
        abs(ours.recall[recall_key(k, threshold)] - 100.0 * recall[t][r]) <= AGREEMENT
        for t, threshold in enumerate(spec.thresholds)
        for r, k in enumerate(spec.topk)
    ]
    return all(close) and abs(ours.miou - 100.0 * miou) <= AGREEMENT


def best_time(repeats: int, function: Callable[..., Any], *args: Any) -> tuple[float, Any]:
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
    parser.add_argument("--official", default=None, help="path of the official evaluate_ego4d_nlq.py")
    args = parser.parse_args()
    spec = spec_for_track(get_track("nlq"))
    official_path = find_official(args.official)
    official = load_official(official_path) if official_path else None
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, numpy {np.__version__}; best of {args.repeats} run(s) each"
    )
    print(f"official evaluator: {official_path if official else 'not found (--official PATH)'}")
    print(
        f"{'queries':>9} {'loop s':>9} {'vectorised s':>13} {'speed-up':>9}  identical  "
        f"{'official s':>10} {'vs official':>11}  agrees  R1@0.3  mIoU"
    )
    for num in args.sizes:
        pred, gt = synthetic_queries(num, args.seed)
        loop_s, loop_scores = best_time(args.repeats, score_loop, pred, gt, spec)
        vector_s, vector_scores = best_time(args.repeats, score_vectorised, pred, gt, spec)
        identical = vector_scores == loop_scores
        official_cells = f"{'-':>10} {'-':>11}  {'-':>6}"
        if official:
            results, raw_gt = official_inputs(pred, gt)
            official_s, official_result = best_time(args.repeats, official_scores, official, results, raw_gt, spec)
            agreement = agrees(vector_scores, official_result, spec)
            official_cells = f"{official_s:>10.3f} {official_s / vector_s:>10.1f}x  {agreement!s:>6}"
            if not agreement:
                raise SystemExit(f"N={num}: the official evaluator gives {official_result}, ours {vector_scores}")
        print(
            f"{num:>9} {loop_s:>9.3f} {vector_s:>13.3f} {loop_s / vector_s:>8.1f}x  {identical!s:>9}  "
            f"{official_cells}  {vector_scores.recall['R1@0.3']:6.2f}  {vector_scores.miou:5.2f}"
        )
        if not identical:
            raise SystemExit(f"results differ at N={num}: loop {loop_scores}, vectorised {vector_scores}")


if __name__ == "__main__":
    main()
