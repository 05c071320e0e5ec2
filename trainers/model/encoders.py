"""The four encoders. Each is a two-stage ModuleList ``[[stem], [blocks...]]`` so parameter names
match the reference (``text_encoder.0.0.*`` is the stem, ``text_encoder.1.k.*`` block k)."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from trainers.model.blocks import ObjectEncoderBlock, TransformerBlock
from trainers.model.config import ModelConfig, StemConfig
from trainers.model.layers import ConvStack, LayerNorm
from trainers.model.object_mamba import ObjectMambaBlock


def conv_stem(stem: StemConfig, mask_input: bool) -> ConvStack:
    """The input projection: ``num_layers`` x [conv(k), LayerNorm, activation]; ``mask_input``
    zeroes padded steps before each conv."""
    return ConvStack(
        stem.num_layers,
        stem.in_dim,
        stem.hidden_dim,
        stem.out_dim,
        kernel_size=stem.kernel_size,
        activation=stem.activation,
        mask_input=mask_input,
    )


def masks_conv_inputs(config: ModelConfig) -> bool:
    """True when padded steps are zeroed before every conv (``quirks.padding_reaches_convs`` off)."""
    return not config.quirks.padding_reaches_convs


class StagedEncoder(nn.ModuleList):
    """``[[stem], blocks]``; ``stem`` and ``blocks`` name the two stages."""

    def __init__(self, stem: nn.Module, blocks: list[nn.Module]) -> None:
        super().__init__([nn.ModuleList([stem]), nn.ModuleList(blocks)])

    @property
    def stem(self) -> nn.Module:
        return cast(nn.ModuleList, self[0])[0]

    @property
    def blocks(self) -> nn.ModuleList:
        return cast(nn.ModuleList, self[1])


class TextEncoder(StagedEncoder):
    """Tokens ``[N, D_txt, L]`` (mask ``[N, 1, L]``) -> ``[N, C, L]``: stem, optional absolute
    position table (TACoS-scratch), then global-attention TransformerBlocks."""

    def __init__(self, config: ModelConfig) -> None:
        mask_input = masks_conv_inputs(config)
        super().__init__(
            conv_stem(config.text_stem, mask_input),
            [
                TransformerBlock(
                    config.embed_dim, config.num_heads, path_pdrop=config.text_path_pdrop, mask_input=mask_input
                )
                for _ in range(config.num_text_blocks)
            ],
        )
        self.use_abs_pe = config.text_abs_pe

    def forward(self, text: torch.Tensor, mask: torch.Tensor, pos_table: torch.Tensor) -> torch.Tensor:
        x, mask = self.stem(text, mask)
        if self.use_abs_pe:
            x = x + pos_table[:, :, : x.shape[-1]] * mask.to(x.dtype)
        for block in self.blocks:
            x, mask = block(x, mask)
        return x


class ObjectEncoder(StagedEncoder):
    """Object slots ``[B*O, D_obj, T]`` (mask ``[B*O, 1, T]``) attend to the encoded text
    ``[B, C, L]`` -> ``[B*O, C, T]``. The stem is pointwise in time, per slot."""

    def __init__(self, config: ModelConfig) -> None:
        mask_input = masks_conv_inputs(config)
        super().__init__(
            conv_stem(config.object_stem, mask_input),
            [
                ObjectEncoderBlock(config.embed_dim, config.num_heads, config.object_path_pdrop, mask_input)
                for _ in range(config.num_object_blocks)
            ],
        )

    def forward(
        self, objects: torch.Tensor, mask: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor
    ) -> torch.Tensor:
        x, _ = self.stem(objects, mask)
        b, c, t = text.shape[0], x.shape[1], x.shape[2]
        x = x.view(b, -1, c, t)
        for block in self.blocks:
            x = block(x, mask, text, text_mask)
        return x.view(-1, c, t)


class VideoEncoder(StagedEncoder):
    """Video ``[B, D_vid, T0]`` (mask ``[B, 1, T0]``) -> level-0 features ``[B, C, T0]``:
    conv stem, + position table (always), then ObjectMambaBlocks fusing objects (unless the config
    has no object branch) and text."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(
            conv_stem(config.video_stem, masks_conv_inputs(config)),
            [
                ObjectMambaBlock(config.embed_dim, config.num_heads, config.video_path_pdrop, config.object_branch)
                for _ in range(config.num_video_blocks)
            ],
        )

    def forward(
        self,
        video: torch.Tensor,
        mask: torch.Tensor,
        pos_table: torch.Tensor,
        objects: torch.Tensor | None = None,
        object_mask: torch.Tensor | None = None,
        text: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x, mask = self.stem(video, mask)
        length = x.shape[-1]
        if length > pos_table.shape[-1]:
            pos_table = F.interpolate(pos_table, length, mode="linear", align_corners=False)
        x = x + pos_table[:, :, :length] * mask.to(x.dtype)
        for block in self.blocks:
            x = block(x, mask, objects, object_mask, text, text_mask)
        return x


class FPNNorms(nn.Module):
    """A separate channel LayerNorm for each FPN level (the reference ``FPNLayernorm``)."""

    def __init__(self, channels: int, num_levels: int) -> None:
        super().__init__()
        self.fpn_norms = nn.ModuleList(LayerNorm(channels) for _ in range(num_levels))

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        return [norm(x) for norm, x in zip(self.fpn_norms, feats, strict=True)]


class MultiscaleEncoder(nn.ModuleList):
    """Level 0 ``[B, C, T0]`` -> ``num_fpn_blocks + 1`` levels ``[B, C, T0 / 2^l]`` with masks.

    Each stride-2 TransformerBlock (banded attention at the downsampled resolution) makes the next
    level; every level then gets its own LayerNorm. Stage names: ``[blocks, [FPNNorms]]``.
    """

    def __init__(self, config: ModelConfig) -> None:
        blocks = [
            TransformerBlock(
                config.embed_dim,
                config.num_heads,
                config.fpn_downsample,
                config.fpn_window,
                config.fpn_path_pdrop,
                masks_conv_inputs(config),
            )
            for _ in range(config.num_fpn_blocks)
        ]
        norms = FPNNorms(config.embed_dim, config.num_fpn_blocks + 1)
        super().__init__([nn.ModuleList(blocks), nn.ModuleList([norms])])

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        feats, masks = [x], [mask]
        for block in cast(nn.ModuleList, self[0]):
            x, mask = block(x, mask)
            feats.append(x)
            masks.append(mask)
        return cast(nn.ModuleList, self[1])[0](feats), masks
