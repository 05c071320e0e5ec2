"""Skipping the batches of an epoch that a resumed run has already trained on."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from torch.utils.data import Sampler


class SkipFirstBatches(Sampler[list[int]]):
    """``inner``'s batches without the first ``skip``. The inner batch order depends only on seed
    and epoch (for a fixed world size, batch size and worker count), so the rest of the epoch is
    exactly what the interrupted run would have seen."""

    def __init__(self, inner: Sampler[list[int]], skip: int) -> None:
        if skip < 0:
            raise ValueError(f"skip must not be negative, got {skip}")
        self.inner = inner
        self.skip = skip

    def __iter__(self) -> Iterator[list[int]]:
        return islice(iter(self.inner), self.skip, None)

    def __len__(self) -> int:
        return max(0, len(self.inner) - self.skip)
