"""The trainer's batch order on the demo's synthetic data: batches of distinct videos, whole videos
per DataLoader worker, and a resume that skips exactly the batches already trained on."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from osgnet_bench.workflows.demo import prepare_demo
from trainers.config import RunConfig, load_run_config
from trainers.data.dataset import GroundingDataset
from trainers.data.loader import collate_samples
from trainers.distributed import DistContext
from trainers.train.batches import SkipFirstBatches, training_batches
from trainers.train.loop import Trainer, TrainRequest

BATCH_SIZE = 4  # the demo config's


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> RunConfig:
    """The built-in demo's dataset (40 synthetic videos, ~6 queries each) and config."""
    return load_run_config(prepare_demo(tmp_path_factory.mktemp("demo"), "nlq"))


@pytest.fixture(scope="module")
def train(config) -> GroundingDataset:
    return GroundingDataset.from_config(config.dataset, "train", seed=config.seed)


class _WorkerAndVideo(Dataset):
    """(worker id, video id) of each query: which worker served which video, without decoding."""

    def __init__(self, dataset: GroundingDataset) -> None:
        self.video_of = [r.video_id for r in dataset.records]

    def __len__(self) -> int:
        return len(self.video_of)

    def __getitem__(self, index: int) -> tuple[int, str]:
        info = get_worker_info()
        return (0 if info is None else info.id), self.video_of[index]


def served_batches(train: GroundingDataset, batches, num_workers: int) -> list[tuple[int, list[str]]]:
    """(worker, video ids) of every batch, as a real DataLoader hands them out."""
    loader = DataLoader(_WorkerAndVideo(train), batch_sampler=batches, num_workers=num_workers,
                        collate_fn=collate_samples)
    return [(batch[0][0], [video for _, video in batch]) for batch in loader]


def repeats_with_videos_to_spare(served: list[tuple[int, list[str]]], batch_size: int) -> list[int]:
    """Positions of batches that repeat a video although their worker still had ``batch_size``
    different videos to serve from that batch on (the only excusable repeats are at the end of a
    worker's share, when fewer videos than batch slots are left)."""
    bad = []
    for position, (worker, videos) in enumerate(served):
        if len(set(videos)) == len(videos):
            continue
        left = {v for w, later in served[position:] if w == worker for v in later}
        if len(left) >= batch_size:
            bad.append(position)
    return bad


@pytest.mark.parametrize("world_size,num_workers", [(1, 0), (1, 2), (2, 0), (2, 2)])
def test_training_batches_hold_distinct_videos_while_enough_are_left(train, world_size, num_workers):
    video_count = len(train.video_queries)
    for epoch in range(3):
        per_rank = []
        for rank in range(world_size):
            batches = training_batches(train, BATCH_SIZE, num_workers, seed=0, num_replicas=world_size, rank=rank)
            batches.set_epoch(epoch)
            indices = list(batches)
            served = served_batches(train, batches, num_workers)
            assert len(served) == len(indices) == len(batches) > 0
            assert all(len(videos) == BATCH_SIZE for _, videos in served)  # drop_last: full batches only
            assert repeats_with_videos_to_spare(served, BATCH_SIZE) == []
            flat = [i for batch in indices for i in batch]
            assert len(set(flat)) == len(flat)  # no query twice on one rank in one epoch
            per_rank.append(flat)
            # each worker decodes whole videos: only a video cut between two workers' shares is shared
            workers_of: dict[str, set[int]] = {}
            for worker, videos in served:
                for video in videos:
                    workers_of.setdefault(video, set()).add(worker)
            assert sum(len(w) > 1 for w in workers_of.values()) <= max(1, num_workers) - 1
        assert len({len(flat) for flat in per_rank}) == 1  # every rank takes the same number of steps
        covered = {i for flat in per_rank for i in flat}
        assert len(covered) >= len(train) - world_size * max(1, num_workers) * BATCH_SIZE
    assert video_count >= 4 * BATCH_SIZE  # the data really has enough videos for the check to bite


def test_the_old_consecutive_batching_would_have_repeated_videos(train):
    """The check above is not vacuous: cutting the video-grouped order into consecutive batches
    (the previous loader) puts several queries of one video in most batches."""
    order = list(training_batches(train, BATCH_SIZE, 0, seed=0).sampler)
    consecutive = [(0, [train.records[i].video_id for i in order[s:s + BATCH_SIZE]])
                   for s in range(0, len(order) - BATCH_SIZE + 1, BATCH_SIZE)]
    assert len(repeats_with_videos_to_spare(consecutive, BATCH_SIZE)) > len(consecutive) // 2


@pytest.mark.parametrize("world_size,num_workers", [(1, 0), (2, 2)])
def test_skipping_k_batches_yields_exactly_the_remaining_batches(train, world_size, num_workers):
    for epoch in (0, 4):
        for rank in range(world_size):
            # the interrupted run went through the epochs before; the resumed one starts fresh
            interrupted = training_batches(train, BATCH_SIZE, num_workers, seed=3, num_replicas=world_size, rank=rank)
            for earlier in range(epoch + 1):
                interrupted.set_epoch(earlier)
                full = list(interrupted)
            assert full != sorted(full)  # shuffled
            for skip in (0, 1, 5, len(full) - 1, len(full), len(full) + 2):
                resumed = training_batches(train, BATCH_SIZE, num_workers, seed=3, num_replicas=world_size,
                                           rank=rank)
                resumed.set_epoch(epoch)
                rest = SkipFirstBatches(resumed, skip)
                assert list(rest) == full[skip:]
                assert len(rest) == max(0, len(full) - skip)
    with pytest.raises(ValueError):
        SkipFirstBatches(interrupted, -1)


def test_trainer_loader_resumes_after_the_batches_already_trained(config, tmp_path):
    trainer = Trainer(config, TrainRequest(run_dir=tmp_path, progress=False),
                      DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu")))
    queries = [r.query_id for r in trainer.train_set.records]
    epoch = 2
    whole = [[s.query_id for s in batch] for batch in trainer.loader(epoch)]
    trainer.batch_sampler.set_epoch(epoch)
    assert whole == [[queries[i] for i in batch] for batch in trainer.batch_sampler]
    assert len(whole) == trainer.iters_per_epoch == len(trainer.train_set) // BATCH_SIZE
    for skip in (1, 7, trainer.iters_per_epoch - 1):
        trainer.progress.epoch_iteration = skip
        assert [[s.query_id for s in batch] for batch in trainer.loader(epoch)] == whole[skip:]
    trainer.logger.close()
