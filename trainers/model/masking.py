"""The "reverse only the valid part" flip used by the bidirectional Mamba.

Sequences are padded at the end: sample b has ``lengths[b]`` valid steps followed by padding.
"""

from __future__ import annotations

import torch


def flip_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first ``lengths[b]`` steps of each sample; padding stays where it is.

    x: [batch, C, L]; lengths: [batch] (integers in 0..L). Returns [batch, C, L] with
    out[b, :, t] = x[b, :, lengths[b] - 1 - t] for t < lengths[b] and x[b, :, t] otherwise.
    The flip is its own inverse, so the same call maps a backward-direction output back.
    """
    length = x.shape[-1]
    lengths = lengths.to(device=x.device, dtype=torch.long).reshape(-1, 1)
    steps = torch.arange(length, device=x.device)
    source = torch.where(steps < lengths, lengths - 1 - steps, steps)  # [batch, L]
    return x.gather(-1, source[:, None, :].expand_as(x))
