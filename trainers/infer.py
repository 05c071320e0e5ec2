"""Sharded inference: every rank predicts a contiguous share of the queries (no padding, no
duplicates), the shares are gathered, and the result is in annotation-file order.

Also the worker entry for ``osgnet-bench infer`` under torchrun::

    python -m trainers.infer --config CFG [--set k=v ...] --checkpoint CKPT --split val|test
                             [--jsonl FILE] --out PREDICTIONS.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.annotations.records import QueryRecord, split_query_id
from osgnet_bench.errors import UserError
from osgnet_bench.predictions import Prediction, write_predictions
from trainers.config import RunConfig, load_run_config
from trainers.data.config import DatasetConfig
from trainers.data.dataset import GroundingDataset
from trainers.data.sources import FeatureSources
from trainers.model.checkpoint import load_checkpoint_into
from trainers.model.osgnet import OSGNet
from trainers.train.distributed import DistContext, gather_objects, init_distributed, set_cpu_threads, shutdown
from trainers.train.failure import report_failure

SPLITS = ("val", "test")


def inference_dataset_config(config: DatasetConfig) -> DatasetConfig:
    """The dataset config without what only training reads (captions, per-video query lists)."""
    return dataclasses.replace(config, lavila_caption_dir=None, mul_query_input=0)


def split_records(config: DatasetConfig, split: str, jsonl: str | os.PathLike | None = None) -> tuple[list[QueryRecord], str]:
    """The query records to predict and the file they came from: ``jsonl`` if given, else the
    config's ``val_jsonl_file`` (the test split needs ``jsonl``)."""
    if split not in SPLITS:
        raise UserError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}.")
    path = jsonl if jsonl is not None else config.val_jsonl_file
    if path is None:
        raise UserError("no annotation file to predict: the config has no dataset.val_jsonl_file; pass --jsonl.")
    if split == "test" and jsonl is None:
        raise UserError("--split test needs --jsonl, the test annotation jsonl (the config names only the "
                        "validation file).")
    return read_query_jsonl(path), str(path)


def open_inference_dataset(config: DatasetConfig, records: Sequence[QueryRecord], source: str) -> GroundingDataset:
    """A non-training dataset over ``records``; stores are checked for every key first."""
    config = inference_dataset_config(config)
    return GroundingDataset(records, config, FeatureSources.open(config, "val"), training=False, source=source)


def shard_indices(dataset: GroundingDataset, rank: int, world_size: int) -> list[int]:
    """Rank ``rank``'s contiguous share of the queries, ordered video by video (shares differ by
    at most one query; together they cover every query once)."""
    order = [index for members in dataset.video_queries.values() for index in members]
    bounds = np.linspace(0, len(order), world_size + 1).round().astype(int)
    return order[bounds[rank]: bounds[rank + 1]]


def to_prediction(output: dict) -> Prediction:
    """One model output (``segments`` [K, 2] s, ``scores`` [K]) -> a ``Prediction``."""
    annotation_uid, query_idx = split_query_id(output["query_id"])
    return Prediction(video_id=output["video_id"], annotation_uid=annotation_uid, query_idx=query_idx,
                      windows=output["segments"].double().numpy().reshape(-1, 2),
                      scores=output["scores"].double().numpy().reshape(-1))


@torch.no_grad()
def predict(model: OSGNet, dataset: GroundingDataset, ctx: DistContext, batch_size: int,
            progress: bool = False) -> list[Prediction]:
    """Predictions for every query of ``dataset`` in its record order (on every rank)."""
    was_training = model.training
    model.eval()
    mine = shard_indices(dataset, ctx.rank, ctx.world_size)
    local: list[tuple[int, Prediction]] = []
    bar = tqdm(total=len(dataset), desc="infer", unit="query", disable=not (progress and ctx.is_main),
               dynamic_ncols=True)
    for start in range(0, len(mine), batch_size):
        chunk = mine[start: start + batch_size]
        outputs = model([dataset[i] for i in chunk])
        local.extend((i, to_prediction(o)) for i, o in zip(chunk, outputs))
        bar.update(len(chunk) * ctx.world_size)
    bar.close()
    model.train(was_training)
    gathered = sorted((pair for share in gather_objects(local, ctx) for pair in share), key=lambda pair: pair[0])
    return [prediction for _, prediction in gathered]


def run_inference(config: RunConfig, checkpoint: str | os.PathLike, split: str, out: str | os.PathLike,
                  jsonl: str | os.PathLike | None, ctx: DistContext, progress: bool = True) -> list[Prediction]:
    """Load ``checkpoint`` (ours or official) into a fresh model, predict ``split`` and write ``out``
    (rank 0). Returns the predictions on every rank."""
    set_cpu_threads(config.trainer.cpu_threads)
    records, source = split_records(config.dataset, split, jsonl)
    dataset = open_inference_dataset(config.dataset, records, source)
    model = OSGNet(config.model)
    load_checkpoint_into(model, checkpoint)
    model.to(ctx.device)
    batch_size = config.trainer.eval_batch_size or config.loader.batch_size
    predictions = predict(model, dataset, ctx, batch_size, progress=progress)
    if ctx.is_main:
        write_predictions(out, predictions)
    return predictions


def main(argv: list[str] | None = None) -> int:
    """Worker entry: ``python -m trainers.infer ...`` (one process per rank under torchrun)."""
    parser = argparse.ArgumentParser(prog="python -m trainers.infer")
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--split", required=True, choices=SPLITS)
    parser.add_argument("--jsonl", default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    failure_file = Path(args.out).with_name(Path(args.out).name + ".failure.json")
    try:
        config = load_run_config(args.config, args.overrides)
        ctx = init_distributed(config.trainer.device, config.trainer.init_timeout_s)
        try:
            run_inference(config, args.checkpoint, args.split, args.out, args.jsonl, ctx)
        finally:
            shutdown(ctx)
    except UserError as exc:
        report_failure(failure_file, str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
