"""ModelConfig from official YAML files: merged defaults, the values the model reads, quirks, and
clear errors for configs it cannot build."""

from __future__ import annotations

import copy

import pytest
import yaml
from tiny_model import tiny_config_document

from osgnet_bench.errors import UserError
from trainers.config import (
    load_model_config,
    load_run_config,
    parse_model_config,
    parse_run_config,
)
from trainers.model.config import Quirks


def test_nlq_v2_values(shared_reference):
    path = shared_reference / "configs/Ego4D-NLQ/v2/ego4d_nlq_v2_multitask_finetune_2e-4.yaml"
    config = load_model_config(path)
    assert (config.embed_dim, config.num_heads, config.max_seq_len) == (512, 4, 2560)
    assert (config.video_stem.in_dim, config.text_stem.in_dim, config.object_stem.in_dim) == (2304, 512, 512)
    assert config.text_stem.hidden_dim == 512 and config.video_stem.kernel_size == 3
    assert (config.num_text_blocks, config.num_object_blocks, config.num_video_blocks) == (4, 4, 4)
    assert config.fpn_strides == (1, 2, 4, 8, 16, 32, 64)
    assert config.max_stride == 512 and config.padded_length(900) == 1024
    assert config.vtm_loss_weight == 1.5 and config.use_vtm and not config.text_abs_pe
    assert config.decode.nms_sigma == 0.75 and config.decode.max_seg_num == 5
    assert config.quirks == Quirks()
    dataset = load_run_config(path).dataset
    assert dataset.feat_stride == 16.0 and dataset.num_frames == 16.0 and dataset.default_fps == 30.0


def test_tacos_scratch_values(shared_reference):
    path = shared_reference / "configs/tacos/tacos_c3d_glove_weight1_5e-5.yaml"
    config = load_model_config(path)
    assert config.text_abs_pe
    assert (config.text_stem.in_dim, config.text_stem.hidden_dim, config.text_stem.out_dim) == (300, 300, 512)
    assert config.video_stem.in_dim == 4096 and config.vtm_loss_weight == 1.0
    assert config.max_seq_len == 3072
    assert load_run_config(path).dataset.default_fps == 29.4


def test_pretraining_config_builds_without_object_branch(shared_reference):
    config = load_model_config(
        shared_reference / "configs/Ego4D-NLQ/v1/ego4d_nlq_v1_multitask_egovlp_pretrain_2e-4.yaml")
    assert not config.object_branch and not config.use_vtm


def test_max_seq_len_is_the_dataset_sections():
    """The model has no timing keys of its own: max_seq_len is handed over from ``dataset:``."""
    document = tiny_config_document(max_seq_len=1536)
    assert parse_model_config(document).max_seq_len == 1536
    document["model"]["max_seq_len"] = 99  # dead in the reference too (overwritten by dataset.max_seq_len)
    assert parse_model_config(document).max_seq_len == 1536
    for key in ("feat_stride", "num_frames", "default_fps"):
        assert not hasattr(parse_model_config(document), key)


def test_other_mamba_architectures_are_refused():
    document = tiny_config_document()
    document["model"]["video_encoder_cfg"][1]["layer_cfg"]["mamba_arch"] = ["mamba1", "mlp"]
    with pytest.raises(UserError, match="mamba_arch"):
        parse_model_config(document)


def test_reference_defaults_fill_missing_keys():
    document = tiny_config_document()
    del document["model"]["regression_range"], document["dataset"]["num_frames"]
    with pytest.raises(UserError, match="6 ranges but the FPN has 7 levels"):
        parse_model_config(document)
    document["model"]["multiscale_encoder_cfg"][0]["layer_num"] = 5
    document["model"]["multiscale_encoder_cfg"][1]["layer_cfg"]["in_channels"] = [32] * 6
    document["model"]["nlq_heads_cfg"]["reg_head_cfg"]["fpn_levels"] = 6
    config = parse_run_config(document, "doc")
    assert config.model.regression_range[1] == (4.0, 8.0) and len(config.model.regression_range) == 6
    assert config.dataset.num_frames == 32.0


def test_quirks_can_be_switched_off():
    document = tiny_config_document()
    document["model"]["quirks"] = {"qformer_fc_padding": False, "half_clip_time_offset": False}
    quirks = parse_model_config(document).quirks
    assert not quirks.qformer_fc_padding and not quirks.half_clip_time_offset
    assert quirks.vtm_loss_over_normalizer


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: m.update(n_heads=4), r"bad.yaml: model.n_heads: unknown key; valid keys in model: .*nlq_heads_cfg"),
    (lambda m: m.update(quirks={"typo": True}), r"model.quirks.typo: unknown key.*qformer_fc_padding"),
    (lambda m: m["nlq_heads_cfg"].update(max_seg_num="five"), r"model.nlq_heads_cfg.max_seg_num: must be an integer"),
    (lambda m: m["nlq_heads_cfg"].pop("loss_normalizer"), r"model.nlq_heads_cfg.loss_normalizer: required key"),
    (lambda m: m["text_encoder_cfg"][1].update(layer_type="ConvBlock"),
     r"model.text_encoder_cfg\[1\].layer_type: must be TransformerBlock; got 'ConvBlock'"),
    (lambda m: m["text_encoder_cfg"][1]["layer_cfg"].update(n_embd=48),
     r"text_encoder_cfg\[1\].layer_cfg.n_embd: is 48"),
    (lambda m: m.update(regression_range=[[0, 4]]), "regression_range"),
    (lambda m: m.pop("video_encoder_cfg"), r"model.video_encoder_cfg: required key is missing"),
    (lambda m: m["text_encoder_cfg"][1]["layer_cfg"].update(n_hed=4),
     (r"model.text_encoder_cfg\[1\].layer_cfg.n_hed: unknown key; valid keys in model.text_encoder_cfg\[1\].layer_cfg: "
      r"attn_pdrop, mha_win_size, n_ds_strides, n_embd, n_head, path_pdrop, proj_pdrop, use_cross_modal, use_rel_pe")),
    (lambda m: m["nlq_heads_cfg"]["cls_head_cfg"].update(prior_prb=0.01),
     r"model.nlq_heads_cfg.cls_head_cfg.prior_prb: unknown key.*prior_prob"),
    (lambda m: m["nlq_heads_cfg"]["reg_head_cfg"].update(kernel_size=5),
     r"reg_head_cfg.kernel_size: is 5 but cls_head_cfg.kernel_size is 3"),
    (lambda m: m["multiscale_encoder_cfg"][1]["layer_cfg"].update(out_channel=16), r"multiscale_encoder_cfg\[1\]"),
    (lambda m: m["video_encoder_cfg"][0]["layer_cfg"].update(with_ln=False), r"layer_cfg.with_ln: must be true"),
    (lambda m: m["video_encoder_cfg"][0]["layer_cfg"].update(kernel_size=4), r"kernel_size: must be odd"),
    (lambda m: m.update(tasks=["VTM"]), r"model.tasks: must include NLQ"),
    (lambda m: m.pop("vtm_heads_cfg"), r"model.vtm_heads_cfg: is required when `tasks` includes VTM"),
    (lambda m: m["vtm_heads_cfg"].update(txt_aggregator_cfg={"layer_type": "QFormerLayer", "layer_cfg": {
        "self_mixer_cfg": {"block_type": "MaskedMHCA", "block_cfg": {"n_head": 2, "n_embd": 32}},
        "path_pdrop": 0.0, "query_num": 5, "num_layer": 1}}), r"txt_aggregator_cfg: must equal shot_aggregator_cfg"),
    (lambda m: m["vtm_heads_cfg"]["similarity_head_cfg"]["layer_cfg"].update(x_dim=16),
     r"similarity_head_cfg.layer_cfg.x_dim: is 16, but the model width is 32"),
])
def test_bad_configs_name_the_key(edit, message):
    document = copy.deepcopy(tiny_config_document())
    edit(document["model"])
    with pytest.raises(UserError, match=message):
        parse_model_config(document, "bad.yaml")


def test_unreadable_files(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_model_config(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: {text_encoder_cfg: [\n")
    with pytest.raises(UserError, match="invalid YAML at line"):
        load_model_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(UserError, match="mapping"):
        load_model_config(scalar)


def test_round_trip_through_yaml_text(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_document(width=48)))
    assert load_model_config(path).embed_dim == 48
