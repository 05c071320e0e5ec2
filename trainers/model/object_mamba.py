"""ObjectMambaBlock: bidirectional Mamba over the video, then object and text cross-attention
fused by a learned gate (reference ``mamba_arch: [bimamba1, mlp, obj]``); without the object
branch (``[bimamba1, mlp, none]``, narration pre-training) only the text path remains."""

from __future__ import annotations

import torch
from torch import nn

from trainers.model.attention import MaskedMHA, ObjectSlotAttention
from trainers.model.bimamba import BiMamba
from trainers.model.layers import LayerNorm, mlp, residual_scale


class ObjectMambaBlock(nn.Module):
    """x ``[B, C, T]`` (mask m ``[B, 1, T]``) -> ``[B, C, T]``; objects ``[B*O, C, T]`` and text
    ``[B, C, L]`` are optional.

    a. h = x*m + DP_mamba(BiMamba(LN_mamba(x)))
    b. u = h + DP_attn(MLP_mamba(LN1(h)) * m)
    c. objects: v_o = u*m + DP_attn(ObjAttn(LN_obj(u), LN_obj(objects))),
       v_o += DP_objmlp(MLP_obj(LN_objmlp(v_o)) * m); without objects v_o = u
    d. text: v_t = u*m + DP_attn(MHA(LN3(u), LN3(text))), v_t += DP_mlp(MLP(LN2(v_t)) * m);
       without text v_t = u
    e. g = sigmoid(MLP_gate(LN_gate([v_o; v_t]) * m)); out = g*v_o + (1 - g)*v_t

    One ``drop_path_attn`` (one layer scale) serves steps b, c and d, as in the reference (B4).
    With ``object_branch=False`` the modules of steps c and e are not built and out = v_t.
    """

    def __init__(self, channels: int, num_heads: int = 4, path_pdrop: float = 0.1, object_branch: bool = True) -> None:
        super().__init__()
        self.object_branch = object_branch
        # modules are created in the reference's order, which fixes the random initial weights
        self.ln1 = LayerNorm(channels)
        self.ln2 = LayerNorm(channels)
        if object_branch:
            self.ln_obj_mlp = LayerNorm(channels)
            self.ln_gate_mlp = LayerNorm(2 * channels)
        self.mamba = BiMamba(channels)
        self.ln_mamba = LayerNorm(channels)
        self.mamba_mlp = mlp(channels, 4 * channels)
        if object_branch:
            self.obj_attn = ObjectSlotAttention(channels, num_heads)
            self.ln_obj = LayerNorm(channels)
        self.cross_attn = MaskedMHA(channels, num_heads)
        self.ln3 = LayerNorm(channels)
        self.mlp = mlp(channels, 4 * channels)
        if object_branch:
            self.obj_mlp = mlp(channels, 4 * channels)
            self.gate_mlp = mlp(2 * channels, 4 * channels, channels)
        self.drop_path_attn = residual_scale(channels, path_pdrop)
        self.drop_path_mlp = residual_scale(channels, path_pdrop)
        if object_branch:
            self.drop_path_obj_mlp = residual_scale(channels, path_pdrop)
        self.drop_path_mamba = residual_scale(channels, path_pdrop)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        objects: torch.Tensor | None = None,
        object_mask: torch.Tensor | None = None,
        text: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        m = mask.to(x.dtype)
        mamba_out = self.mamba(self.ln_mamba(x).transpose(1, 2), mask.squeeze(1)).transpose(1, 2)
        h = x * m + self.drop_path_mamba(mamba_out)
        u = h + self.drop_path_attn(self.mamba_mlp(self.ln1(h)) * m)

        object_branch = u
        if self.object_branch and objects is not None:
            attended, _ = self.obj_attn(self.ln_obj(u), m, self.ln_obj(objects), object_mask)
            object_branch = u * m + self.drop_path_attn(attended)
            object_branch = object_branch + self.drop_path_obj_mlp(self.obj_mlp(self.ln_obj_mlp(object_branch)) * m)

        text_branch = u
        if text is not None:
            attended, _ = self.cross_attn(self.ln3(u), m, self.ln3(text), text_mask)
            text_branch = u * m + self.drop_path_attn(attended)
            text_branch = text_branch + self.drop_path_mlp(self.mlp(self.ln2(text_branch)) * m)

        if not self.object_branch:
            return text_branch
        gate = torch.sigmoid(self.gate_mlp(self.ln_gate_mlp(torch.cat([object_branch, text_branch], 1)) * m))
        return gate * object_branch + (1 - gate) * text_branch
