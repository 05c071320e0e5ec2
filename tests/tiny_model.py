"""A small OSGNet in the official YAML layout, for tests and smoke runs on CPU.

Same structure as the NLQ v2 finetune config (7 FPN levels, window-9 attention, VTM on) with
every width shrunk; ``tiny_config_document`` returns the parsed-YAML dict, so it goes through the
same ``parse_model_config`` path as an official file.
"""

from __future__ import annotations


def _stem(num_layers: int, n_in: int, n_out: int, **extra: object) -> dict:
    return {"layer_type": "MaskedConv1DLayer", "layer_num": 1,
            "layer_cfg": {"num_layer": num_layers, "n_in": n_in, "n_out": n_out, "act": "relu", **extra}}


def tiny_config_document(width: int = 32, video_dim: int = 24, text_dim: int = 12,
                         object_dim: int = 16, max_seq_len: int = 1024, blocks: int = 1,
                         path_pdrop: float = 0.0, tasks: tuple[str, ...] = ("NLQ", "VTM")) -> dict:
    """The official-format document (``dataset`` + ``model`` sections) of a small model."""
    heads = {"n_head": 4, "n_embd": width, "path_pdrop": path_pdrop}
    block_cfg = {"self_mixer_cfg": {"block_type": "MaskedMHCA", "block_cfg": {"n_head": 4, "n_embd": width}},
                 "cross_mixer_cfg": {"block_type": "MaskedMHA", "block_cfg": {"n_head": 4, "n_embd": width}},
                 "path_pdrop": path_pdrop, "query_num": 5, "num_layer": 1}
    return {
        "dataset": {"num_classes": 1, "input_vid_dim": video_dim, "input_txt_dim": text_dim,
                    "feat_stride": 16.0, "num_frames": 16.0, "default_fps": 30, "max_seq_len": max_seq_len},
        "model": {
            "text_encoder_cfg": [_stem(2, text_dim, width),
                                 {"layer_type": "TransformerBlock", "layer_num": blocks, "layer_cfg": heads}],
            "obj_encoder_cfg": [_stem(2, object_dim, width),
                                {"layer_type": "ObjectEncoderBlock", "layer_num": blocks,
                                 "layer_cfg": {"n_embd": width, "path_pdrop": path_pdrop}}],
            "video_encoder_cfg": [_stem(2, video_dim, width, n_hidden=width, kernel_size=3),
                                  {"layer_type": "ObjectMambaBlock", "layer_num": blocks,
                                   "layer_cfg": {**heads, "mamba_arch": ["bimamba1", "mlp", "obj"]}}],
            "multiscale_encoder_cfg": [
                {"layer_type": "TransformerBlock", "layer_num": 6,
                 "layer_cfg": {**heads, "n_ds_strides": [2, 2], "mha_win_size": 9}},
                {"layer_type": "FPNLayernorm", "layer_num": 1,
                 "layer_cfg": {"in_channels": [width] * 7, "out_channel": width}}],
            "tasks": list(tasks),
            "nlq_heads_cfg": {
                "cls_head_cfg": {"input_dim": width, "feat_dim": width, "num_classes": 1, "kernel_size": 3,
                                 "prior_prob": 0.01, "with_ln": True, "num_layers": 3, "empty_cls": []},
                "reg_head_cfg": {"input_dim": width, "feat_dim": width, "fpn_levels": 7, "kernel_size": 3,
                                 "with_ln": True, "num_layers": 3},
                "loss_normalizer_momentum": 0.9, "loss_normalizer": 200, "train_label_smoothing": 0.1,
                "reg_loss_weight": 1.0, "center_sample_radius": 1.5, "pre_nms_thresh": 0.001,
                "pre_nms_topk": 2000, "duration_thresh": 0.001, "iou_threshold": 0.1,
                "min_score": 0.001, "max_seg_num": 5},
            "vtm_heads_cfg": {
                "shot_aggregator_cfg": {"layer_type": "QFormerLayer", "layer_cfg": block_cfg},
                "similarity_head_cfg": {"layer_type": "Cosine",
                                        "layer_cfg": {"x_dim": width, "y_dim": width, "con_dim": width}},
                "loss_weight": 1.5},
            "max_buffer_len_factor": 4.0,
            "regression_range": [[0, 4], [2, 8], [4, 16], [8, 32], [16, 64], [32, 128], [64, 10000]],
        },
    }
