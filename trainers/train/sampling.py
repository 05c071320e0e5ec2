"""Skipping the batches of an epoch that a resumed run has already trained on."""

from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data import Sampler


class SkipFirst(Sampler[int]):
    """``inner``'s indices without the first ``skip`` (the inner order depends only on seed and
    epoch, so the rest of the epoch is exactly what the interrupted run would have seen)."""

    def __init__(self, inner: Sampler[int], skip: int) -> None:
        self.inner = inner
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        for position, index in enumerate(self.inner):
            if position >= self.skip:
                yield index

    def __len__(self) -> int:
        return max(0, len(self.inner) - self.skip)
