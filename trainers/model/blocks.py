"""Pre-LN transformer blocks: the text / multiscale TransformerBlock and the ObjectEncoderBlock."""

from __future__ import annotations

import torch
from torch import nn

from trainers.model.attention import ConvAttention, ObjectTextAttention
from trainers.model.layers import LayerNorm, mlp, residual_scale


class TransformerBlock(nn.Module):
    """x ``[N, C, T]``, mask ``[N, 1, T]`` -> ``[N, C, T/s]`` and the downsampled mask.

    out = skip(x) * m' + DP(attn(LN1(x))); out = out + DP(MLP(LN2(out)) * m'), where skip is a
    MaxPool(s+1, s, (s+1)//2) for stride s > 1 and attn is global (``window_size <= 1``) or
    banded ConvAttention. ``mask_input=True`` zeroes LN1(x) at padded steps before the attention's
    convs (``Quirks.padding_reaches_convs``).
    """

    def __init__(
        self,
        channels: int,
        num_heads: int,
        stride: int = 1,
        window_size: int = -1,
        path_pdrop: float = 0.0,
        mask_input: bool = False,
    ) -> None:
        super().__init__()
        self.ln1 = LayerNorm(channels)
        self.ln2 = LayerNorm(channels)
        self.attn = ConvAttention(channels, num_heads, stride, window_size, mask_input)
        self.pool_skip = nn.MaxPool1d(stride + 1, stride, (stride + 1) // 2) if stride > 1 else nn.Identity()
        self.mlp = mlp(channels, 4 * channels)
        self.drop_path_attn = residual_scale(channels, path_pdrop)
        self.drop_path_mlp = residual_scale(channels, path_pdrop)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, out_mask = self.attn(self.ln1(x), mask)
        weight = out_mask.to(out.dtype)
        out = self.pool_skip(x) * weight + self.drop_path_attn(out)
        out = out + self.drop_path_mlp(self.mlp(self.ln2(out)) * weight)
        return out, out_mask


class ObjectEncoderBlock(nn.Module):
    """Objects ``[B, O, C, T]`` (mask ``[B*O, 1, T]``) cross-attend to the text ``[B, C, L]``.

    o = ObjectTextAttention(LN3(o), LN4(text)) **replaces** o (no residual: reference bug B3, so
    ``drop_path_attn`` is an unused parameter kept for checkpoint compatibility); then
    o = o + DP(MLP(LN2(o)) * m) on the ``[B*O, C, T]`` view. ``mask_input=True`` zeroes the
    invalid slot steps and padded tokens before the attention's convs.
    """

    def __init__(self, channels: int, num_heads: int = 4, path_pdrop: float = 0.1, mask_input: bool = False) -> None:
        super().__init__()
        self.ln2 = LayerNorm(channels)
        self.cross_attn = ObjectTextAttention(channels, num_heads, mask_input=mask_input)
        self.ln3 = LayerNorm(channels, dim=2)
        self.ln4 = LayerNorm(channels)
        self.mlp = mlp(channels, 4 * channels)
        self.drop_path_attn = residual_scale(channels, path_pdrop)
        self.drop_path_mlp = residual_scale(channels, path_pdrop)

    def forward(
        self, objects: torch.Tensor, mask: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor
    ) -> torch.Tensor:
        b, o, c, t = objects.shape
        out = self.cross_attn(self.ln3(objects), mask, self.ln4(text), text_mask).reshape(b * o, c, t)
        out = out + self.drop_path_mlp(self.mlp(self.ln2(out)) * mask.to(out.dtype))
        return out.view(b, o, c, t)
