"""The ready-to-train config of a synthetic dataset, in the official OSGNet YAML layout
(``dataset`` / ``model`` / ``opt`` / ``loader`` / ``train_cfg`` / ``test_cfg``), with a small model
(64 channels, 2 text / 2 object / 2 video blocks) that trains on CPU."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from osgnet_bench.files import atomic_writer

WIDTH = 64
HEADS = 4
BATCH_SIZE = 4
REGRESSION_RANGE = [[0, 4], [2, 8], [4, 16], [8, 32], [16, 64], [32, 128], [64, 10000]]


def synth_config(
    dataset: dict,
    video_dim: int,
    text_dim: int,
    class_dim: int,
    max_shots_per_video: int,
    max_queries_per_video: int,
    track: str | None,
) -> dict:
    """The whole config document; ``dataset`` is the finished ``dataset:`` section."""
    document: dict = {"dataset_name": "ego4d_multitask"}
    if track is not None:
        document["track"] = track
    document.update(
        {
            "devices": "cpu",
            "train_split": ["training"],
            "val_split": ["validation"],
            "model_name": "MultiTaskArch",
            "dataset": dataset,
            "model": _model(
                video_dim, text_dim, class_dim, BATCH_SIZE * max_shots_per_video, BATCH_SIZE * max_queries_per_video
            ),
            "opt": {
                "learning_rate": 0.0005,
                "backbone_lr_weight": 1,
                "epochs": 8,
                "warmup_epochs": 1,
                "weight_decay": 0.05,
            },
            "loader": {"batch_size": BATCH_SIZE, "num_workers": 0},
            "train_cfg": {
                "init_loss_norm": 200,
                "clip_grad_l2norm": 1.0,
                "cls_prior_prob": 0.01,
                "center_sample": "radius",
                "center_sample_radius": 1.5,
                "label_smoothing": 0.1,
                "loss_weight": 1.0,
                "mamba_arch": ["bimamba1", "mlp", "obj"],
            },
            "test_cfg": {
                "voting_thresh": 0.9,
                "pre_nms_topk": 2000,
                "max_seg_num": 5,
                "min_score": 0.001,
                "nms_sigma": 0.75,
                "duration_thresh": 0.001,
                "test_num": 1,
                "test_start_epoch": 0,
            },
            "output_folder": "./ckpt",
        }
    )
    return document


def max_seq_len_for(longest_video: int) -> int:
    """The smallest multiple of 512 (the model's padding unit) that holds the longest video."""
    return max(512, 512 * math.ceil(longest_video / 512))


def write_config(path: Path, document: dict) -> None:
    with atomic_writer(path) as handle:
        yaml.safe_dump(document, handle, sort_keys=False, default_flow_style=None)


def _block(layer_type: str, layer_num: int, **cfg: object) -> dict:
    return {"layer_type": layer_type, "layer_num": layer_num, "layer_cfg": cfg}


def _model(video_dim: int, text_dim: int, class_dim: int, max_shot_num: int, max_query: int) -> dict:
    c = WIDTH
    return {
        "text_encoder_cfg": [
            _block("MaskedConv1DLayer", 1, num_layer=2, n_in=text_dim, n_out=c, act="relu"),
            _block("TransformerBlock", 2, n_head=HEADS, n_embd=c, path_pdrop=0.0),
        ],
        "obj_encoder_cfg": [
            _block("MaskedConv1DLayer", 1, num_layer=2, n_in=class_dim, n_out=c, act="relu"),
            _block("ObjectEncoderBlock", 2, n_embd=c, path_pdrop=0.0),
        ],
        "video_encoder_cfg": [
            _block("MaskedConv1DLayer", 1, num_layer=2, n_in=video_dim, n_hidden=c, n_out=c, kernel_size=3, act="relu"),
            _block(
                "ObjectMambaBlock", 2, n_head=HEADS, n_embd=c, path_pdrop=0.0, mamba_arch=["bimamba1", "mlp", "obj"]
            ),
        ],
        "multiscale_encoder_cfg": [
            _block("TransformerBlock", 6, n_head=HEADS, n_embd=c, n_ds_strides=[2, 2], mha_win_size=9, path_pdrop=0.0),
            _block("FPNLayernorm", 1, in_channels=[c] * 7, out_channel=c),
        ],
        "tasks": ["NLQ", "VTM"],
        "generator": {"generator_type": "point"},
        "nlq_heads_cfg": {
            "cls_head_cfg": {
                "input_dim": c,
                "feat_dim": c,
                "num_classes": 1,
                "kernel_size": 3,
                "prior_prob": 0.01,
                "with_ln": True,
                "num_layers": 3,
                "empty_cls": [],
            },
            "reg_head_cfg": {
                "input_dim": c,
                "feat_dim": c,
                "fpn_levels": 7,
                "kernel_size": 3,
                "with_ln": True,
                "num_layers": 3,
            },
            "loss_normalizer_momentum": 0.9,
            "loss_normalizer": 200,
            "train_label_smoothing": 0.1,
            "reg_loss_weight": 1.0,
            "center_sample_radius": 1.5,
            "pre_nms_thresh": 0.001,
            "pre_nms_topk": 2000,
            "duration_thresh": 0.001,
            "iou_threshold": 0.1,
            "min_score": 0.001,
            "max_seg_num": 5,
        },
        "vtm_heads_cfg": {
            "shot_aggregator_cfg": {
                "layer_type": "QFormerLayer",
                "layer_cfg": {
                    "self_mixer_cfg": {"block_type": "MaskedMHCA", "block_cfg": {"n_head": HEADS, "n_embd": c}},
                    "cross_mixer_cfg": {"block_type": "MaskedMHA", "block_cfg": {"n_head": HEADS, "n_embd": c}},
                    "path_pdrop": 0.0,
                    "query_num": 5,
                    "num_layer": 1,
                },
            },
            "similarity_head_cfg": {"layer_type": "Cosine", "layer_cfg": {"x_dim": c, "y_dim": c, "con_dim": c}},
            "loss_weight": 1.5,
        },
        "max_shot_num": max_shot_num,
        "max_query": max_query,
        "max_buffer_len_factor": 4.0,
        "n_mha_win_size": 9,
        "use_abs_pe": True,
        "regression_range": REGRESSION_RANGE,
    }
