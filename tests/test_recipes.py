"""The pretrain -> finetune -> evaluate recipe through the CLI on synthetic data, and the
commands docs/recipes.md gives.

The model is the built-in demo's (osgnet_bench/workflows/demo.yaml: width 32, pad unit 128) so that the
whole recipe trains in well under a minute on one CPU thread: narration pre-training with the
object branch off, then finetuning with it on, once from the pretrained weights and once from
scratch, on the same batches.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from osgnet_bench.cli import COMMANDS
from osgnet_bench.cli import cli as osgnet_cli

REPO = Path(__file__).resolve().parent.parent
DEMO_MODEL = REPO / "osgnet_bench" / "workflows" / "demo.yaml"


@pytest.fixture()
def restore_threads():
    """The trainer sets one CPU thread (the demo's trainer.cpu_threads) in this process."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def cli(*args: str) -> str:
    result = CliRunner().invoke(osgnet_cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output[-3000:]
    return result.output


def demo_config(dataset: dict, object_branch: bool) -> dict:
    """The demo model and optimiser on a synthetic dataset section; one log line per iteration."""
    document = yaml.safe_load(DEMO_MODEL.read_text(encoding="utf-8"))
    document["dataset"] = copy.deepcopy(dataset)
    arch = "obj" if object_branch else "none"
    document["model"]["video_encoder_cfg"][1]["layer_cfg"]["mamba_arch"] = ["bimamba1", "mlp", arch]
    document["trainer"]["log_every"] = 1
    return document


def first_train_losses(run_dir: Path) -> dict:
    for line in (run_dir / "log.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["event"] == "train":
            return row
    raise AssertionError(f"no train event in {run_dir}/log.jsonl")


@pytest.mark.slow
def test_pretrain_finetune_evaluate_through_the_cli(tmp_path, monkeypatch, restore_threads):
    monkeypatch.chdir(tmp_path)
    out = cli("synth", "--track", "nlq", "--out", "data", "--videos", 12, "--steps", 96, "--narrations", 16)
    assert "pretrain config: " in out
    synth_pretrain = yaml.safe_load(Path("data/pretrain.yaml").read_text())
    synth_finetune = yaml.safe_load(Path("data/config.yaml").read_text())
    for name, dataset, object_branch in (("pretrain.yaml", synth_pretrain["dataset"], False),
                                          ("finetune.yaml", synth_finetune["dataset"], True)):
        Path(name).write_text(yaml.safe_dump(demo_config(dataset, object_branch)))

    cli("train", "--config", "pretrain.yaml", "--out", "runs/pretrain",
        "--set", "opt.epochs=2", "--set", "opt.warmup_epochs=1")
    pretrained = Path("runs/pretrain/checkpoints/last.pt")
    # validation during pre-training scores NLQ val queries (with their own token store), every epoch
    events = [json.loads(line) for line in Path("runs/pretrain/log.jsonl").read_text().splitlines()]
    validations = [e for e in events if e["event"] == "val"]
    assert [e["epoch"] for e in validations] == [1, 2, 3] and all("R1@0.3" in e for e in validations)
    one_epoch = ("--set", "opt.epochs=1", "--set", "opt.warmup_epochs=0")
    report = cli("train", "--config", "finetune.yaml", "--out", "runs/finetune", "--init", pretrained, *one_epoch)
    cli("train", "--config", "finetune.yaml", "--out", "runs/scratch", *one_epoch)

    assert f"init from {pretrained}" in report
    fresh = report[report.index("initialised fresh"):]
    for group in ("video_encoder.1.*.obj_attn", "video_encoder.1.*.gate_mlp", "video_encoder.1.*.obj_mlp"):
        assert group in fresh
    assert "loaded from the checkpoint" in report and "    text_encoder " in report

    # the same first batch (same seed and sampler): pre-trained weights start lower on both losses
    finetuned, scratch = first_train_losses(Path("runs/finetune")), first_train_losses(Path("runs/scratch"))
    assert finetuned["step"] == scratch["step"] == 1
    assert finetuned["final_loss"] < 0.9 * scratch["final_loss"]
    assert finetuned["cls_loss"] < scratch["cls_loss"]

    cli("infer", "--config", "finetune.yaml", "--checkpoint", "runs/finetune/checkpoints/best.pt",
        "--split", "val", "--out", "val_predictions.jsonl")
    scores = json.loads(cli("evaluate", "--track", "nlq", "--gt", "data/annotations/nlq_val.json",
                            "--pred", "val_predictions.jsonl", "--format", "json"))
    val_queries = json.loads(Path("data/synth.json").read_text())["counts"]["val"]["queries"]
    assert scores["num_evaluated"] == scores["num_gt"] == val_queries and scores["num_missing"] == 0
    assert {"R1@0.3", "R1@0.5", "R5@0.3", "R5@0.5"} <= set(scores["metrics"])
    assert sum(1 for _ in open("val_predictions.jsonl", encoding="utf-8")) == val_queries


def recipe_commands() -> list[list[str]]:
    """Every ``osgnet-bench ...`` command line of docs/recipes.md (continuation lines joined)."""
    text = (REPO / "docs" / "recipes.md").read_text(encoding="utf-8").replace("\\\n", " ")
    return [shlex.split(line.strip()) for line in text.splitlines() if line.strip().startswith("osgnet-bench ")]


def test_recipes_use_existing_commands_and_configs():
    commands = recipe_commands()
    assert len(commands) >= 20
    for words in commands:
        assert words[1] in COMMANDS, words
        for flag, value in zip(words, words[1:]):
            if flag == "--config" and value.startswith("configs/"):
                assert (REPO / value).is_file(), value
    configs = {w[w.index("--config") + 1] for w in commands if "--config" in w}
    assert {str(p.relative_to(REPO)) for p in (REPO / "configs").rglob("*.yaml")} <= configs


def test_recipes_state_the_reference_gpu_counts_and_lr_rule():
    text = (REPO / "docs" / "recipes.md").read_text(encoding="utf-8")
    for fact in ("2 x 4", "4 x 4", "4 x 1", "4 x 2", "--set opt.learning_rate=", "--nproc-per-node"):
        assert fact in text, fact
    assert re.search(r"learning_rate\s*[x×*]\s*(the )?number of processes", text)
