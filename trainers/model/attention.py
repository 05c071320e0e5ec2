"""Masked multi-head attention variants (all 1x1-conv projections, channels-first).

C channels, H heads of d = C / H. Scores are ``(q / sqrt(d)) . k``; invalid keys are excluded and
a query with no valid key gets all-zero weights instead of NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from trainers.model.layers import LayerNorm, MaskedConv1D, masked_softmax


class HeadProjections(nn.Module):
    """The 1x1-conv ``key``, ``query``, ``value`` and output ``proj`` of C channels in H heads of
    d = C / H (with bias); the attention modules below add their ``forward``."""

    def __init__(self, channels: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, channels // num_heads
        self.key = nn.Conv1d(channels, channels, 1)
        self.query = nn.Conv1d(channels, channels, 1)
        self.value = nn.Conv1d(channels, channels, 1)
        self.proj = nn.Conv1d(channels, channels, 1)


class MaskedMHA(HeadProjections):
    """Plain multi-head attention; self-attention, or cross-attention when ``context`` is given.

    x ``[N, C, T]`` with query mask ``[N, 1, T]``; context ``[N, C, S]`` with key mask
    ``[N, 1, S]``. Returns ``[N, C, T]`` (multiplied by the query mask) and the query mask.
    """

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if context is None:
            context, context_mask = x, mask
        elif context_mask is None:
            raise ValueError("MaskedMHA: a context needs its context_mask")
        n, c, _ = x.shape
        key_valid = context_mask.bool()
        q = self.query(x).view(n, self.num_heads, self.head_dim, -1).transpose(2, 3)
        k = self.key(context).view(n, self.num_heads, self.head_dim, -1)
        v = (self.value(context) * key_valid).view(n, self.num_heads, self.head_dim, -1)
        att = masked_softmax((q / math.sqrt(self.head_dim)) @ k, key_valid[:, :, None, :])
        out = (att @ v.transpose(2, 3)).transpose(2, 3).reshape(n, c, -1)
        return self.proj(out) * mask.to(out.dtype), mask


class ConvProjections(nn.Module):
    """q, k, v as ``proj(LN(depthwise conv(x)))`` (the reference MaskedMHCA's projections): per
    name a ``{name}_conv``, a ``{name}_norm`` and a 1x1 ``{name}`` conv, plus the output ``proj``.

    The depthwise convs have kernel 3 (stride 1) or kernel s+1 with stride s, which downsamples
    T to T/s. ``mask_input=True`` zeroes the padded steps of x before the convs
    (``Quirks.padding_reaches_convs``). The attention modules below add their ``forward``.
    """

    def __init__(self, channels: int, num_heads: int, stride: int = 1, mask_input: bool = False) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, channels // num_heads
        kernel = stride + 1 if stride > 1 else 3
        self.query_conv = MaskedConv1D(
            channels, channels, kernel, stride, groups=channels, bias=False, mask_input=mask_input
        )
        self.query_norm = LayerNorm(channels)
        self.key_conv = MaskedConv1D(
            channels, channels, kernel, stride, groups=channels, bias=False, mask_input=mask_input
        )
        self.key_norm = LayerNorm(channels)
        self.value_conv = MaskedConv1D(
            channels, channels, kernel, stride, groups=channels, bias=False, mask_input=mask_input
        )
        self.value_norm = LayerNorm(channels)
        self.key = nn.Conv1d(channels, channels, 1)
        self.query = nn.Conv1d(channels, channels, 1)
        self.value = nn.Conv1d(channels, channels, 1)
        self.proj = nn.Conv1d(channels, channels, 1)

    def project_query(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q = query(query_norm(query_conv(x))) and its mask, ``[N, C, T/s]``."""
        y, y_mask = self.query_conv(x, mask)
        return self.query(self.query_norm(y)), y_mask

    def project_key(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k = key(key_norm(key_conv(x))) and its mask, ``[N, C, T/s]``."""
        y, y_mask = self.key_conv(x, mask)
        return self.key(self.key_norm(y)), y_mask

    def project_value(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """v = value(value_norm(value_conv(x))) and its mask, ``[N, C, T/s]``."""
        y, y_mask = self.value_conv(x, mask)
        return self.value(self.value_norm(y)), y_mask

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, T] -> [N, H, T, d]``."""
        return x.view(x.shape[0], self.num_heads, self.head_dim, -1).transpose(2, 3)


class ConvAttention(ConvProjections):
    """Multi-head self-attention on conv projections (the reference MaskedMHCA / LocalMaskedMHCA).

    ``window_size > 1`` restricts query i to keys ``|i - j| <= window_size // 2`` (padded keys then
    get an additive -1e4 rather than -inf, as the reference); otherwise attention is global.
    x ``[N, C, T]`` with mask ``[N, 1, T]`` -> ``[N, C, T/s]`` and its mask.
    """

    def __init__(
        self, channels: int, num_heads: int, stride: int = 1, window_size: int = -1, mask_input: bool = False
    ) -> None:
        super().__init__(channels, num_heads, stride, mask_input)
        self.window_size = window_size

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q, q_mask = self.project_query(x, mask)
        k, kv_mask = self.project_key(x, mask)
        v, _ = self.project_value(x, mask)
        q, k, v = self.heads(q) / math.sqrt(self.head_dim), self.heads(k), self.heads(v)
        if self.window_size > 1:
            out = banded_attention(q, k, v, kv_mask.squeeze(1), self.window_size // 2)
        else:
            att = masked_softmax(q @ k.transpose(2, 3), kv_mask[:, :, None, :])
            out = att @ (v * kv_mask[:, :, :, None])
        n, _, t, _ = out.shape
        out = out.transpose(2, 3).reshape(n, -1, t)
        return self.proj(out) * q_mask.to(out.dtype), q_mask


def banded_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, valid: torch.Tensor, radius: int
) -> torch.Tensor:
    """Local attention: query i sees keys ``i - radius .. i + radius`` inside the sequence.

    q, k, v ``[N, H, T, d]`` (q already scaled), valid ``[N, T]`` bool. Padded keys get -1e4
    added; rows of padded queries are zeroed. Returns ``[N, H, T, d]``.
    """
    t = k.shape[2]
    width = 2 * radius + 1
    k_win = F.pad(k, (0, 0, radius, radius)).unfold(2, width, 1)  # [N, H, T, d, W]
    v_win = F.pad(v, (0, 0, radius, radius)).unfold(2, width, 1)
    scores = torch.einsum("nhtd,nhtdw->nhtw", q, k_win)
    offsets = torch.arange(t, device=q.device)[:, None] + torch.arange(width, device=q.device) - radius
    inside = (offsets >= 0) & (offsets < t)  # [T, W]
    key_valid = F.pad(valid, (radius, radius)).unfold(1, width, 1)  # [N, T, W]
    penalty = (~key_valid).to(scores.dtype) * -1e4
    scores = (scores + penalty[:, None]).masked_fill(~inside, -math.inf)
    att = scores.softmax(dim=-1).masked_fill(~valid[:, None, :, None], 0.0)
    return torch.einsum("nhtw,nhtdw->nhtd", att, v_win)


class ObjectSlotAttention(HeadProjections):
    """Per-step attention from the video to the object slots at the same step (reference
    ObjectMaskedMHA).

    x ``[B, C, T]`` with mask ``[B, 1, T]``; objects ``[B*O, C, T]`` (b-major) with mask
    ``[B*O, 1, T]``. Step t of sample b attends over the O slots of (b, t); a step without a valid
    slot outputs only the projection bias. Returns ``[B, C, T]`` (x mask applied) and the mask.
    """

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, objects: torch.Tensor, object_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, t = x.shape
        q = self.query(x).view(b, self.num_heads, self.head_dim, t) / math.sqrt(self.head_dim)
        k = self.key(objects).view(b, -1, self.num_heads, self.head_dim, t)
        slot_valid = object_mask.view(b, -1, 1, t).bool()  # [B, O, 1, T]
        v = self.value(objects).view(b, -1, self.num_heads, self.head_dim, t) * slot_valid[:, :, :, None]
        scores = torch.einsum("bhdt,bohdt->bhto", q, k)
        att = masked_softmax(scores, slot_valid.permute(0, 2, 3, 1))
        out = torch.einsum("bhto,bohdt->bhdt", att, v).reshape(b, c, t)
        return self.proj(out) * mask.to(out.dtype), mask


class ObjectTextAttention(ConvProjections):
    """Cross-attention from every object slot to the query text (reference
    ObjectQueryMaskedMHCA, cross branch).

    objects ``[B, O, C, T]`` with mask ``[B*O, 1, T]``; text ``[B, C, L]`` with mask ``[B, 1, L]``.
    q is the slot's depthwise conv along video time, k and v the conv along the tokens. Each
    (slot, step) attends over the tokens. Returns ``[B, O, C, T]`` (object mask applied).
    """

    def forward(
        self, objects: torch.Tensor, object_mask: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor
    ) -> torch.Tensor:
        b, o, c, t = objects.shape
        q, _ = self.project_query(objects.reshape(b * o, c, t), object_mask)
        k, _ = self.project_key(text, text_mask)
        v, _ = self.project_value(text, text_mask)
        q = q.view(b, o, self.num_heads, self.head_dim, t) / math.sqrt(self.head_dim)
        k = k.view(b, self.num_heads, self.head_dim, -1)
        v = v.view(b, self.num_heads, self.head_dim, -1) * text_mask.view(b, 1, 1, -1)
        scores = torch.einsum("bohdt,bhdl->bohtl", q, k)
        att = masked_softmax(scores, text_mask.view(b, 1, 1, 1, -1).bool())
        out = torch.einsum("bohtl,bhdl->bohdt", att, v).reshape(b * o, c, t)
        out = self.proj(out) * object_mask.to(out.dtype)
        return out.view(b, o, c, t)
