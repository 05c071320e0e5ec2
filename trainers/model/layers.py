"""Masked building blocks shared by every OSGNet module.

Layout is channels-first: features ``[N, C, T]``, masks bool ``[N, 1, T]`` (True = valid, padding
at the end). Parameter names follow the reference so that official checkpoints load 1:1.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MaskedConv1D(nn.Module):
    """``nn.Conv1d`` (odd kernel, ``padding = k // 2``) whose output is multiplied by the mask.

    With stride s the mask is downsampled by picking ``mask[..., s*i]``. ``mask_input=True`` also
    zeroes the padded input steps, so a kernel wider than 1 reads the same zeros past the last
    valid step however much padding the batch adds (the reference reads whatever is there, see
    ``Quirks.padding_reaches_convs``).
    x ``[N, C_in, T]``, mask ``[N, 1, T]`` -> ``[N, C_out, T/s]`` and the bool mask.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | None = None,
        groups: int = 1,
        bias: bool = True,
        mask_input: bool = False,
    ) -> None:
        super().__init__()
        if padding is None:
            padding = kernel_size // 2
        self.stride = stride
        self.mask_input = mask_input
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=bias)
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] % self.stride:
            raise ValueError(f"length {x.shape[-1]} is not divisible by stride {self.stride}")
        if self.mask_input:
            x = x * mask.to(x.dtype)
        weight = mask.to(x.dtype)[..., :: self.stride]
        return self.conv(x) * weight, weight.bool()


class LayerNorm(nn.Module):
    """LayerNorm over the channel axis ``dim`` (1 for ``[N, C, T]``, 2 for ``[N, O, C, T]``).

    eps 1e-5, biased variance; affine weight/bias shaped to broadcast (``[1, C, 1]``).
    """

    def __init__(self, num_channels: int, dim: int = 1, eps: float = 1e-5) -> None:
        super().__init__()
        shape = [1] * (dim + 2)
        shape[dim] = num_channels
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(dim=self.dim, keepdim=True)
        variance = centred.pow(2).mean(dim=self.dim, keepdim=True)
        return centred / torch.sqrt(variance + self.eps) * self.weight + self.bias


class AffineDropPath(nn.Module):
    """LayerScale then stochastic depth: ``DropPath(scale * x)``, scale ``[1, C, 1]`` init 1e-4.

    In training each sample along dim 0 is kept with probability 1 - p and divided by 1 - p.
    """

    def __init__(self, num_channels: int, drop_prob: float, init_scale: float = 1e-4) -> None:
        super().__init__()
        self.scale = nn.Parameter(init_scale * torch.ones(1, num_channels, 1))
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.scale * x
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        kept = torch.floor(keep + torch.rand(shape, dtype=x.dtype, device=x.device))
        return x / keep * kept


def residual_scale(num_channels: int, drop_prob: float) -> nn.Module:
    """AffineDropPath when ``drop_prob > 0``, else the identity (no parameter, as the reference)."""
    return AffineDropPath(num_channels, drop_prob) if drop_prob > 0.0 else nn.Identity()


class Scale(nn.Module):
    """A learnable scalar multiplier (init 1.0), one per FPN level in the regression head."""

    def __init__(self, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(init_value, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def mlp(in_dim: int, hidden_dim: int, out_dim: int | None = None) -> nn.Sequential:
    """Unmasked 1x1-conv MLP ``[N, in, T] -> [N, out, T]``: conv, GELU, dropout(0), conv, dropout(0).

    The dropout slots keep the reference's parameter indices (``.0`` and ``.3``).
    """
    return nn.Sequential(
        nn.Conv1d(in_dim, hidden_dim, 1),
        nn.GELU(),
        nn.Dropout(0.0),
        nn.Conv1d(hidden_dim, out_dim or in_dim, 1),
        nn.Dropout(0.0),
    )


ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "none": nn.Identity}


class ConvStack(nn.Module):
    """``num_layers`` x [MaskedConv1D(k) -> LayerNorm (optional) -> activation] (the reference
    ``MaskedConv1DLayer``); widths ``in_dim -> hidden_dim -> ... -> out_dim``.

    Convs have a bias only without LayerNorm. ``end_activation=False`` skips the activation after
    the last conv. ``mask_input=True`` zeroes padded steps before every conv (see MaskedConv1D).
    Inputs ``[..., C, T]`` with more than 3 dims are flattened to ``[-1, C, T]``.
    """

    def __init__(
        self,
        num_layers: int,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int | None = None,
        with_ln: bool = True,
        activation: str = "gelu",
        end_activation: bool = True,
        mask_input: bool = False,
    ) -> None:
        super().__init__()
        widths = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.convs = nn.ModuleList(
            MaskedConv1D(
                widths[i], widths[i + 1], kernel_size, stride, padding, bias=not with_ln, mask_input=mask_input
            )
            for i in range(num_layers)
        )
        self.norms = nn.ModuleList(LayerNorm(widths[i + 1]) if with_ln else nn.Identity() for i in range(num_layers))
        self.act = ACTIVATIONS[activation]()
        self.end_activation = end_activation

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = x.shape
        x, mask = x.reshape(-1, *shape[-2:]), mask.reshape(-1, *mask.shape[-2:])
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x, mask = conv(x, mask)
            x = norm(x)
            if self.end_activation or i < len(self.convs) - 1:
                x = self.act(x)
        return x.reshape(*shape[:-2], *x.shape[-2:]), mask.reshape(*shape[:-2], *mask.shape[-2:])


def sinusoid_table(length: int, channels: int) -> torch.Tensor:
    """Transformer position table ``[1, C, length]``: sin on even channels, cos on odd, angle
    ``pos / 10000^(2*(j//2)/C)`` (computed in float64, returned as float32)."""
    position = torch.arange(length, dtype=torch.float64)[:, None]
    exponent = 2 * (torch.arange(channels) // 2).to(torch.float64) / channels
    angle = position / torch.pow(torch.tensor(10000.0, dtype=torch.float64), exponent)
    table = torch.where(torch.arange(channels) % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float().T.unsqueeze(0)


def masked_softmax(att: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis where invalid keys get -inf; all-invalid rows become 0."""
    att = att.masked_fill(~valid, -math.inf).softmax(dim=-1)
    return att.masked_fill(~valid, 0.0)
