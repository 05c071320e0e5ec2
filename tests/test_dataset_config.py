"""The ``dataset:`` section of official and synthetic configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from osgnet_bench.errors import UserError
from trainers.data.config import DatasetConfig, load_dataset_config


def test_every_official_config_reads_unchanged(shared_reference):
    configs = sorted(shared_reference.glob("configs/**/*.yaml"))
    assert len(configs) >= 8
    for path in configs:
        config = load_dataset_config(path, base_dir="/data")
        assert config.feat_stride == 16.0 and config.num_frames == 16.0
        assert config.default_fps in (30.0, 29.4)
        assert config.video_feat_dir.is_absolute()
    nlq = load_dataset_config(shared_reference / "configs/Ego4D-NLQ/v2/ego4d_nlq_v2_multitask_finetune_2e-4.yaml",
                              base_dir="/data")
    assert (nlq.input_vid_dim, nlq.input_txt_dim, nlq.max_seq_len, nlq.mul_query_input) == (2304, 512, 2560, 1000)
    assert nlq.val_jsonl_file == Path("/data/ego4d_data/ego4d_nlq_val_v2_label_lemma.jsonl")
    assert nlq.lavila_caption_dir.is_absolute()  # the authors' absolute path is kept, not rebased
    assert nlq.lavila_caption_dir.parts[-3:] == ("nlq", "lavila", "narration")
    pretrain = load_dataset_config(
        shared_reference / "configs/Ego4D-NLQ/v1/ego4d_nlq_v1_multitask_egovlp_pretrain_2e-4.yaml", base_dir="/data")
    assert pretrain.mul_query_input == 0 and pretrain.object_feat_dir is None


def test_paths_can_be_overridden(shared_reference, tmp_path):
    path = shared_reference / "configs/tacos/tacos_c3d_glove_weight1_5e-5.yaml"
    config = load_dataset_config(path, video_feat_dir=tmp_path / "c3d", lavila_caption_dir=None)
    assert config.video_feat_dir == tmp_path / "c3d"
    assert config.lavila_caption_dir.parts[-2:] == ("tacos", "lavila")
    assert config.input_vid_dim == 4096 and config.default_fps == 29.4
    assert config.text_store_for("val") == config.val_text_feat_dir
    with pytest.raises(UserError, match="cannot override input_vid_dim"):
        config.with_paths(input_vid_dim="3")


def test_relative_paths_resolve_against_base_dir():
    config = DatasetConfig.from_mapping(
        {"input_vid_dim": 8, "input_txt_dim": 4, "video_feat_dir": "feats/v", "text_feat_dir": "feats/t"},
        "c.yaml", base_dir="/base")
    assert config.video_feat_dir == Path("/base/feats/v")
    assert config.text_store_for("val") == Path("/base/feats/t")
    assert config.jsonl_for("train") is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"input_vid_dim": 8, "input_txt_dim": 4, "video_feats": "x"}, r"unknown key\(s\) in 'dataset': video_feats"),
        ({"input_txt_dim": 4}, "needs 'input_vid_dim'"),
        ({"input_vid_dim": "wide", "input_txt_dim": 4}, r"dataset.input_vid_dim = 'wide' is not a valid int"),
        ({"input_vid_dim": 8, "input_txt_dim": 4, "downsample_rate": 2}, "downsample_rate must be 1"),
        ({"input_vid_dim": 8, "input_txt_dim": 4, "classname_feat_concat": "add"}, "is not supported"),
        ({"input_vid_dim": 8, "input_txt_dim": 4, "default_fps": 0}, "default_fps must be positive"),
        ({"input_vid_dim": 8, "input_txt_dim": 4, "split_word_list": "looks"}, "split_word_list"),
    ],
)
def test_bad_sections_are_reported(section, message):
    with pytest.raises(UserError, match=message):
        DatasetConfig.from_mapping(section, "c.yaml")


def test_config_file_errors(tmp_path):
    with pytest.raises(UserError, match="no such config file"):
        load_dataset_config(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("dataset: {a: [}\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_dataset_config(tmp_path / "bad.yaml")
    (tmp_path / "nodata.yaml").write_text("model: {}\n")
    with pytest.raises(UserError, match="no 'dataset' section"):
        load_dataset_config(tmp_path / "nodata.yaml")
