"""Time ensembling against the per-query Python oracle, and the whole ``submit`` command with
orjson against the standard library's JSON parser.

The script writes M synthetic prediction files of NLQ-val size (4,552 queries, 50 scored windows
each, full float precision as inference writes them) into a temporary directory, then for each
method:

1. ensembles the already-read predictions with the vectorised ``submissions.ensemble`` and with
   the straightforward per-query implementation ``submissions.ensemble_loop`` (joining the files
   per query in a dict), checks that all 5 windows and scores of every query are identical and
   prints the best of ``--repeats`` runs of each and the speed-up;
2. runs the whole ``osgnet-bench submit`` command (read, join, ensemble, validate, write) in a
   child process, ``--runs`` times with orjson (as shipped) and ``--runs`` times with the standard
   library's ``json`` in its place (the same code otherwise: the child replaces the orjson that
   ``osgnet_bench.files`` reads and writes JSON with), alternating the two; prints the best wall
   and CPU time of each, the CPU speed-up, whether both wrote the same submission, and the CPU
   time of validating the written submission alone;
3. times each stage of ``submit`` (read, join, ensemble, build and validate, write) in this
   process, best CPU time of ``--repeats`` runs.

The load average is printed before and after: on a busy machine wall times are inflated, and
the CPU times are the steadier figures.

Usage::

    python bench/ensemble.py                       # 5 files, 4552 queries, 50 windows
    python bench/ensemble.py --files 3 --queries 1000 --methods reference
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from osgnet_bench.predictions import Prediction, read_predictions, write_predictions
from osgnet_bench.tracks import get_track
from submissions.build import validated_submission
from submissions.ensemble import METHODS, EnsembleConfig, ensemble
from submissions.ensemble_loop import ensemble_query
from submissions.stack import stack_predictions
from submissions.validate import expected_challenge, validate_submission_file
from submissions.writer import write_submission


def synthetic_files(num_files: int, num_queries: int, num_windows: int, seed: int) -> list[list[Prediction]]:
    """``num_files`` models answering the same queries: windows jittered around a hidden target,
    scores sorted descending."""
    rng = np.random.default_rng(seed)
    target_start = rng.uniform(0.0, 470.0, num_queries)
    target_length = rng.exponential(8.0, num_queries) + 0.5
    files = []
    for _ in range(num_files):
        centre = target_start[:, None] + target_length[:, None] / 2 + rng.normal(0.0, 15.0, (num_queries, num_windows))
        half = target_length[:, None] / 2 * rng.lognormal(0.0, 0.5, (num_queries, num_windows))
        windows = np.stack([np.maximum(centre - half, 0.0), centre + half], axis=2)
        scores = -np.sort(-rng.uniform(0.001, 1.0, (num_queries, num_windows)), axis=1)
        keys = [(f"clip-{q // 4}", f"annotation-{q // 4}", q % 4) for q in range(num_queries)]
        files.append([Prediction(*key, windows[q], scores[q]) for q, key in enumerate(keys)])
    return files


def oracle(files: list[list[Prediction]], config: EnsembleConfig) -> dict:
    """The per-query implementation: join the files in a dict, ensemble each query in Python."""
    per_query: dict = {}
    for model, predictions in enumerate(files):
        for prediction in predictions:
            assert prediction.scores is not None, "the synthetic files have scores"
            pairs = zip(prediction.windows.tolist(), prediction.scores.tolist(), strict=True)
            triples = [[start, end, score] for (start, end), score in pairs]
            per_query.setdefault(prediction.key, [[] for _ in files])[model] = triples[: config.windows_needed]
    return {key: ensemble_query(models, config) for key, models in per_query.items()}


def vectorised(files: list[list[Prediction]], config: EnsembleConfig) -> dict:
    """The shipped implementation, turned into the oracle's {key: [[start, end, score]] * 5}."""
    stack = stack_predictions(files, [str(i) for i in range(len(files))], config.windows_needed)
    top = ensemble(stack, config)
    triples = np.concatenate([top.windows, top.scores[:, :, None]], axis=2).tolist()
    return dict(zip(stack.keys, triples, strict=True))


def best_time(repeats: int, function: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """(fastest of ``repeats`` runs in seconds, the last run's result)."""
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, value


# The child process of a timed ``submit``: the CLI as installed, or with the standard library's
# json module in place of orjson where osgnet_bench.files parses JSON.
CHILD = {
    "orjson": "import sys\nfrom osgnet_bench.cli import main\nmain(sys.argv[1:])\n",
    "json": (
        "import json, sys, types\nimport osgnet_bench.files\n"
        "osgnet_bench.files.orjson = types.SimpleNamespace(\n"
        "    loads=json.loads, JSONDecodeError=json.JSONDecodeError,\n"
        "    dumps=lambda value: json.dumps(value, separators=(',', ':'), ensure_ascii=False).encode())\n"
        "from osgnet_bench.cli import main\nmain(sys.argv[1:])\n"
    ),
}


def time_commands(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """Best (wall seconds, CPU seconds) of ``runs`` runs of each command, each run in a child
    process, the commands alternating so that a change of machine load affects all alike."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            walls[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return {name: (min(walls[name]), min(cpus[name])) for name in commands}


def stage_times(paths: list[str], method: str, repeats: int) -> dict[str, float]:
    """Best CPU seconds of each stage of ``submit`` run in this process (reading, joining,
    ensembling, building and validating, writing), over ``repeats`` runs."""
    track, config = get_track("nlq"), EnsembleConfig(method=method)
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(repeats):
            start = time.process_time()
            laps = [start]
            files = [read_predictions(path) for path in paths]
            laps.append(time.process_time())
            stack = stack_predictions(files, paths, config.windows_needed)
            laps.append(time.process_time())
            top = ensemble(stack, config)
            laps.append(time.process_time())
            submission, _ = validated_submission(stack.keys, top, track, None, expected_challenge(track, None))
            laps.append(time.process_time())
            write_submission(str(Path(workdir) / "submission.json"), submission)
            laps.append(time.process_time())
            for name, before, after in zip(STAGES, laps, laps[1:], strict=False):
                best[name] = min(best.get(name, float("inf")), after - before)
    return best


STAGES = ("read", "join", "ensemble", "build+validate", "write")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages and the number of CPUs, e.g. ``1.02 0.87 0.60 on 2 CPUs``."""
    return " ".join(f"{load:.2f}" for load in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--queries", type=int, default=4552)
    parser.add_argument("--windows", type=int, default=50)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each ensemble implementation")
    parser.add_argument("--runs", type=int, default=3, help="submit runs per method and parser; the best is shown")
    args = parser.parse_args()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {platform.machine()}, {python}, numpy {np.__version__}, orjson {orjson.__version__}")
    print(
        f"{args.files} files x {args.queries} queries x {args.windows} windows; "
        f"best of {args.repeats} ensemble runs and of {args.runs} submit runs each"
    )
    print(f"load average before: {load_average()}")
    with tempfile.TemporaryDirectory() as workdir:
        paths = [str(Path(workdir) / f"model{i}.jsonl") for i in range(args.files)]
        synthetic = synthetic_files(args.files, args.queries, args.windows, args.seed)
        for path, predictions in zip(paths, synthetic, strict=True):
            write_predictions(path, predictions)
        read_s, files = best_time(1, lambda: [read_predictions(path) for path in paths])
        print(f"reading the files: {read_s:.2f} s")
        print(
            f"{'method':>10} {'per-query s':>12} {'vectorised s':>13} {'speed-up':>9}  identical  "
            f"{'json wall s':>11} {'json CPU s':>10} {'orjson wall s':>13} {'orjson CPU s':>12} {'CPU speed-up':>12}  "
            f"same JSON  {'validate CPU s':>14}"
        )
        for method in args.methods:
            config = EnsembleConfig(method=method)
            loop_s, expected = best_time(args.repeats, oracle, files, config)
            vector_s, got = best_time(args.repeats, vectorised, files, config)
            identical = got == expected
            pred_options = [option for path in paths for option in ("--pred", path)]
            outputs = {name: str(Path(workdir) / f"{method}.{name}.json") for name in CHILD}
            commands = {
                name: [
                    sys.executable,
                    "-c",
                    CHILD[name],
                    "submit",
                    "--track",
                    "nlq",
                    "--method",
                    method,
                    "--out",
                    outputs[name],
                    *pred_options,
                ]
                for name in CHILD
            }
            times = time_commands(commands, args.runs)
            same = json.loads(Path(outputs["json"]).read_text()) == json.loads(Path(outputs["orjson"]).read_text())
            start = time.process_time()
            validate_submission_file(outputs["orjson"], get_track("nlq"))
            validate_cpu = time.process_time() - start
            (json_wall, json_cpu), (fast_wall, fast_cpu) = times["json"], times["orjson"]
            print(
                f"{method:>10} {loop_s:>12.2f} {vector_s:>13.3f} {loop_s / vector_s:>8.1f}x  {str(identical):>9}  "
                f"{json_wall:>11.2f} {json_cpu:>10.2f} {fast_wall:>13.2f} {fast_cpu:>12.2f} "
                f"{json_cpu / fast_cpu:>11.2f}x  {str(same):>9}  {validate_cpu:>14.2f}"
            )
            if not identical:
                raise SystemExit(f"{method}: the vectorised ensemble differs from the per-query oracle")
            if not same:
                raise SystemExit(f"{method}: submit wrote different submissions with orjson and with json")
        print(f"stages of submit in this process, best CPU s of {args.repeats}:")
        for method in args.methods:
            stages = stage_times(paths, method, args.repeats)
            print(f"{method:>10} " + ", ".join(f"{name} {stages[name]:.3f}" for name in STAGES))
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
