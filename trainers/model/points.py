"""Anchor points of the feature pyramid: one point per step of every level.

A point is the row ``(t, lo, hi, s)``: its position t in level-0 grid units (``t = i · s`` for the
i-th step of a level of stride s, no half-stride offset), the level's regression range [lo, hi]
(grid units) and the stride s. Label assignment and decoding read all four columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

# The regression range of each of the 7 levels in every OSGNet config (grid units; they overlap).
OSGNET_REGRESSION_RANGES: tuple[tuple[float, float], ...] = (
    (0, 4),
    (2, 8),
    (4, 16),
    (8, 32),
    (16, 64),
    (32, 128),
    (64, 10000),
)


def level_points(
    length: int, stride: int, regression_range: Sequence[float], device: torch.device | str | None = None
) -> torch.Tensor:
    """The ``[length, 4]`` float32 points ``(i·stride, lo, hi, stride)`` of one level."""
    positions = torch.arange(length, dtype=torch.float32, device=device) * stride
    columns = torch.tensor([regression_range[0], regression_range[1], stride], dtype=torch.float32, device=device)
    return torch.cat((positions[:, None], columns.expand(length, 3)), dim=1)


class PointGenerator(nn.Module):
    """Per-level points, precomputed for ``buffer_len_factor · max_seq_len`` level-0 steps.

    The buffers are non-persistent (not in the state_dict), like the reference's. A level longer
    than its buffer is generated on the fly with the same formula instead of failing (the
    reference asserts there), so inference has no length limit.
    """

    def __init__(
        self,
        max_seq_len: int,
        strides: Sequence[int],
        regression_ranges: Sequence[Sequence[float]] = OSGNET_REGRESSION_RANGES,
        buffer_len_factor: float = 4.0,
    ) -> None:
        super().__init__()
        if len(strides) != len(regression_ranges):
            raise ValueError(
                f"{len(strides)} pyramid strides but {len(regression_ranges)} regression ranges; "
                "give one range per level."
            )
        self.strides = [int(s) for s in strides]
        self.regression_ranges = [(float(lo), float(hi)) for lo, hi in regression_ranges]
        buffer_len = max_seq_len * buffer_len_factor
        for level, (stride, reg_range) in enumerate(zip(self.strides, self.regression_ranges, strict=True)):
            points = level_points(math.ceil(buffer_len / stride), stride, reg_range)
            self.register_buffer(f"points_{level}", points, persistent=False)

    @property
    def num_levels(self) -> int:
        return len(self.strides)

    def forward(self, lengths: Sequence[int]) -> list[torch.Tensor]:
        """Points of each level; ``lengths[l]`` = T_l. Returns one ``[T_l, 4]`` tensor per level."""
        if len(lengths) != self.num_levels:
            raise ValueError(f"got {len(lengths)} level lengths for {self.num_levels} levels")
        points = []
        for level, length in enumerate(lengths):
            buffer = getattr(self, f"points_{level}")
            if length <= buffer.shape[0]:
                points.append(buffer[:length])
            else:
                points.append(level_points(length, self.strides[level], self.regression_ranges[level], buffer.device))
        return points
