"""What ``osgnet-bench model-info`` reports about a config: parameter counts per component,
input dimensions, FPN strides and the selective-scan backend."""

from __future__ import annotations

import torch

from trainers.model.config import ModelConfig
from trainers.model.osgnet import OSGNet
from trainers.model.selective_scan import scan_backend_name

TRAINING_ONLY = ("shot_aggregator", "txt_aggregator", "similarity_head")


def build_on_meta(config: ModelConfig) -> OSGNet:
    """The model with shapes but no storage: counting 120 M parameters takes well under a second."""
    with torch.device("meta"):
        return OSGNet(config)


def model_summary(config: ModelConfig, device: torch.device | str | None = None) -> dict:
    """A JSON-ready description of the model ``config`` builds."""
    model = build_on_meta(config)
    components = {
        name: sum(p.numel() for p in child.parameters())
        for name, child in model.named_children()
        if any(True for _ in child.parameters())
    }
    total = sum(components.values())
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return {
        "num_parameters": total,
        "inference_parameters": total - sum(components.get(name, 0) for name in TRAINING_ONLY),
        "components": components,
        "inputs": {
            "video_dim": config.video_stem.in_dim,
            "text_dim": config.text_stem.in_dim,
            "object_dim": config.object_stem.in_dim,
        },
        "embed_dim": config.embed_dim,
        "max_seq_len": config.max_seq_len,
        "pad_multiple": config.max_stride,
        "fpn_strides": list(config.fpn_strides),
        "vtm": config.use_vtm,
        "scan_backend": scan_backend_name(device),
        "device": str(device),
    }
