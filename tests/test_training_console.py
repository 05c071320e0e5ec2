"""What ``train`` shows a user: plain progress lines in a redirected log, 1-based epoch numbers
that agree between the console, ``log.jsonl``, ``summary.json`` and the closing output, the
``--format`` choices, and the resume hint after Ctrl-C.

One tiny synthetic run (6 videos, batch 2: 6 steps per epoch, 3 epochs) is trained once for the
module in a subprocess whose stderr is a file, as in a batch job.
"""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from osgnet_bench.commands.train import command as train_command
from osgnet_bench.commands.train import render_summary
from osgnet_bench.errors import UserError
from osgnet_bench.launch_options import LaunchOptions
from osgnet_bench.progress import PlainProgress, progress_display
from osgnet_bench.report import FORMATS
from osgnet_bench.workflows.demo import prepare_demo
from trainers.train import launch

CLI = [sys.executable, "-m", "osgnet_bench"]
TINY = [
    "opt.epochs=2",
    "opt.warmup_epochs=1",
    "opt.learning_rate=1e-2",
    "init_rand_seed=1",
    "loader.batch_size=2",
    "trainer.cpu_threads=1",
]
TIMEOUT_S = 240
PROGRESS_LINE = re.compile(r"^epoch (\d+)/(\d+)  it (\d+)/(\d+)  loss \d+\.\d{4}  lr \S+  \d+\.\d samples/s$")
METRIC_LINE = re.compile(r"^epoch (\d+): ")


def sets(overrides: list[str]) -> list[str]:
    return [arg for override in overrides for arg in ("--set", override)]


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    return prepare_demo(tmp_path_factory.mktemp("data"), "nlq", videos=6, queries_per_video=4, steps=48)


@pytest.fixture(scope="module")
def logged_run(config, tmp_path_factory) -> tuple[Path, str, str]:
    """``train --format json`` with stderr redirected to a file: (run directory, stdout, stderr)."""
    root = tmp_path_factory.mktemp("logged")
    run, log = root / "run", root / "train.log"
    with open(log, "w", encoding="utf-8") as stderr:
        completed = subprocess.run(
            [*CLI, "train", "--config", str(config), "--out", str(run), *sets(TINY), "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=TIMEOUT_S,
        )
    console = log.read_text(encoding="utf-8")
    assert completed.returncode == 0, console
    return run, completed.stdout, console


def test_a_redirected_log_gets_plain_progress_lines(logged_run):
    _, _, console = logged_run
    assert "\r" not in console and "\x1b" not in console
    progress = [
        PROGRESS_LINE.match(line)
        for line in console.splitlines()
        if line.startswith("epoch ") and not METRIC_LINE.match(line)
    ]
    assert progress and all(progress), console
    seen = [(int(m[1]), int(m[2]), int(m[3]), int(m[4])) for m in progress if m]
    # the first and the last step of every epoch at least; a tiny run is faster than the interval
    for epoch in (1, 2, 3):
        assert (epoch, 3, 1, 6) in seen and (epoch, 3, 6, 6) in seen, seen
    assert len(console) < 4000


def test_plain_progress_waits_for_its_interval():
    out = io.StringIO()
    display = PlainProgress(out, total=100, desc="infer", unit="query", interval_s=3600)
    display.set_status("1.0 queries/s")
    for _ in range(100):
        display.update(1)
    assert out.getvalue().splitlines() == ["infer  query 1/100  1.0 queries/s", "infer  query 100/100  1.0 queries/s"]
    with progress_display(io.StringIO(), 5, "x", "it", enabled=False) as silent:
        silent.update(5)


def test_epoch_numbers_agree_everywhere(logged_run):
    run, stdout, console = logged_run
    closing = json.loads(stdout)
    summary = json.loads((run / "summary.json").read_text())
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    shown = [int(m[1]) for line in console.splitlines() if (m := METRIC_LINE.match(line))]
    assert shown == [1, 2, 3]
    assert [entry["epoch"] for entry in summary["history"]] == shown
    assert [e["epoch"] for e in events if e["event"] == "val"] == shown
    assert {e["epoch"] for e in events if e["event"] == "train"} <= set(shown)
    assert summary["epochs"] == summary["total_epochs"] == closing["epochs"] == 3
    best = max(summary["history"], key=lambda entry: entry["metrics"]["rank_metric"])
    assert closing["best_epoch"] == summary["best_epoch"] == best["epoch"] in shown
    assert closing["best_metric"] == summary["best_metric"] == best["metrics"]["rank_metric"]


def test_train_format_choices_and_the_readable_summary(logged_run):
    run, stdout, _ = logged_run
    option = next(param for param in train_command.params if param.name == "fmt")
    assert list(option.type.choices) == list(FORMATS) and option.default == "table"
    summary = json.loads((run / "summary.json").read_text())
    assert json.loads(render_summary(summary, "json")) == json.loads(stdout)
    table = render_summary(summary, "table").splitlines()
    assert table[0].startswith("track nlq_v2: trained 3 of 3 epochs")
    assert table[1].startswith(f"best: epoch {summary['best_epoch']} of 3, ")
    assert any(str(run / "checkpoints" / "best.pt") in line for line in table)
    assert all(len(line) <= 100 or "checkpoint:" in line for line in table)
    header, row = render_summary(summary, "csv").splitlines()
    assert header.split(",")[:2] == ["track", "epochs"] and row.startswith("nlq_v2,3,")
    assert "| track" in render_summary(summary, "markdown")


def test_ctrl_c_says_how_to_resume(config, tmp_path):
    run = tmp_path / "run out"
    process = subprocess.Popen(
        [*CLI, "train", "--config", str(config), "--out", str(run), *sets(TINY), "--set", "opt.epochs=40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("epoch 2/"):  # epoch 1 is saved
                break
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode in (130, 1), rest
    assert "Traceback" not in rest and "internal error" not in rest, rest
    hints = [line for line in rest.splitlines() if "--resume auto" in line]
    assert len(hints) == 1 and f"--out '{run}'" in hints[0] and "run the same command again" in hints[0], rest


def test_ctrl_c_under_torchrun_adds_the_hint(config, tmp_path, monkeypatch):
    def stopped(*args, **kwargs):
        raise UserError("stopped by SIGINT: the workers were stopped.", exit_code=130)

    monkeypatch.setattr(launch, "run_torchrun", stopped)
    with pytest.raises(UserError) as caught:
        launch.train_session(config, TINY, tmp_path / "run", None, None, None, LaunchOptions(nproc_per_node=2))
    assert caught.value.exit_code == 130
    assert "stopped by SIGINT" in str(caught.value) and "nothing to continue" in str(caught.value)
    assert "--resume auto" in str(caught.value) and "\n" not in str(caught.value)
