"""Data-loader throughput: cached, video-grouped loading against naive per-sample decoding.

Generates NLQ-sized synthetic stores (2304-d video features, ~900 steps per video, ~11 queries
per video, 512-d text and class-name features, objects and captions), then times one pass over
the training split with 0 and 2 DataLoader workers:

* naive: every sample decodes its video, all the video's query tokens, detections and captions
  again (the reference loader's behaviour), queries in random order;
* ours: a per-worker cache of decoded videos and video-grouped batches laid out so that each
  worker sees whole videos (``make_data_loader``).

It first checks that both paths give identical samples, then prints samples/s, MB/s (bytes of
the sample tensors delivered) and the ratio ours / naive.

    python bench/loader.py [--videos 16] [--workers 0 2] [--batch-size 4] [--dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, RandomSampler

from trainers.config import load_run_config
from trainers.data.dataset import GroundingDataset
from trainers.data.loader import (
    VideoGroupedSampler,
    collate_samples,
    make_data_loader,
    seed_worker,
)
from trainers.model.inputs import GroundingSample
from trainers.synth import SynthOptions, generate_dataset


def sample_nbytes(sample: GroundingSample) -> int:
    """Bytes of every tensor in a sample (lists of tensors included)."""
    total = 0
    for value in vars(sample).values():
        for tensor in value if isinstance(value, list) else [value]:
            if isinstance(tensor, torch.Tensor):
                total += tensor.nelement() * tensor.element_size()
    return total


def time_one_pass(loader: DataLoader) -> tuple[float, int, int]:
    """(seconds, samples, bytes) of one pass, worker start-up included."""
    start = time.perf_counter()
    count = nbytes = 0
    for batch in loader:
        count += len(batch)
        nbytes += sum(sample_nbytes(s) for s in batch)
    return time.perf_counter() - start, count, nbytes


def assert_identical(first: GroundingSample, second: GroundingSample) -> None:
    a, b = vars(first), vars(second)
    assert a.keys() == b.keys()
    for key, x in a.items():
        y = b[key]
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y), key
        elif isinstance(x, list):
            assert len(x) == len(y) and all(u is v is None or torch.equal(u, v) for u, v in zip(x, y, strict=True)), key
        else:
            assert x == y, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write the stores (a temporary folder by default)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.dir or Path(scratch)
        start = time.perf_counter()
        options = SynthOptions(
            track="nlq",
            videos=args.videos,
            queries_per_video=11,
            steps=900,
            video_dim=2304,
            text_dim=512,
            class_dim=512,
        )
        generate_dataset(root, options)
        print(f"generated {args.videos} NLQ-sized videos in {time.perf_counter() - start:.1f} s")
        config = load_run_config(root / "config.yaml").dataset
        naive = GroundingDataset.from_config(config, "train", cache_videos=0)
        ours = GroundingDataset.from_config(config, "train", cache_videos=8)
        steps = [naive.decoded_video(v).num_steps for v in naive.video_queries]
        print(
            f"train split: {len(naive)} queries, {len(naive.video_queries)} videos, "
            f"{sum(steps) / len(steps):.0f} steps per video on average"
        )
        for index in VideoGroupedSampler(ours, seed=0):
            assert_identical(ours[index], naive[index])
        print("identical samples: yes (every training sample compared)")
        rows = []
        for workers in args.workers:
            generator = torch.Generator().manual_seed(0)
            naive_time, count, nbytes = time_one_pass(
                DataLoader(
                    naive,
                    batch_size=args.batch_size,
                    sampler=RandomSampler(naive, generator=generator),
                    num_workers=workers,
                    collate_fn=collate_samples,
                    worker_init_fn=seed_worker,
                )
            )
            fresh = GroundingDataset.from_config(config, "train", cache_videos=8)
            ours_time, count_ours, _ = time_one_pass(make_data_loader(fresh, args.batch_size, workers, training=False))
            assert count == count_ours
            rows.append(
                (
                    workers,
                    count / naive_time,
                    nbytes / naive_time / 1e6,
                    count / ours_time,
                    nbytes / ours_time / 1e6,
                    naive_time / ours_time,
                )
            )
        print(
            f"{'workers':>7} | {'naive samples/s':>15} {'naive MB/s':>10} | {'ours samples/s':>14} "
            f"{'ours MB/s':>9} | {'ratio':>5}"
        )
        for workers, naive_rate, naive_mb, ours_rate, ours_mb, ratio in rows:
            print(
                f"{workers:>7} | {naive_rate:>15.1f} {naive_mb:>10.1f} | {ours_rate:>14.1f} {ours_mb:>9.1f} "
                f"| {ratio:>5.2f}x"
            )


if __name__ == "__main__":
    main()
