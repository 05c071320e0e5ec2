"""The main job's built-in demo: synthetic data, a small OSGNet trained on CPU, the metrics beside
a random-guess baseline, all from ``osgnet-bench run --track nlq`` with nothing else given; run
again, it reuses the finished run and leaves every file as it was."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DEMO_BUDGET_S = 300


def run_demo(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from osgnet_bench.cli import main; main()",
            "run",
            "--track",
            "nlq",
            "--format",
            "json",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def run_files(run_dir: Path) -> dict[str, bytes]:
    """The bytes of every file of the run (the feature stores' lock files aside)."""
    return {
        str(path.relative_to(run_dir)): path.read_bytes()
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and path.name != "lock.mdb"
    }


def test_demo_beats_random_by_a_wide_margin_and_a_repeat_reuses_it(tmp_path):
    started = time.perf_counter()
    completed = run_demo(tmp_path)
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
    assert report["training"] == "trained"
    assert elapsed < DEMO_BUDGET_S

    run_dir = tmp_path / report["run_dir"]
    before = run_files(run_dir)
    repeated = run_demo(tmp_path)
    assert repeated.returncode == 0, repeated.stderr[-2000:]
    assert json.loads(repeated.stdout)["training"] == "reused"
    assert "reusing the finished run in runs/demo-nlq" in repeated.stderr
    assert run_files(run_dir) == before
