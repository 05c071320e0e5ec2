"""The ``dataset:`` section of official and synthetic configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_model import tiny_config_document

from osgnet_bench.config_reader import read_section
from osgnet_bench.errors import UserError
from osgnet_bench.files import read_yaml_mapping
from trainers.config import load_run_config, parse_run_config
from trainers.data.config import PATH_KEYS, DatasetConfig

DEAD_MODEL = "Ego4D-NLQ/v2/ego4d_nlq_v2_object_bimamba1_noobj_mlp_pretrainall_2e-4.yaml"  # model_name refused


def test_every_official_config_reads_unchanged(shared_reference):
    configs = sorted(shared_reference.glob("configs/**/*.yaml"))
    assert len(configs) >= 8
    for path in configs:
        if path.match(DEAD_MODEL):
            config = read_section(DatasetConfig, read_yaml_mapping(path)["dataset"], str(path), "dataset")
        else:
            config = load_run_config(path, base_dir="/data").dataset
        assert config.feat_stride == 16.0 and config.num_frames == 16.0
        assert config.default_fps in (30.0, 29.4)
        assert config.video_feat_dir.is_absolute()
    nlq = load_run_config(shared_reference / "configs/Ego4D-NLQ/v2/ego4d_nlq_v2_multitask_finetune_2e-4.yaml",
                          base_dir="/data").dataset
    assert (nlq.input_vid_dim, nlq.input_txt_dim, nlq.max_seq_len, nlq.mul_query_input) == (2304, 512, 2560, 1000)
    assert nlq.val_jsonl_file == Path("/data/ego4d_data/ego4d_nlq_val_v2_label_lemma.jsonl")
    assert nlq.lavila_caption_dir.is_absolute()  # the authors' absolute path is kept, not rebased
    assert nlq.lavila_caption_dir.parts[-3:] == ("nlq", "lavila", "narration")
    pretrain_path = shared_reference / "configs/Ego4D-NLQ/v1/ego4d_nlq_v1_multitask_egovlp_pretrain_2e-4.yaml"
    pretrain = load_run_config(pretrain_path, base_dir="/data").dataset
    assert pretrain.mul_query_input == 0 and pretrain.object_feat_dir is None


def test_paths_can_be_overridden(shared_reference, tmp_path):
    path = shared_reference / "configs/tacos/tacos_c3d_glove_weight1_5e-5.yaml"
    config = load_run_config(path).dataset.with_paths(video_feat_dir=tmp_path / "c3d", lavila_caption_dir=None)
    assert config.video_feat_dir == tmp_path / "c3d"
    assert config.lavila_caption_dir.parts[-2:] == ("tacos", "lavila")
    assert config.input_vid_dim == 4096 and config.default_fps == 29.4
    assert config.text_store_for("val") == config.val_text_feat_dir
    with pytest.raises(UserError, match="cannot override input_vid_dim"):
        config.with_paths(input_vid_dim="3")


def test_relative_paths_resolve_against_base_dir():
    document = tiny_config_document()
    document["dataset"].update(video_feat_dir="feats/v", text_feat_dir="feats/t")
    config = parse_run_config(document, "c.yaml", base_dir="/base").dataset
    assert config.video_feat_dir == Path("/base/feats/v")
    assert config.text_store_for("val") == Path("/base/feats/t")
    assert config.jsonl_for("train") is None
    assert set(PATH_KEYS) >= {"video_feat_dir", "lavila_caption_dir", "json_file"}


def test_missing_timing_keys_take_the_reference_defaults():
    """num_frames and feat_stride default to the reference's 32 and 16; default_fps (the reference's
    None cannot convert seconds) must be given."""
    config = read_section(DatasetConfig, {"input_vid_dim": 8, "input_txt_dim": 4, "default_fps": 30},
                          "c.yaml", "dataset")
    assert (config.feat_stride, config.num_frames, config.max_seq_len) == (16.0, 32.0, 2560)
    with pytest.raises(UserError, match="c.yaml: dataset.default_fps: required key is missing"):
        read_section(DatasetConfig, {"input_vid_dim": 8, "input_txt_dim": 4}, "c.yaml", "dataset")


SECTION = {"input_vid_dim": 8, "input_txt_dim": 4, "default_fps": 30}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"video_feats": "x"}, r"dataset.video_feats: unknown key; valid keys in dataset: .*video_feat_dir"),
        ({"input_vid_dim": None}, r"dataset.input_vid_dim: must be an integer, got null"),
        ({"input_vid_dim": "wide"}, r"dataset.input_vid_dim: must be an integer, got 'wide'"),
        ({"max_seq_len": "1024"}, r"dataset.max_seq_len: must be an integer, got '1024'"),
        ({"downsample_rate": 2}, "dataset.downsample_rate: must be 1; got 2"),
        ({"classname_feat_concat": "add"}, "dataset.classname_feat_concat: must be only; got 'add'.*supported"),
        ({"default_fps": 0}, r"dataset.default_fps: must be > 0, got 0"),
        ({"feat_stride": -16}, r"dataset.feat_stride: must be > 0"),
        ({"num_frames": float("inf")}, r"dataset.num_frames: must be a finite number, got inf"),
        ({"max_seq_len": 0}, r"dataset.max_seq_len: must be >= 1, got 0"),
        ({"split_word_list": "looks"}, r"dataset.split_word_list: must be a list"),
        ({"split_word_list": ["looks", 3]}, r"dataset.split_word_list\[1\]: must be a string, got 3"),
        ({"mul_query_input": True}, r"dataset.mul_query_input: must be an integer, got true"),
        ({"video_feat_dir": 5}, r"dataset.video_feat_dir: must be a path"),
    ],
)
def test_bad_sections_are_reported(changes, message):
    with pytest.raises(UserError, match=message):
        read_section(DatasetConfig, {**SECTION, **changes}, "c.yaml", "dataset")


def test_config_file_errors(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_run_config(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("dataset: {a: [}\n")
    with pytest.raises(UserError, match="invalid YAML at line 1"):
        load_run_config(tmp_path / "bad.yaml")
    (tmp_path / "nodata.yaml").write_text("model: {}\n")
    with pytest.raises(UserError, match="nodata.yaml: dataset: required key is missing"):
        load_run_config(tmp_path / "nodata.yaml")
