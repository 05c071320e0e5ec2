"""The training-only video-text matching (VTM) branch: shot features, Q-Former aggregators and the
cosine similarity head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainers.model.attention import ConvAttention, MaskedMHA
from trainers.model.config import ModelConfig
from trainers.model.layers import ConvStack, LayerNorm, residual_scale


class FormerLayer(nn.Module):
    """Learned queries ``[N, C, Q]`` (mask ``[N, 1, Q]``) read an input ``[N, C, S]``:
    self-attention among the queries (ConvAttention), cross-attention to the input (shared LN3 on
    both sides), then a GELU FFN; pre-LN residuals. One ``drop_path_attn`` serves both attentions.
    """

    def __init__(self, channels: int, num_heads: int, path_pdrop: float) -> None:
        super().__init__()
        self.self_mixer = ConvAttention(channels, num_heads)
        self.cross_mixer = MaskedMHA(channels, num_heads)
        self.ln3 = LayerNorm(channels)
        self.ffn = ConvStack(
            2, channels, 4 * channels, channels, with_ln=False, activation="gelu", end_activation=False
        )
        self.ln1 = LayerNorm(channels)
        self.ln2 = LayerNorm(channels)
        self.drop_path_attn = residual_scale(channels, path_pdrop)
        self.drop_path_mlp = residual_scale(channels, path_pdrop)

    def forward(
        self, query: torch.Tensor, query_mask: torch.Tensor, x: torch.Tensor, x_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out, out_mask = self.self_mixer(self.ln1(query), query_mask)
        weight = out_mask.to(out.dtype)
        out = query * weight + self.drop_path_attn(out)
        attended, _ = self.cross_mixer(self.ln3(out), weight, self.ln3(x), x_mask)
        out = out * weight + self.drop_path_attn(attended)
        ffn_out, _ = self.ffn(self.ln2(out), out_mask)
        return out + self.drop_path_mlp(ffn_out * weight), out_mask


class QFormer(nn.Module):
    """Aggregates a masked sequence ``[N, C, S]`` into one vector ``[N, C, 1]`` (mask ``[N, 1, 1]``,
    False for an empty input) with Q learned queries and a kernel-Q, stride-Q conv over them.

    Reference quirk kept by default (``ModelConfig.quirks.qformer_fc_padding``): the conv is
    padded by Q // 2, so its one output sees only queries 0..Q-3 (B1). The query mask is a bool
    (the reference used the count of valid steps, which only rescales the q/k/v convs before
    their LayerNorm, B2).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        channels, q = config.embed_dim, config.vtm_num_queries
        self.qformers = nn.ModuleList(
            FormerLayer(channels, config.vtm_heads, config.vtm_path_pdrop) for _ in range(config.vtm_num_layers)
        )
        self.querys = nn.Embedding(channels, q)
        padding = q // 2 if config.quirks.qformer_fc_padding else 0
        self.fc = ConvStack(
            1,
            channels,
            channels,
            channels,
            kernel_size=q,
            stride=q,
            padding=padding,
            with_ln=False,
            activation="none",
            end_activation=False,
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, q = x.shape[0], self.querys.weight.shape[1]
        query = self.querys.weight.expand(n, -1, -1)
        query_mask = mask.any(dim=-1, keepdim=True).expand(-1, -1, q)
        for layer in self.qformers:
            query, query_mask = layer(query, query_mask, x, mask)
            query = query.masked_fill(~query_mask, 0.0)
        return self.fc(query, query_mask)


class CosineHead(nn.Module):
    """Cosine similarity ``[Nq, S]`` between texts ``[Nq, C, 1]`` and shots ``[S, C, 1]`` after a
    two-layer LN/GELU MLP on each side."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c, d = config.embed_dim, config.vtm_sim_dim
        self.x_mlp = ConvStack(2, c, 4 * d, d, activation="gelu", end_activation=False)
        self.y_mlp = ConvStack(2, c, 4 * d, d, activation="gelu", end_activation=False)

    def forward(
        self, text: torch.Tensor, text_mask: torch.Tensor, shots: torch.Tensor, shot_mask: torch.Tensor
    ) -> torch.Tensor:
        text, _ = self.x_mlp(text, text_mask)
        shots, _ = self.y_mlp(shots, shot_mask)
        return F.cosine_similarity(text.permute(0, 2, 1), shots.permute(2, 0, 1), dim=-1)


def shot_features(video: torch.Tensor, spans: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Slice every shot out of the text-free video features and pad to the longest shot.

    video ``[B, C, T0]``; spans: per sample ``[n_b, 2]`` int (start, end) steps, all non-empty,
    at least one in the batch. Returns ``[S, C, Ls]`` and mask ``[S, 1, Ls]`` in sample-major
    order (S = Σ n_b).
    """
    pieces = [video[b, :, start:end] for b, sample in enumerate(spans) for start, end in sample.tolist()]
    lengths = torch.tensor([p.shape[-1] for p in pieces], device=video.device)
    longest = int(lengths.max())
    feats = torch.stack([F.pad(p, (0, longest - p.shape[-1])) for p in pieces])
    mask = torch.arange(longest, device=video.device)[None, None, :] < lengths[:, None, None]
    return feats, mask
