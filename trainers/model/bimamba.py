"""Bidirectional masked Mamba (the reference ``MaskedBiMamba``, VideoMamba's bimamba parameters).

With d_inner = expand * d_model and dt_rank = ceil(d_model / 16), for X ``[B, T, d_model]`` and
a prefix mask ``[B, T]``:

1. ``[x; z] = W_in X``, each ``[B, d_inner, T]``.
2. forward direction: x' = SiLU(causal depthwise conv_k4(x)); ``[δ; B_t; C_t] = W_x x'``;
   Δ = softplus(W_dt δ + b_dt); y_f = selective_scan(x', Δ, A = -exp(A_log), B_t, C_t, D) * SiLU(z).
3. backward direction: the same with its own conv / x / dt projections, A_b_log and D_b, run on
   ``[x; z]`` whose valid prefix is reversed (padding stays at the end), output reversed back.
4. out = W_out (y_f + y_b), ``[B, T, d_model]``; padded steps are zeroed.

Padding sits after the valid part in both directions and everything is causal, so valid outputs
do not depend on the padding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from trainers.model.masking import flip_valid
from trainers.model.selective_scan import selective_scan


class BiMamba(nn.Module):
    """``[B, T, d_model]`` + mask ``[B, T]`` -> ``[B, T, d_model]``."""

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        dt_floor: float = 1e-4,
    ) -> None:
        super().__init__()
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.dt_rank = math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner)
        self.conv1d_b = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1)
        self.x_proj_b = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj_b = nn.Linear(self.dt_rank, self.d_inner)
        a_log = torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(a_log.clone())
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.A_b_log = nn.Parameter(a_log.clone())
        self.D_b = nn.Parameter(torch.ones(self.d_inner))
        self._init_forward_dt(dt_min, dt_max, dt_floor)

    @torch.no_grad()
    def _init_forward_dt(self, dt_min: float, dt_max: float, dt_floor: float) -> None:
        """Mamba's dt init for the forward direction only: W_dt ~ U(±dt_rank^-0.5) and
        b_dt = softplus^-1(dt), dt log-uniform in [dt_min, dt_max]. The backward direction keeps
        PyTorch's default init (VideoMamba behaviour, reference quirk B18)."""
        bound = self.dt_rank**-0.5
        nn.init.uniform_(self.dt_proj.weight, -bound, bound)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(
            min=dt_floor
        )
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def _direction(
        self,
        xz: torch.Tensor,
        conv1d: nn.Conv1d,
        x_proj: nn.Linear,
        dt_proj: nn.Linear,
        a_log: torch.Tensor,
        d: torch.Tensor,
    ) -> torch.Tensor:
        """One scan direction with its own conv, projections, A_log and D: ``[B, 2*d_inner, T] -> [B, d_inner, T]``."""
        x, z = xz.chunk(2, dim=1)
        x = F.silu(conv1d(x)[..., : x.shape[-1]])
        projected = x_proj(x.transpose(1, 2))  # [B, T, dt_rank + 2 * d_state]
        delta, b, c = projected.split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = (delta @ dt_proj.weight.t()).transpose(1, 2)
        a = -torch.exp(a_log.float())
        return selective_scan(
            x,
            delta,
            a,
            b.transpose(1, 2).contiguous(),
            c.transpose(1, 2).contiguous(),
            d.float(),
            z=z,
            delta_bias=dt_proj.bias.float(),
            delta_softplus=True,
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(dim=-1)
        xz = self.in_proj(x).transpose(1, 2)
        forward = self._direction(xz, self.conv1d, self.x_proj, self.dt_proj, self.A_log, self.D)
        backward = self._direction(
            flip_valid(xz, lengths), self.conv1d_b, self.x_proj_b, self.dt_proj_b, self.A_b_log, self.D_b
        )
        backward = flip_valid(backward, lengths)
        out = self.out_proj((forward + backward).transpose(1, 2))
        return out * mask[..., None].to(out.dtype)
