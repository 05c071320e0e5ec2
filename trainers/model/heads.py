"""Classification and regression heads, shared across FPN levels."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from trainers.model.config import ModelConfig
from trainers.model.layers import LayerNorm, MaskedConv1D, Scale


class _HeadTrunk(nn.Module):
    """(num_layers - 1) x [MaskedConv1D(k) -> LayerNorm -> ReLU] applied to one level."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width, k, depth = config.head_dim, config.head_kernel_size, config.head_num_layers - 1
        with_ln = config.head_with_ln
        self.head = nn.ModuleList(
            MaskedConv1D(
                config.embed_dim if i == 0 else width,
                width,
                k,
                bias=not with_ln,
                mask_input=not config.quirks.padding_reaches_convs,
            )
            for i in range(depth)
        )
        self.norm = nn.ModuleList(LayerNorm(width) if with_ln else nn.Identity() for _ in range(depth))

    def trunk(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.head, self.norm, strict=True):
            x, _ = conv(x, mask)
            x = F.relu(norm(x))
        return x


class ClassificationHead(_HeadTrunk):
    """Per level ``[B, C, T_l]`` -> logits ``[B, T_l, K]``; the output bias starts at the prior
    -log((1 - π) / π) (π = ``cls_prior_prob``)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.cls_head = MaskedConv1D(
            config.head_dim,
            config.num_classes,
            config.head_kernel_size,
            mask_input=not config.quirks.padding_reaches_convs,
        )
        prior = config.cls_prior_prob
        bias = self.cls_head.conv.bias
        assert bias is not None  # MaskedConv1D has a bias unless told otherwise
        nn.init.constant_(bias, -math.log((1 - prior) / prior))

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.cls_head(self.trunk(x, m), m)[0].transpose(1, 2) for x, m in zip(feats, masks, strict=True)]


class RegressionHead(_HeadTrunk):
    """Per level ``[B, C, T_l]`` -> non-negative (left, right) distances ``[B, T_l, 2]`` in units
    of the level's stride: ReLU(scale_l * conv(trunk(x)))."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.scale = nn.ModuleList(Scale() for _ in config.fpn_strides)
        self.offset_head = MaskedConv1D(
            config.head_dim, 2, config.head_kernel_size, mask_input=not config.quirks.padding_reaches_convs
        )

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> list[torch.Tensor]:
        return [
            F.relu(scale(self.offset_head(self.trunk(x, m), m)[0])).transpose(1, 2)
            for scale, x, m in zip(self.scale, feats, masks, strict=True)
        ]
