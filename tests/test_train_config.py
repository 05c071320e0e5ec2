"""The whole-run config: official YAMLs read unchanged, --set overrides, unknown keys, and the
checks that run before any worker is spawned."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from osgnet_bench.cli import cli
from osgnet_bench.errors import UserError
from osgnet_bench.launch_options import LaunchOptions
from osgnet_bench.workflows.demo import demo_sections, prepare_demo
from trainers.config import apply_overrides, load_run_config, parse_run_config
from trainers.distributed import torchrun_command

OFFICIAL = {
    "Ego4D-NLQ/v2/ego4d_nlq_v2_multitask_finetune_2e-4.yaml": (2e-4, 2304, 512, None),
    "Ego4D-NLQ/v2/ego4d_nlq_v2_egovideo_finetune_4e-4.yaml": (4e-4, 512, 1024, None),
    "Ego4D-NLQ/v1/ego4d_nlq_v1_multitask_egovlp_256_finetune_2e-4.yaml": (2e-4, 256, 512, "goal_step"),
    "Ego4D-NLQ/v1/ego4d_nlq_v1_multitask_egovlp_pretrain_2e-4.yaml": (2e-4, 256, 512, None),
    "goalstep/ego4d_goalstep_v2_baseline_2e-4.yaml": (2e-4, 2304, 512, "goal_step"),
    "tacos/tacos_baseline_1e-4.yaml": (1e-4, 2304, 512, "goal_step"),
    "tacos/tacos_c3d_glove_weight1_5e-5.yaml": (5e-5, 4096, 300, "goal_step"),
}


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory) -> Path:
    """A tiny synthetic NLQ dataset with the demo model config."""
    return prepare_demo(tmp_path_factory.mktemp("cfg"), "nlq", videos=6, queries_per_video=3, steps=48)


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_configs_are_read_unchanged(shared_reference, name):
    config = load_run_config(shared_reference / "configs" / name)
    lr, video_dim, text_dim, track = OFFICIAL[name]
    assert config.optim.learning_rate == lr
    assert config.optim.total_epochs == 10
    assert (config.dataset.input_vid_dim, config.dataset.input_txt_dim) == (video_dim, text_dim)
    assert config.track_name == track
    assert config.clip_grad_l2norm == 1.0 and config.val_start_epoch == 2 and config.seed == 12345678
    assert config.trainer.scale_lr and config.trainer.ema_decay == 0.999


def test_the_dead_reference_config_is_refused_clearly(shared_reference):
    name = "Ego4D-NLQ/v2/ego4d_nlq_v2_object_bimamba1_noobj_mlp_pretrainall_2e-4.yaml"
    with pytest.raises(UserError, match="ObjectLocPointTransformer"):
        load_run_config(shared_reference / "configs" / name)


def test_overrides_are_yaml_typed_and_reach_lists():
    document = {"opt": {"learning_rate": 1.0}, "model": {"stages": [{"n": 1}, {"n": 2}]}}
    apply_overrides(document, ["opt.learning_rate=1e-4", "opt.warmup=false", "model.stages.1.n=7",
                               "trainer.save_every=5", "loader.sizes=[1, 2]"])
    assert document["opt"] == {"learning_rate": 1e-4, "warmup": False}
    assert document["model"]["stages"] == [{"n": 1}, {"n": 7}]
    assert document["trainer"] == {"save_every": 5}
    assert document["loader"]["sizes"] == [1, 2]


@pytest.mark.parametrize("override, message", [
    ("opt.learnig_rate=1", r"opt.learnig_rate: unknown key; valid keys in opt: .*learning_rate"),
    ("trainr.device=cpu", r"trainr: unknown key; valid keys at the top level: .*trainer"),
    ("trainer.ema_decay=fast", r"trainer.ema_decay: must be a number, got 'fast'"),
    ("model.tasks.9=NLQ", "not an index"),
    ("model.tasks.99999999999999999999999=NLQ", "not an index"),
    ("no_equals_sign", "expected KEY=VALUE"),
    ("trainer.device=tpu", r"trainer.device: must be one of: auto, cpu, cuda; got 'tpu'"),
    ("model.text_encoder_cfg.1.layer_cfg.foo=1", r"model.text_encoder_cfg\[1\].layer_cfg.foo: unknown key"),
    ("opt={lr: 1, lr: 2}", r"duplicate key `lr`"),
])
def test_bad_overrides_are_clear_errors(demo_config, override, message):
    with pytest.raises(UserError, match=message):
        load_run_config(demo_config, [override])


def test_dataset_paths_resolve_against_the_working_directory(tmp_path):
    document = {**demo_sections(), "dataset": {"input_vid_dim": 64, "input_txt_dim": 32, "default_fps": 30,
                                               "video_feat_dir": "features/video"}}
    config = parse_run_config(document, "doc", base_dir=tmp_path)
    assert config.dataset.video_feat_dir == tmp_path / "features" / "video"
    assert config.document["dataset"]["video_feat_dir"] == str(tmp_path / "features" / "video")


def test_model_input_widths_win_over_dataset_widths(shared_reference):
    config = load_run_config(shared_reference / "configs" / "tacos" / "tacos_c3d_glove_weight1_5e-5.yaml")
    assert config.document["dataset"]["input_txt_dim"] == 512  # what the file says
    assert config.dataset.input_txt_dim == 300  # what the GloVe text stem reads


def test_torchrun_command_layouts():
    single = torchrun_command(LaunchOptions(nproc_per_node=2, max_restarts=3), "m", ["--x"])
    assert "--standalone" in single and "--nproc-per-node=2" in single and "--max-restarts=3" in single
    assert single[-3:] == ["-m", "m", "--x"]
    multi = torchrun_command(LaunchOptions(nproc_per_node=4, nnodes="2", rdzv_endpoint="host:29400"), "m", [])
    assert "--rdzv-endpoint=host:29400" in multi and "--nnodes=2" in multi and "--standalone" not in multi
    assert not LaunchOptions().uses_torchrun and LaunchOptions(nnodes="1").uses_torchrun


def invoke(args: list[str]):
    """Run the CLI in-process; a ``UserError`` ends up in ``result.exception``."""
    return CliRunner().invoke(cli, args)


def test_official_config_without_data_fails_before_spawning(shared_reference, tmp_path):
    config = shared_reference / "configs" / "Ego4D-NLQ" / "v2" / "ego4d_nlq_v2_multitask_finetune_2e-4.yaml"
    result = invoke(["train", "--config", str(config), "--nproc-per-node", "2", "--out", str(tmp_path / "run")])
    assert isinstance(result.exception, UserError)
    assert "ego4d_nlq_train_v2_label_lemma.jsonl: no such file" in str(result.exception)
    assert not (tmp_path / "run").exists()


def test_official_config_with_real_annotations_but_no_features(shared_reference, shared_data, tmp_path):
    config = shared_reference / "configs" / "Ego4D-NLQ" / "v2" / "ego4d_nlq_v2_multitask_finetune_2e-4.yaml"
    annotations = shared_data / "nlq_v2" / "ego4d_nlq_val_v2_label_lemma.jsonl"
    result = invoke(["train", "--config", str(config), "--nproc-per-node", "2", "--out", str(tmp_path / "run"),
                     "--set", f"dataset.train_jsonl_file={annotations}"])
    assert isinstance(result.exception, UserError)
    assert "video-feature store" in str(result.exception) and "visual_features_1.87fps" in str(result.exception)


def test_feature_width_mismatch_is_reported(demo_config, tmp_path):
    result = invoke(["train", "--config", str(demo_config), "--out", str(tmp_path / "run"),
                     "--set", "model.video_encoder_cfg.0.layer_cfg.n_in=48"])
    assert result.exit_code != 0
    assert isinstance(result.exception, UserError)
    assert "64-d features" in str(result.exception) and "48" in str(result.exception)


def test_class_table_width_mismatch_is_reported(demo_config, tmp_path):
    result = invoke(["train", "--config", str(demo_config), "--out", str(tmp_path / "run"),
                     "--set", "model.obj_encoder_cfg.0.layer_cfg.n_in=16"])
    assert isinstance(result.exception, UserError)
    assert "32-d embeddings" in str(result.exception) and "n_in is 16" in str(result.exception)


def save_weights(demo_config: Path, path: Path, *overrides: str) -> Path:
    """An official-layout checkpoint of the demo model changed by ``overrides``."""
    from trainers.model.osgnet import OSGNet

    model = OSGNet(load_run_config(demo_config, list(overrides)).model)
    torch.save({"epoch": 1, "state_dict": model.state_dict()}, path)
    return path


def test_checkpoint_that_does_not_fit_is_reported(demo_config, tmp_path):
    deeper = save_weights(demo_config, tmp_path / "deeper.pth.tar", "model.text_encoder_cfg.1.layer_num=2")
    result = invoke(["infer", "--checkpoint", str(deeper), "--out", str(tmp_path / "p.jsonl"),
                     "--config", str(demo_config), "--nproc-per-node", "2"])
    assert isinstance(result.exception, UserError)
    assert "does not match the model config" in str(result.exception) and "text_encoder" in str(result.exception)
    narrower = save_weights(demo_config, tmp_path / "narrow.pth.tar", "model.video_encoder_cfg.0.layer_cfg.n_hidden=16")
    result = invoke(["train", "--init", str(narrower), "--config", str(demo_config), "--nproc-per-node", "2",
                     "--out", str(tmp_path / "run")])
    assert isinstance(result.exception, UserError)
    assert "another shape" in str(result.exception) and "video_encoder" in str(result.exception)
    assert not (tmp_path / "p.jsonl").exists() and not (tmp_path / "run").exists()


def test_init_accepts_a_checkpoint_with_fewer_or_more_parts(demo_config, tmp_path):
    """Like the reference's finetune start: extra tensors are ignored, missing ones start fresh,
    and every tensor both have is loaded."""
    from trainers.model.osgnet import OSGNet
    from trainers.model.partial_load import (
        INITIALISED,
        LOADED,
        MIS_SHAPED,
        RESET,
        UNEXPECTED,
        load_matching,
    )
    from trainers.train.launch import check_init_weights

    deeper_overrides = ["model.text_encoder_cfg.1.layer_num=2"]
    for model_overrides, checkpoint_overrides, extra_status in (([], deeper_overrides, UNEXPECTED),
                                                                 (deeper_overrides, [], INITIALISED)):
        config = load_run_config(demo_config, model_overrides)
        path = save_weights(demo_config, tmp_path / f"init{len(checkpoint_overrides)}.pth.tar", *checkpoint_overrides)
        check_init_weights(config, path)
        model = OSGNet(config.model)
        saved = torch.load(path, weights_only=True)["state_dict"]
        report = load_matching(model, path)
        state = model.state_dict()
        assert not report.names(MIS_SHAPED)
        assert set(report.names(extra_status)) == set(saved) ^ set(state)
        assert {n.split(".")[0] for n in report.names(extra_status)} == {"text_encoder"}
        assert set(report.names(LOADED)) | set(report.names(RESET)) | set(report.names(INITIALISED)) == set(state)
        assert len(report.names(LOADED)) > 100
        assert all(torch.equal(state[name], saved[name]) for name in report.names(LOADED))


def test_unknown_config_key_in_a_file(tmp_path, demo_config):
    document = yaml.safe_load(demo_config.read_text())
    document["opt"]["lerning_rate"] = 1.0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    result = invoke(["train", "--config", str(bad), "--out", str(tmp_path / "run")])
    assert isinstance(result.exception, UserError) and "lerning_rate" in str(result.exception)
