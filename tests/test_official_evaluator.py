"""``osgnet-bench evaluate`` against the official Ego4D NLQ evaluator, on generated predictions.

The official script (``evaluate_ego4d_nlq.py`` of EGO4D/episodic-memory, unchanged, MIT licence)
is not part of this project: it is imported from ``shared_dir() / "reference/official"`` (skipped
when absent, failing under ``CI=true``). Each prediction set below is written as an EvalAI
submission, scored by the official ``evaluate_nlq_performance`` and by the CLI (``--format
json``); every recall and mIoU must agree to 1e-9 (in percent), and the number of evaluated
queries must be the official "Evaluated: N".

The one documented difference (docs/metrics.md): a prediction whose IoU is 0/0 (a zero-length
window on an identical zero-length GT window) makes the official mIoU NaN; osgnet-bench counts
that IoU as 0, so its mIoU is the official per-query mean with those NaN terms read as 0, and
every recall is identical (``NaN > t`` is a miss in the official script too).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
import pytest
from conftest import shared_path

from osgnet_bench.cli import main

OFFICIAL_SCRIPT = "reference/official/evaluate_ego4d_nlq.py"
REAL_GT = "data/nlq_v2/nlq_val.json"
TOLERANCE = 1e-9
SEEDS = (0, 1)


class Query(NamedTuple):
    """A GT query with text: its key, its GT window and its clip's length in seconds."""

    clip_uid: str
    annotation_uid: str
    query_idx: int
    start: float
    end: float
    duration: float


@pytest.fixture(scope="module")
def official() -> ModuleType:
    """The official evaluator, imported from its file in the shared folder."""
    path = shared_path(OFFICIAL_SCRIPT)
    spec = importlib.util.spec_from_file_location("evaluate_ego4d_nlq", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def real_gt() -> Path:
    return shared_path(REAL_GT)


def queries_of(gt: dict) -> list[Query]:
    """Every language query with text of a raw NLQ file, in file order."""
    found = []
    for video in gt["videos"]:
        for clip in video["clips"]:
            duration = clip["video_end_sec"] - clip["video_start_sec"]
            for annotation in clip["annotations"]:
                for idx, entry in enumerate(annotation["language_queries"]):
                    if entry.get("query"):
                        found.append(Query(clip["clip_uid"], annotation["annotation_uid"], idx,
                                           entry["clip_start_sec"], entry["clip_end_sec"], duration))
    return found


def synthetic_gt(rng: np.random.Generator) -> dict:
    """A raw NLQ file of 4 clips x 2 annotations x 6 queries; one query in four has a zero-length
    GT window, and one query per annotation has no text (it keeps its index, as in the real data)."""
    clips = []
    for c in range(4):
        duration = float(rng.uniform(120.0, 480.0))
        annotations = []
        for a in range(2):
            entries = []
            for q in range(6):
                start = float(np.round(rng.uniform(0.0, duration - 30.0), 3))
                length = 0.0 if q % 4 == 1 else float(np.round(rng.exponential(8.0) + 0.5, 3))
                entries.append({"clip_start_sec": start, "clip_end_sec": start + length,
                                "query": "" if q == 5 else f"where is thing {c}-{a}-{q}?"})
            annotations.append({"annotation_uid": f"ann-{c}-{a}", "language_queries": entries})
        clips.append({"clip_uid": f"clip-{c}", "video_start_sec": 0.0, "video_end_sec": duration,
                      "clip_start_sec": 0.0, "clip_end_sec": duration, "annotations": annotations})
    return {"version": "1", "videos": [{"video_uid": "video-0", "clips": clips}]}


# ------------------------------------------------------------------ prediction sets: [start, end] lists per query


def random_windows(rng: np.random.Generator, query: Query, count: int = 5) -> list[list[float]]:
    starts = rng.uniform(0.0, query.duration, count)
    ends = np.minimum(starts + rng.exponential(10.0, count), query.duration)
    return np.stack([starts, ends], axis=1).tolist()


def exact(rng: np.random.Generator, query: Query) -> list[list[float]]:
    return [[query.start, query.end], *random_windows(rng, query, 4)]


def jittered(rng: np.random.Generator, query: Query) -> list[list[float]]:
    """The GT window moved by noise that grows with the rank (large noise can reverse a window)."""
    noise = rng.normal(0.0, 1.0, (5, 2)) * np.array([0.5, 2.0, 5.0, 10.0, 20.0])[:, None]
    return (np.array([query.start, query.end]) + noise).tolist()


def few(rng: np.random.Generator, query: Query) -> list[list[float]]:
    windows = jittered(rng, query)
    return windows[: 1 + int(rng.integers(0, 2))]


def zero_length(rng: np.random.Generator, query: Query) -> list[list[float]]:
    """Points: the GT start, a point inside the GT window, the GT end, then random points."""
    inside = float(rng.uniform(query.start, query.end)) if query.end > query.start else query.start
    points = [query.start, inside, query.end, *rng.uniform(0.0, query.duration, 2).tolist()]
    return [[t, t] for t in points]


def on_thresholds(rng: np.random.Generator, query: Query) -> list[list[float]]:
    """Windows built to have an IoU of exactly 0.3 or 0.5 with the GT window (as far as floats
    allow), so that the strict '>' rule decides."""
    length = query.end - query.start
    return [
        [query.start, query.start + 0.5 * length],
        [query.start, query.start + 0.3 * length],
        [query.start + 0.5 * length, query.end],
        [query.start - length, query.end],
        *random_windows(rng, query, 1),
    ]


PREDICTION_SETS: dict[str, Callable[[np.random.Generator, Query], list[list[float]]]] = {
    "random": lambda rng, query: random_windows(rng, query),
    "exact": exact,
    "jittered": jittered,
    "few windows": few,
    "zero-length windows": zero_length,
    "on the thresholds": on_thresholds,
}


def submission(queries: list[Query], make: Callable, seed: int, share: float = 1.0) -> list[dict]:
    """Results entries of one prediction set; ``share`` < 1 keeps a random part of the queries."""
    rng = np.random.default_rng(seed)
    kept = [q for q in queries if rng.uniform() < share]
    return [{"clip_uid": q.clip_uid, "annotation_uid": q.annotation_uid, "query_idx": q.query_idx,
             "predicted_times": make(rng, q)} for q in kept]


# ------------------------------------------------------------------ both evaluators


class Official(NamedTuple):
    recall: np.ndarray  # [thresholds, k] fractions
    miou: float  # fraction, NaN on a 0/0 IoU
    per_query_iou: list[float]  # the official per-query mIoU terms
    evaluated: int


def run_official(
    module: ModuleType, results: list[dict], gt: dict, thresholds: list[float], topk: list[int]
) -> Official:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), np.errstate(invalid="ignore", divide="ignore"):
        recall, miou, details = module.evaluate_nlq_performance(results, gt, thresholds, topk, per_instance=True)
    evaluated = re.search(r"Evaluated: (\d+) /", printed.getvalue())
    assert evaluated is not None, printed.getvalue()
    return Official(np.asarray(recall), float(miou), [float(v) for v in details["average_IoU"]], int(evaluated[1]))


def run_ours(capsys: pytest.CaptureFixture[str], gt: Path, pred: Path, thresholds: list[float], topk: list[int]) -> Any:
    arguments = ["evaluate", "--track", "nlq", "--gt", str(gt), "--pred", str(pred), "--format", "json",
                 "--thresholds", ",".join(map(str, thresholds)), "--topk", ",".join(map(str, topk))]
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err
    return json.loads(out)


def assert_same_numbers(
    module: ModuleType,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    gt_path: Path,
    gt: dict,
    results: list[dict],
    thresholds: list[float] | None = None,
    topk: list[int] | None = None,
) -> tuple[Official, Any]:
    thresholds, topk = thresholds or [0.3, 0.5], topk or [1, 5]
    pred = tmp_path / "submission.json"
    pred.write_text(json.dumps({"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": results}))
    theirs = run_official(module, results, gt, thresholds, topk)
    ours = run_ours(capsys, gt_path, pred, thresholds, topk)
    assert ours["num_evaluated"] == theirs.evaluated == len(results)
    for t, threshold in enumerate(thresholds):
        for r, k in enumerate(topk):
            key = f"R{k}@{threshold:g}"
            assert abs(ours["metrics"][key] - 100.0 * theirs.recall[t][r]) <= TOLERANCE, key
    if math.isnan(theirs.miou):
        assert math.isfinite(ours["metrics"]["mIoU"])
        expected = 100.0 * float(np.mean(np.nan_to_num(theirs.per_query_iou, nan=0.0)))
        assert abs(ours["metrics"]["mIoU"] - expected) <= TOLERANCE
    else:
        assert abs(ours["metrics"]["mIoU"] - 100.0 * theirs.miou) <= TOLERANCE
    return theirs, ours


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(PREDICTION_SETS))
def test_real_ground_truth(official, real_gt, capsys, tmp_path, name, seed):
    gt = json.loads(real_gt.read_text())
    results = submission(queries_of(gt), PREDICTION_SETS[name], seed)
    assert_same_numbers(official, capsys, tmp_path, real_gt, gt, results)


def test_real_ground_truth_partial_and_other_thresholds(official, real_gt, capsys, tmp_path):
    gt = json.loads(real_gt.read_text())
    results = submission(queries_of(gt), jittered, seed=2, share=0.3)
    theirs, ours = assert_same_numbers(official, capsys, tmp_path, real_gt, gt, results,
                                       thresholds=[0.1, 0.3, 0.5, 0.7], topk=[1, 3, 5, 10])
    assert ours["num_missing"] == len(queries_of(gt)) - len(results) > 0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(PREDICTION_SETS))
def test_synthetic_ground_truth(official, capsys, tmp_path, name, seed):
    gt = synthetic_gt(np.random.default_rng(100 + seed))
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(gt))
    results = submission(queries_of(gt), PREDICTION_SETS[name], seed)
    assert_same_numbers(official, capsys, tmp_path, gt_path, gt, results)


def test_zero_length_gt_matched_exactly_is_the_documented_nan_case(official, capsys, tmp_path):
    gt = synthetic_gt(np.random.default_rng(7))
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(gt))
    results = submission(queries_of(gt), exact, seed=7)
    theirs, ours = assert_same_numbers(official, capsys, tmp_path, gt_path, gt, results)
    assert math.isnan(theirs.miou) and math.isfinite(ours["metrics"]["mIoU"])
