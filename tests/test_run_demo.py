"""The main job's built-in demo: synthetic data, a small OSGNet trained on CPU, the metrics beside
a random-guess baseline, all from ``osgnet-bench run --track nlq`` with nothing else given."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DEMO_BUDGET_S = 300


def test_demo_beats_random_by_a_wide_margin(tmp_path):
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", "from osgnet_bench.cli import main; main()", "run", "--track", "nlq", "--format", "json"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    model, random = report["model"]["metrics"], report["random"]["metrics"]
    assert model["R1@0.5"] >= 5 * random["R1@0.5"]
    assert model["R1@0.5"] >= random["R1@0.5"] + 15
    assert model["R1@0.3"] > random["R1@0.3"] + 15
    assert report["model"]["num_evaluated"] == report["random"]["num_evaluated"] > 30
    assert Path(report["run_dir"]) == Path("runs") / "demo-nlq"
    assert (tmp_path / report["run_dir"] / "checkpoints" / "best.pt").is_file()
    assert elapsed < DEMO_BUDGET_S
