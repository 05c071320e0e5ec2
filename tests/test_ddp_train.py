"""Two-process DDP (torchrun, gloo on CPU): training, a worker killed mid-epoch and restarted by
torchrun, and sharded inference. Each torchrun launch costs a few seconds, so launches are few.

Workers are killed through the trainer's fault points (``trainers.train.faults``): a
``sitecustomize.py`` on ``PYTHONPATH`` registers the callback in every process torchrun starts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.cli import cli
from osgnet_bench.metrics import evaluate
from osgnet_bench.predictions import read_predictions
from osgnet_bench.tracks import get_track
from osgnet_bench.workflows.demo import prepare_demo
from trainers.train.checkpoints import load_training_state

pytestmark = pytest.mark.slow

COMMON = ["--nproc-per-node", "2", "--save-every", "3", "--set", "opt.epochs=1", "--set", "opt.warmup_epochs=1",
          "--set", "trainer.deterministic=true", "--set", "trainer.init_timeout_s=60"]


def ok(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    return prepare_demo(tmp_path_factory.mktemp("ddp"), "nlq", videos=12, queries_per_video=4, steps=48)


@pytest.fixture(scope="module")
def uninterrupted(config, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("whole")
    ok(["train", "--config", str(config), "--out", str(run), *COMMON])
    return run


CRASH_HOOK = """
import os

from trainers.train import faults


def _crash(name, details):
    if (name == "before_step" and details["iteration"] == {iteration} and details["rank"] == {rank}
            and os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"):
        {action}


faults.register(_crash)
"""


def install_crash(tmp_path: Path, monkeypatch, iteration: int, rank: int, action: str = "os._exit(75)") -> None:
    """Every Python process started from now on runs ``action`` on ``rank`` just before optimiser
    step ``iteration + 1`` of the first attempt."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(CRASH_HOOK.format(iteration=iteration, rank=rank, action=action))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))


def events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_two_process_training_writes_one_log_and_validates_on_gathered_predictions(config, uninterrupted):
    summary = json.loads((uninterrupted / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["epochs"] == 2
    assert len(list((uninterrupted / "tensorboard").iterdir())) == 1  # rank 0 only
    state = load_training_state(uninterrupted / "checkpoints" / "last.pt")
    assert len(state["rng"]) == 2  # both ranks' generators are saved
    val_events = [e for e in events(uninterrupted) if e["event"] == "val"]
    assert len(val_events) == 2
    # scoring the saved EMA weights offline with the same 2-process sharding gives the logged numbers
    predictions = uninterrupted / "val.jsonl"
    ok(["infer", "--config", str(uninterrupted / "config.yaml"), "--checkpoint",
        str(uninterrupted / "checkpoints" / "last.pt"), "--out", str(predictions), "--nproc-per-node", "2"])
    annotations = config.parent / "data" / "annotations"
    queries = [r for r in read_query_jsonl(annotations / "ego4d_nlq_val_v2_label_lemma.jsonl") if r.has_text]
    read = read_predictions(predictions)
    assert [p.key for p in read] == [r.key for r in queries]  # every query once, in file order
    track = get_track("nlq_v2")
    metrics = evaluate(load_annotations(annotations / "nlq_val.json", track), read, track).metrics
    assert metrics == pytest.approx({k: v for k, v in val_events[-1].items()
                                     if k not in ("event", "step", "time", "epoch", "queries_per_s")})


def test_killed_worker_is_restarted_and_the_run_ends_where_an_uninterrupted_one_does(
        config, uninterrupted, tmp_path, monkeypatch):
    whole = load_training_state(uninterrupted / "checkpoints" / "last.pt")
    crash_at = whole["iteration"] - 2  # mid-epoch, after the --save-every checkpoint at iteration 3
    install_crash(tmp_path, monkeypatch, crash_at, rank=1)
    run = tmp_path / "crashed"
    ok(["train", "--config", str(config), "--out", str(run), *COMMON, "--max-restarts", "1"])
    resumed = [e for e in events(run) if e["event"] == "resume"]
    assert len(resumed) == 1 and resumed[0]["restart"] == 1
    assert 0 < resumed[0]["step"] <= crash_at
    crashed = load_training_state(run / "checkpoints" / "last.pt")
    assert crashed["iteration"] == whole["iteration"] and crashed["epoch"] == whole["epoch"]
    for part in ("model", "ema"):
        assert all(torch.equal(whole[part][k], crashed[part][k]) for k in whole[part]), part
    assert crashed["progress"]["history"] == whole["progress"]["history"]


def test_a_crash_without_restarts_is_a_clear_error(config, tmp_path, monkeypatch):
    install_crash(tmp_path, monkeypatch, 1, rank=0)
    run = tmp_path / "r"
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", str(run), *COMMON])
    assert result.exit_code == 1
    message = str(result.exception)
    assert "a worker process failed" in message and str(run / "workers.log") in message
