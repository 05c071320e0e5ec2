"""NaQ narration pre-training: the object-free ObjectMamba block, the reference's pretrain
configs, narration records and stores, the loader without per-video query lists (the reference
crashed there), and synthetic narration data with its pretrain config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml

from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.errors import UserError
from trainers.config import load_model_config, load_run_config
from trainers.data.dataset import GroundingDataset
from trainers.model.object_mamba import ObjectMambaBlock
from trainers.model.osgnet import OSGNet
from trainers.model.summary import model_summary
from trainers.synth import SynthOptions, generate_dataset

V1_PRETRAIN = "Ego4D-NLQ/v1/ego4d_nlq_v1_multitask_egovlp_pretrain_2e-4.yaml"
V1_FINETUNE = "Ego4D-NLQ/v1/ego4d_nlq_v1_multitask_egovlp_256_finetune_2e-4.yaml"
OBJECT_MODULES = {"obj_attn", "ln_obj", "obj_mlp", "ln_obj_mlp", "gate_mlp", "ln_gate_mlp", "drop_path_obj_mlp"}


def object_branch_parameters(c: int) -> int:
    """Per ObjectMamba block: obj_attn 4(C²+C), obj_mlp 8C²+5C, gate_mlp (2C->4C->C) 12C²+5C,
    LayerNorms 2C + 2C + 4C, layer scale C (model.md section 7 at C = 512)."""
    return 24 * c * c + 23 * c


@pytest.fixture(scope="module")
def narration_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("naq")
    result = generate_dataset(out, SynthOptions(track="nlq", videos=6, steps=48, narrations=5, seed=3))
    return out, result


def test_object_free_block_has_only_the_text_path():
    torch.manual_seed(0)
    block = ObjectMambaBlock(32, num_heads=4, path_pdrop=0.0, object_branch=False)
    with_objects = ObjectMambaBlock(32, num_heads=4, path_pdrop=0.0)
    names = {n.split(".")[0] for n, _ in block.named_parameters()}
    assert names == {n.split(".")[0] for n, _ in with_objects.named_parameters()} - OBJECT_MODULES
    x, mask = torch.randn(2, 32, 16), torch.ones(2, 1, 16, dtype=torch.bool)
    mask[1, :, 11:] = False
    text, text_mask = torch.randn(2, 32, 5), torch.ones(2, 1, 5, dtype=torch.bool)
    objects, object_mask = torch.randn(6, 32, 16), torch.ones(6, 1, 16, dtype=torch.bool)
    out = block(x, mask, None, None, text, text_mask)
    assert torch.equal(out, block(x, mask, objects, object_mask, text, text_mask))  # objects are ignored
    # the text path alone: pure Mamba + FFN, then cross-attention + MLP
    m = mask.float()
    h = x * m + block.mamba(block.ln_mamba(x).transpose(1, 2), mask.squeeze(1)).transpose(1, 2)
    u = h + block.mamba_mlp(block.ln1(h)) * m
    attended, _ = block.cross_attn(block.ln3(u), m, block.ln3(text), text_mask)
    v = u * m + attended
    torch.testing.assert_close(out, v + block.mlp(block.ln2(v)) * m)


def test_reference_pretrain_config_builds_without_objects_and_vtm(shared_reference):
    pretrain = load_model_config(shared_reference / "configs" / V1_PRETRAIN)
    finetune = load_model_config(shared_reference / "configs" / V1_FINETUNE)
    assert not pretrain.object_branch and not pretrain.use_vtm and finetune.object_branch
    counts = model_summary(pretrain, device="cpu")
    full = model_summary(finetune, device="cpu")
    vtm = sum(full["components"][k] for k in ("shot_aggregator", "txt_aggregator", "similarity_head"))
    assert counts["num_parameters"] == full["num_parameters"] - vtm - 4 * object_branch_parameters(256)
    assert counts["num_parameters"] == counts["inference_parameters"] == 20_295_434


def test_reference_pretrain_dataset_has_no_query_lists(shared_reference):
    config = load_run_config(shared_reference / "configs" / V1_PRETRAIN).dataset  # mul_query_input: False
    assert config.mul_query_input == 0
    assert config.object_feat_dir is None and config.lavila_caption_dir is None
    assert config.text_store_for("train").name == "narration_clip_token_features"
    assert config.text_store_for("val").name == "nlq_v2_clip_token_features"


def test_narration_records(narration_data):
    out, result = narration_data
    summary = json.loads((out / "synth.json").read_text())
    jsonl = out / summary["pretrain"]["jsonl"]
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    train_videos = {r.video_id for r in read_query_jsonl(out / summary["annotations"]["train"]["jsonl"])}
    assert len(rows) == summary["pretrain"]["narrations"] == 5 * len(train_videos)
    assert {r["video_id"] for r in rows} == train_videos
    for row in rows:
        assert set(row) == {"narration_query", "query_id", "duration", "video_id", "query_type", "timestamps"}
        assert row["query_type"] == "nlq_narration"
        assert re.fullmatch(re.escape(row["video_id"]) + r"_narrator-[12]_\d+", row["query_id"])
        assert re.fullmatch(r"#C C [a-z]+s the [a-z]+", row["narration_query"])
        (start, end), = row["timestamps"]
        assert 0 <= start < end <= row["duration"] + 16 / 30
    first = [r["query_id"].split("_", 1)[1] for r in rows[:5]]
    assert first == ["narrator-1_0", "narrator-2_0", "narrator-1_1", "narrator-2_1", "narrator-1_2"]
    records = read_query_jsonl(jsonl)  # narration_query is the text, query_id splits as usual
    assert records[0].query == rows[0]["narration_query"]
    assert records[0].annotation_uid == f"{rows[0]['video_id']}_narrator-1"


def test_synthetic_pretrain_config(narration_data):
    out, result = narration_data
    assert result.pretrain_config == out / "pretrain.yaml"
    pretrain = load_run_config(result.pretrain_config)
    finetune = load_run_config(result.config)
    assert not pretrain.model.object_branch and not pretrain.model.use_vtm
    assert finetune.model.object_branch and finetune.model.use_vtm
    assert pretrain.dataset.mul_query_input == 0
    assert pretrain.dataset.object_feat_dir is None and pretrain.dataset.lavila_caption_dir is None
    assert pretrain.dataset.text_feat_dir.name == "narration_text_lmdb"
    assert pretrain.dataset.val_text_feat_dir == finetune.dataset.text_feat_dir
    assert (pretrain.dataset.val_jsonl_file, pretrain.dataset.json_file) == (
        finetune.dataset.val_jsonl_file, finetune.dataset.json_file)


def test_narration_samples_train_the_pretrain_model(narration_data, one_thread):
    out, result = narration_data
    config = load_run_config(result.pretrain_config)
    dataset = GroundingDataset.from_config(config.dataset, "train", seed=0)
    samples = [dataset[0], dataset[1]]
    for sample in samples:
        assert sample.video_query_feats is sample.video_segments is sample.object_feats is sample.shots is None
        assert sample.query.startswith("#C C ") and sample.segments.shape == (1, 2)
        assert sample.query_feats.shape[0] == config.dataset.input_txt_dim
    torch.manual_seed(0)
    model = OSGNet(config.model).train()
    losses = model(samples)
    losses["final_loss"].backward()
    assert set(losses) == {"final_loss", "cls_loss", "reg_loss"}
    assert torch.isfinite(losses["final_loss"]) and losses["reg_loss"] > 0
    assert all(p.grad is not None for n, p in model.named_parameters() if not n.startswith("obj_encoder"))


def test_same_seed_same_narrations(narration_data, tmp_path):
    out, _ = narration_data
    generate_dataset(tmp_path, SynthOptions(track="nlq", videos=6, steps=48, narrations=5, seed=3))
    name = "annotations/format_unique_pretrain_data_v2.jsonl"
    assert (tmp_path / name).read_bytes() == (out / name).read_bytes()


def test_narrations_exist_for_nlq_only(tmp_path):
    with pytest.raises(UserError, match="NLQ clips only"):
        generate_dataset(tmp_path, SynthOptions(track="goalstep", videos=4, narrations=3))
    with pytest.raises(UserError, match="--narrations must be 0 or more"):
        generate_dataset(tmp_path, SynthOptions(track="nlq", videos=4, narrations=-1))


def test_synth_cli_flag(tmp_path):
    from click.testing import CliRunner

    from osgnet_bench.cli import cli

    result = CliRunner().invoke(cli, ["synth", "--track", "nlq", "--out", str(tmp_path / "d"), "--videos", "4",
                                      "--steps", "32", "--narrations", "2"])
    assert result.exit_code == 0, result.output
    assert f"pretrain config: {tmp_path / 'd' / 'pretrain.yaml'}" in result.output
    assert yaml.safe_load(Path(tmp_path / "d" / "pretrain.yaml").read_text())["model"]["tasks"] == ["NLQ"]
    plain = CliRunner().invoke(cli, ["synth", "--track", "tacos", "--out", str(tmp_path / "t"), "--videos", "4",
                                     "--steps", "32", "--narrations", "2"])
    assert plain.exit_code != 0 and "NLQ clips only" in str(plain.exception or plain.output)
