"""Batching: the list collator, video-grouped (optionally distributed) sampling, the DataLoader.

A batch is a plain list of sample dicts; padding is the model's job (model.md §1.2).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from trainers.data.dataset import GroundingDataset


def collate_samples(batch: list[dict]) -> list[dict]:
    """The reference's trivial collator: the batch is the list of samples."""
    return batch


def seed_worker(worker_id: int) -> None:
    """Reseed python and numpy in a worker from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**31
    random.seed(seed)
    np.random.seed(seed)


class VideoGroupedSampler(Sampler[int]):
    """Yields the queries of one video one after another, videos in random order per epoch.

    With ``num_replicas`` > 1 it plays the role of ``DistributedSampler``: the epoch's order is
    padded (by repeating its start) to a multiple of ``num_replicas`` and rank ``rank`` takes one
    contiguous part, so videos stay together and every rank gets the same number of samples.
    Call :meth:`set_epoch` each epoch, as with ``DistributedSampler``.
    """

    def __init__(
        self,
        dataset: GroundingDataset,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        self.groups = [list(indices) for indices in dataset.video_queries.values()]
        self.shuffle = shuffle
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        total = sum(len(g) for g in self.groups)
        self.num_samples = -(-total // num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_order(self) -> list[int]:
        """All indices of this epoch, before splitting between replicas."""
        groups = [list(g) for g in self.groups]
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch])
            for group in groups:
                rng.shuffle(group)
            groups = [groups[i] for i in rng.permutation(len(groups))]
        return [index for group in groups for index in group]

    def __iter__(self) -> Iterator[int]:
        order = self.epoch_order()
        padded_length = self.num_samples * self.num_replicas
        while len(order) < padded_length:
            order += order[: padded_length - len(order)]
        start = self.rank * self.num_samples
        return iter(order[start : start + self.num_samples])

    def __len__(self) -> int:
        return self.num_samples


def make_data_loader(
    dataset: GroundingDataset,
    batch_size: int,
    num_workers: int,
    training: bool,
    seed: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
) -> DataLoader:
    """A DataLoader over ``dataset`` with video-grouped sampling (shuffled when ``training``)."""
    sampler = VideoGroupedSampler(dataset, shuffle=training, seed=seed, num_replicas=num_replicas, rank=rank)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_samples,
        worker_init_fn=seed_worker,
        drop_last=training,
        persistent_workers=num_workers > 0,
    )
