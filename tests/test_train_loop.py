"""Training, inference and the main job in one process (CPU, a tiny synthetic NLQ dataset)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.cli import cli
from osgnet_bench.predictions import read_predictions
from osgnet_bench.workflows.demo import demo_test_jsonl, prepare_demo
from submissions.validate import validate_submission_file
from trainers.train.checkpoints import load_training_state
from trainers.train.loop import NonFiniteLossError

SHORT = ["--set", "opt.epochs=1", "--set", "opt.warmup_epochs=1", "--set", "trainer.deterministic=true"]


def invoke(args: list[str]):
    """Run the CLI in-process; a ``UserError`` ends up in ``result.exception``."""
    return CliRunner().invoke(cli, args)


def ok(args: list[str]) -> str:
    result = invoke(args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    prepare_demo(out, "nlq", videos=8, queries_per_video=4, steps=48)
    return out


@pytest.fixture(scope="module")
def demo_run(demo_dir) -> dict:
    """``osgnet-bench run`` on the small dataset (the demo config, all its epochs)."""
    output = ok(["run", "--track", "nlq", "--config", config_of(demo_dir), "--out", str(demo_dir), "--format", "json"])
    return json.loads(output[output.index("{"):])


def config_of(demo_dir: Path) -> str:
    return str(demo_dir / "demo_config.yaml")


def test_run_reports_model_and_random_rows(demo_dir, demo_run):
    assert set(demo_run) >= {"model", "random", "run_dir"}
    assert Path(demo_run["run_dir"]) == demo_dir
    for row in ("model", "random"):
        assert demo_run[row]["track"] == "nlq_v2"
        assert set(demo_run[row]["metrics"]) == {"R1@0.3", "R1@0.5", "R5@0.3", "R5@0.5", "mIoU", "rank_metric"}
        assert demo_run[row]["num_missing"] == 0
    summary = json.loads((demo_dir / "summary.json").read_text())
    assert summary["epochs"] == 7 and summary["best_checkpoint"].endswith("best.pt")
    saved = json.loads((demo_dir / "metrics_val.json").read_text())
    assert saved["model"]["metrics"] == demo_run["model"]["metrics"]
    # the table shows the model with the winning epoch's validation numbers
    best = max(h["metrics"]["rank_metric"] for h in summary["history"])
    assert demo_run["model"]["metrics"]["rank_metric"] == pytest.approx(best)


def test_rerunning_run_resumes_instead_of_retraining(demo_dir, demo_run):
    before = (demo_dir / "checkpoints" / "last.pt").stat().st_mtime_ns
    output = ok(["run", "--track", "nlq", "--config", config_of(demo_dir), "--out", str(demo_dir), "--format", "json"])
    assert json.loads(output[output.index("{"):])["model"] == demo_run["model"]
    assert (demo_dir / "checkpoints" / "last.pt").stat().st_mtime_ns == before


def test_run_on_test_split_writes_a_valid_submission(demo_dir, demo_run):
    best = str(demo_dir / "checkpoints" / "best.pt")
    output = ok(["run", "--track", "nlq", "--config", config_of(demo_dir), "--out", str(demo_dir), "--checkpoint", best,
                 "--split", "test", "--jsonl", str(demo_test_jsonl(demo_dir)), "--format", "json"])
    report = json.loads(output[output.index("{"):])
    assert report["validation"]["valid"] and report["validation"]["errors"] == 0
    records = [r for r in read_query_jsonl(demo_test_jsonl(demo_dir)) if r.has_text]
    assert report["validation"]["results"] == len(records)
    submission = json.loads(Path(report["submission"]).read_text())
    assert submission["challenge"] == "ego4d_nlq_challenge"
    assert all(len(entry["predicted_times"]) == 5 for entry in submission["results"])
    from osgnet_bench.tracks import get_track

    assert validate_submission_file(report["submission"], get_track("nlq"), records).is_valid


def test_train_infer_evaluate_round_trip(demo_dir, tmp_path):
    run = tmp_path / "run"
    ok(["train", "--config", config_of(demo_dir), "--out", str(run), *SHORT])
    for name in ("config.yaml", "log.jsonl", "summary.json", "checkpoints/last.pt", "checkpoints/best.pt",
                 "checkpoints/last_official.pth.tar", "checkpoints/best_official.pth.tar"):
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").iterdir())
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert {"train", "val"} <= {e["event"] for e in events}
    assert all(k in events[0] for k in ("final_loss", "cls_loss", "reg_loss", "lr", "samples_per_s"))
    summary = json.loads((run / "summary.json").read_text())
    predictions = run / "val.jsonl"
    ok(["infer", "--config", str(run / "config.yaml"), "--checkpoint", summary["best_checkpoint"],
        "--out", str(predictions)])
    records = [r for r in read_query_jsonl(demo_dir / "data" / "annotations" / "ego4d_nlq_val_v2_label_lemma.jsonl")
               if r.has_text]
    read = read_predictions(predictions)
    assert [p.key for p in read] == [r.key for r in records]
    for prediction, record in zip(read, records):
        assert 1 <= len(prediction.windows) <= 5
        assert (prediction.windows >= 0).all() and (prediction.windows <= record.duration + 1e-6).all()
        assert list(prediction.scores) == sorted(prediction.scores, reverse=True)
    output = ok(["evaluate", "--track", "nlq", "--gt", str(demo_dir / "data" / "annotations" / "nlq_val.json"),
                 "--pred", str(predictions), "--format", "json"])
    metrics = json.loads(output)["metrics"]
    validated = [h["metrics"] for h in summary["history"] if h["epoch"] == summary["best_epoch"]][0]
    assert metrics == pytest.approx(validated)


def test_resume_from_last_equals_an_uninterrupted_run(demo_dir, tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    ok(["train", "--config", config_of(demo_dir), "--out", str(whole), *SHORT])
    ok(["train", "--config", config_of(demo_dir), "--out", str(split), *SHORT, "--set", "opt.early_stop_epochs=1"])
    assert load_training_state(split / "checkpoints" / "last.pt")["epoch"] == 1
    refused = invoke(["train", "--config", config_of(demo_dir), "--out", str(split), *SHORT])
    assert "--resume auto" in str(refused.exception)
    ok(["train", "--config", config_of(demo_dir), "--out", str(split), *SHORT, "--resume", "auto"])
    a = load_training_state(whole / "checkpoints" / "last.pt")
    b = load_training_state(split / "checkpoints" / "last.pt")
    assert a["iteration"] == b["iteration"] > 0 and a["epoch"] == b["epoch"] == 2
    for part in ("model", "ema"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    assert a["optimizer"]["state"][0]["exp_avg"].equal(b["optimizer"]["state"][0]["exp_avg"])
    assert a["progress"]["history"] == b["progress"]["history"]


def test_official_format_checkpoints_predict_like_ours(demo_dir, demo_run, tmp_path):
    checkpoints = demo_dir / "checkpoints"
    ema = load_training_state(checkpoints / "best.pt")["ema"]
    official = tmp_path / "model_3_ddp.pth.tar"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in ema.items() if k != "loss_normalizer"}},
               official)
    exported = torch.load(checkpoints / "best_official.pth.tar", weights_only=True)
    # the reference's layout; its loader reads only checkpoint["state_dict"]
    assert {"epoch", "state_dict"} <= set(exported) <= {"epoch", "state_dict", "checksum", "track", "config"}
    assert set(exported["state_dict"]) == {k for k in ema if k != "loss_normalizer"}
    outputs = {}
    for name, path in (("ours", checkpoints / "best.pt"), ("export", checkpoints / "best_official.pth.tar"),
                       ("reference", official)):
        outputs[name] = tmp_path / f"{name}.jsonl"
        ok(["infer", "--config", config_of(demo_dir), "--checkpoint", str(path), "--out", str(outputs[name])])
    texts = {name: path.read_text() for name, path in outputs.items()}
    assert texts["ours"] == texts["export"] == texts["reference"]


def test_non_finite_loss_stops_with_the_last_good_checkpoint(demo_dir, tmp_path):
    run = tmp_path / "diverged"
    result = invoke(["train", "--config", config_of(demo_dir), "--out", str(run), "--save-every", "1",
                     "--set", "opt.learning_rate=1e30", "--set", "opt.warmup_epochs=0", "--set", "opt.epochs=2"])
    assert isinstance(result.exception, NonFiniteLossError)
    assert "non-finite" in str(result.exception) and "last good checkpoint" in str(result.exception)
    state = load_training_state(run / "checkpoints" / "last.pt")
    failed_at = int(str(result.exception).split("iteration ")[1].split(" ")[0])
    assert state["iteration"] == failed_at - 1 >= 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_init_starts_from_weights_and_reports_what_it_loaded(demo_dir, demo_run, tmp_path):
    run = tmp_path / "finetune"
    ok(["train", "--config", config_of(demo_dir), "--out", str(run), "--init",
        str(demo_dir / "checkpoints" / "best_official.pth.tar"), "--set", "opt.early_stop_epochs=1"])
    init = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()][0]
    assert init["event"] == "init" and init["loaded"] > 0
    assert init["initialised"] == init["unexpected"] == init["mis_shaped"] == 0 and init["reset"] == 1
    assert load_training_state(run / "checkpoints" / "last.pt")["epoch"] == 1
