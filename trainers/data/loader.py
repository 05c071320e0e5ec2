"""Batching: the list collator, video-grouped (optionally distributed) sampling, the DataLoader.

A batch is a plain list of ``GroundingSample``; padding is the model's job (model.md §1.2).

Many queries share a video (about 11 per NLQ clip), and decoding the video is the expensive part
of a sample. The samplers here order the work so that each DataLoader worker decodes a video once
and serves all its queries from its cache, while a batch still holds queries of *different*
videos (as with random sampling; the VTM loss treats other samples' shots as negatives, so
duplicate videos in a batch would create false negatives).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from osgnet_bench.errors import UserError
from trainers.data.dataset import GroundingDataset
from trainers.model.inputs import GroundingSample

T = TypeVar("T")


def collate_samples(batch: list[GroundingSample]) -> list[GroundingSample]:
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
    Call :meth:`set_epoch` each epoch, as with ``DistributedSampler``. Given to a DataLoader with
    ``batch_size`` directly, a batch would hold several queries of one video; wrap it in
    :class:`VideoGroupedBatchSampler` instead.
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
        self.group_of = {index: g for g, indices in enumerate(self.groups) for index in indices}
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


class VideoGroupedBatchSampler(Sampler[list[int]]):
    """Batches of distinct videos, arranged so that each DataLoader worker sees whole videos.

    The replica's epoch order (from ``sampler``) is cut into ``num_workers`` contiguous streams of
    whole batches. Within a stream, ``batch_size`` lanes each work through one video at a time:
    a batch takes the next query of every lane, and a lane whose video is exhausted moves on to
    the stream's next video. So a batch holds different videos (only a stream's last batches may
    repeat one, when fewer videos than lanes are left), and a worker needs at most
    ``batch_size`` decoded videos at once: give the dataset ``cache_videos >= batch_size``.
    Streams' batches are interleaved, and a DataLoader hands batches to workers in turn, so
    worker k receives stream k. Each stream yields ceil(len / batch_size) batches (equal on every
    replica); ``drop_last`` drops a stream's final short batch.
    """

    def __init__(
        self, sampler: VideoGroupedSampler, batch_size: int, num_workers: int = 0, drop_last: bool = False
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.num_streams = max(1, num_workers)
        self.drop_last = drop_last

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def _stream_parts(self, order: list[int]) -> list[list[int]]:
        per_stream = -(-len(order) // (self.num_streams * self.batch_size)) * self.batch_size
        return [order[k * per_stream : (k + 1) * per_stream] for k in range(self.num_streams)]

    def _lane_batches(self, part: list[int]) -> list[list[int]]:
        videos: deque[deque[int]] = deque()
        for index in part:
            if not videos or self.sampler.group_of[index] != self.sampler.group_of[videos[-1][0]]:
                videos.append(deque())
            videos[-1].append(index)
        lanes: list[deque[int]] = []
        batches = []
        while videos or lanes:
            lanes = [lane for lane in lanes if lane]
            while len(lanes) < self.batch_size and videos:
                lanes.append(videos.popleft())
            batch = [lane.popleft() for lane in lanes]
            while len(batch) < self.batch_size and any(lanes):
                batch.extend(lane.popleft() for lane in lanes if lane and len(batch) < self.batch_size)
            batches.append(batch)
            lanes = [lane for lane in lanes if lane]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        streams = [self._lane_batches(part) for part in self._stream_parts(list(self.sampler))]
        for position in range(max((len(s) for s in streams), default=0)):
            for stream in streams:
                if position < len(stream):
                    yield stream[position]

    def __len__(self) -> int:
        sizes = [len(part) for part in self._stream_parts(list(range(len(self.sampler))))]
        if self.drop_last:
            return sum(size // self.batch_size for size in sizes)
        return sum(-(-size // self.batch_size) for size in sizes)


def make_data_loader(
    dataset: GroundingDataset,
    batch_size: int,
    num_workers: int,
    training: bool,
    seed: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
) -> DataLoader:
    """A DataLoader over ``dataset`` with :class:`VideoGroupedBatchSampler` batches (shuffled and
    ``drop_last`` when ``training``). Call :func:`set_loader_epoch` at the start of every epoch."""
    sampler = VideoGroupedSampler(dataset, shuffle=training, seed=seed, num_replicas=num_replicas, rank=rank)
    return DataLoader(
        dataset,
        batch_sampler=VideoGroupedBatchSampler(sampler, batch_size, num_workers, drop_last=training),
        num_workers=num_workers,
        collate_fn=collate_samples,
        worker_init_fn=seed_worker,
        persistent_workers=num_workers > 0,
    )


def set_loader_epoch(loader: DataLoader, epoch: int) -> None:
    """Start epoch ``epoch``: new video order in the sampler, new random draws in the dataset
    (persistent workers see it, the dataset's epoch lives in shared memory). ``loader`` comes from
    :func:`make_data_loader`."""
    batch_sampler, dataset = loader.batch_sampler, loader.dataset
    if not isinstance(batch_sampler, VideoGroupedBatchSampler) or not isinstance(dataset, GroundingDataset):
        raise TypeError("set_loader_epoch needs a loader made by make_data_loader")
    batch_sampler.set_epoch(epoch)
    dataset.set_epoch(epoch)


def without_worker_tracebacks(batches: Iterable[T]) -> Iterator[T]:
    """Yield ``batches`` (a DataLoader); a ``UserError`` raised in a worker process comes out with
    its own one-paragraph message. torch re-raises a worker's exception with the worker's whole
    traceback folded into the message; its last line is ``module.ClassName: message``."""
    iterator = iter(batches)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except UserError as exc:
            text = str(exc)
            if "Original Traceback" not in text:
                raise
            message = text.rsplit(f"{type(exc).__name__}: ", 1)[-1].strip()
            raise UserError(message, exc.exit_code) from None
        yield batch
