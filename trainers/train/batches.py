"""The training batch order, and skipping the batches a resumed run has already trained on."""

from __future__ import annotations

from collections.abc import Iterator, Sized
from itertools import islice
from typing import cast

from torch.utils.data import Sampler

from trainers.data.dataset import GroundingDataset
from trainers.data.loader import VideoGroupedBatchSampler, VideoGroupedSampler


def training_batches(
    dataset: GroundingDataset, batch_size: int, num_workers: int, seed: int, num_replicas: int = 1, rank: int = 0
) -> VideoGroupedBatchSampler:
    """This rank's training batches: ``batch_size`` queries of distinct videos, full batches only,
    each of the ``num_workers`` DataLoader workers serving whole videos. The order depends only on
    (seed, epoch) for a given world size, batch size and worker count; call ``set_epoch``."""
    sampler = VideoGroupedSampler(dataset, shuffle=True, seed=seed, num_replicas=num_replicas, rank=rank)
    return VideoGroupedBatchSampler(sampler, batch_size, num_workers, drop_last=True)


class SkipFirstBatches(Sampler[list[int]]):
    """``inner``'s batches without the first ``skip``: since the inner order depends only on seed
    and epoch, the rest of the epoch is exactly what the interrupted run would have seen."""

    def __init__(self, inner: Sampler[list[int]], skip: int) -> None:
        if skip < 0:
            raise ValueError(f"skip must not be negative, got {skip}")
        self.inner = inner
        self.skip = skip

    def __iter__(self) -> Iterator[list[int]]:
        return islice(iter(self.inner), self.skip, None)

    def __len__(self) -> int:
        return max(0, len(cast(Sized, self.inner)) - self.skip)
