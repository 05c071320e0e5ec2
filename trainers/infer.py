"""Inference: check a checkpoint against the config before any work, then predict every query
once, sharded over the ranks (no padding, no duplicates), gathered in annotation-file order.

``infer_session`` is what ``osgnet-bench infer`` runs: the checks (config, data, the checkpoint's
weights, track and model config), then the workers, in this process or under torchrun. The worker
entry under torchrun is::

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
from typing import Any

import numpy as np
import torch

from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.annotations.records import QueryRecord, split_query_id
from osgnet_bench.errors import UserError
from osgnet_bench.launch_options import LaunchOptions
from osgnet_bench.predictions import Prediction, write_predictions
from osgnet_bench.progress import progress_display
from osgnet_bench.tracks import GOALSTEP, NLQ_V1, NLQ_V2, TACOS, Track, get_track
from trainers.config import RunConfig, load_run_config, parse_run_config
from trainers.data.config import DatasetConfig
from trainers.data.dataset import GroundingDataset
from trainers.data.sources import FeatureSources
from trainers.distributed import (
    DistContext,
    check_device,
    gather_objects,
    init_distributed,
    run_torchrun,
    run_worker,
    set_cpu_threads,
    shutdown,
)
from trainers.model.checkpoint import CheckpointRecord, checked_record, load_checkpoint_into
from trainers.model.osgnet import OSGNet
from trainers.model.summary import build_on_meta

SPLITS = ("val", "test")
# the reference's ``track: goal_step`` means "ground truth from a jsonl"; the query type says which benchmark
GOAL_STEP_FAMILY = {"goal_step": GOALSTEP, "tacos": TACOS, "nlq": NLQ_V1}
# model settings that do not change what trained weights compute at inference: decoding knobs
# (free to change) and what only training reads (drop-path, loss settings)
NOT_COMPARED = frozenset(
    {
        "decode",
        "text_path_pdrop",
        "object_path_pdrop",
        "video_path_pdrop",
        "fpn_path_pdrop",
        "vtm_path_pdrop",
        "cls_prior_prob",
        "init_loss_normalizer",
        "loss_normalizer_momentum",
        "label_smoothing",
        "reg_loss_weight",
        "center_sample_radius",
        "vtm_loss_weight",
        "vtm_temperature",
    }
)
# dataset settings that fix how features map to seconds
TIMING_KEYS = ("feat_stride", "num_frames", "default_fps", "max_seq_len")
MAX_SHOWN = 8


def inference_dataset_config(config: DatasetConfig) -> DatasetConfig:
    """The dataset config without what only training reads (captions, per-video query lists)."""
    return dataclasses.replace(config, lavila_caption_dir=None, mul_query_input=0)


def split_records(
    config: DatasetConfig, split: str, jsonl: str | os.PathLike | None = None
) -> tuple[list[QueryRecord], str]:
    """The query records to predict and the file they came from: ``jsonl`` if given, else the
    config's ``val_jsonl_file`` (the test split needs ``jsonl``)."""
    if split not in SPLITS:
        raise UserError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}.")
    path = jsonl if jsonl is not None else config.val_jsonl_file
    if path is None:
        raise UserError("no annotation file to predict: the config has no dataset.val_jsonl_file; pass --jsonl.")
    if split == "test" and jsonl is None:
        raise UserError(
            "--split test needs --jsonl, the test annotation jsonl (the config names only the validation file)."
        )
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
    return order[bounds[rank] : bounds[rank + 1]]


def to_prediction(output: dict) -> Prediction:
    """One model output (``segments`` [K, 2] s, ``scores`` [K]) -> a ``Prediction``."""
    annotation_uid, query_idx = split_query_id(output["query_id"])
    return Prediction(
        video_id=output["video_id"],
        annotation_uid=annotation_uid,
        query_idx=query_idx,
        windows=output["segments"].double().numpy().reshape(-1, 2),
        scores=output["scores"].double().numpy().reshape(-1),
    )


@torch.no_grad()
def predict(
    model: OSGNet, dataset: GroundingDataset, ctx: DistContext, batch_size: int, progress: bool = False
) -> list[Prediction]:
    """Predictions for every query of ``dataset`` in its record order (on every rank)."""
    was_training = model.training
    model.eval()
    mine = shard_indices(dataset, ctx.rank, ctx.world_size)
    local: list[tuple[int, Prediction]] = []
    with progress_display(sys.stderr, len(dataset), "infer", "query", enabled=progress and ctx.is_main) as bar:
        for start in range(0, len(mine), batch_size):
            chunk = mine[start : start + batch_size]
            outputs = model([dataset[i] for i in chunk])
            local.extend((i, to_prediction(o)) for i, o in zip(chunk, outputs, strict=True))
            bar.update(len(chunk) * ctx.world_size)
    model.train(was_training)
    gathered = sorted((pair for share in gather_objects(local, ctx) for pair in share), key=lambda pair: pair[0])
    return [prediction for _, prediction in gathered]


def run_inference(
    config: RunConfig,
    checkpoint: str | os.PathLike,
    split: str,
    out: str | os.PathLike,
    jsonl: str | os.PathLike | None,
    ctx: DistContext,
    progress: bool = True,
) -> list[Prediction]:
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


def resolve_track(name: str | None, records: Sequence[QueryRecord]) -> Track:
    """The evaluation track of a config's ``track`` value.

    ``None`` (the reference default) is NLQ v2; the reference's ``goal_step`` is GoalStep, TACoS
    or NLQ v1 according to the ``query_type`` of the records; any other value is one of our track
    names.
    """
    if name is None:
        return NLQ_V2
    if name == "goal_step":
        query_type = records[0].query_type if records else "goal_step"
        if query_type not in GOAL_STEP_FAMILY:
            raise UserError(
                f"track goal_step: cannot tell the benchmark from query_type {query_type!r}; "
                "set track to nlq_v1, goalstep or tacos."
            )
        return GOAL_STEP_FAMILY[query_type]
    return get_track(name)


def check_checkpoint(config: RunConfig, path: str | os.PathLike, track: Track | None = None) -> CheckpointRecord:
    """``path`` is a readable checkpoint (checksum, finite weights) that loads strictly into the
    configured model and, where it records them, was trained for ``track`` with the same model
    config. The model is built on the meta device, so this is cheap."""
    record = checked_record(build_on_meta(config.model), path)
    if track is not None and record.track is not None and record.track != track.name:
        raise UserError(
            f"{path}: this checkpoint was trained for the {record.track} track, but {config.source} "
            f"evaluates {track.name}; its predictions would be for another benchmark. Use a checkpoint "
            f"of a {track.name} run, or the config (and --track) it was trained with."
        )
    if record.config is not None:
        changed = model_differences(record.config, config, str(path))
        if changed:
            raise UserError(
                f"{path}: this checkpoint was trained with another model config than {config.source}: "
                f"{_describe(changed)}. Its weights would compute something else under this config; "
                "use the config it was trained with (its run directory's config.yaml)."
            )
    return record


def model_differences(recorded: dict, config: RunConfig, source: str) -> list[tuple[str, Any, Any]]:
    """``(setting, checkpoint value, config value)`` for every model setting (and feature timing)
    in which the config a checkpoint records differs from ``config``, decoding and training-only
    settings aside."""
    try:
        trained = parse_run_config(recorded, f"{source} (its recorded config)")
    except UserError:  # recorded by another version: compare what was written
        return _differences(recorded.get("model"), config.document.get("model"), "model")
    before = {
        key: value
        for key, value in _flatten(dataclasses.asdict(trained.model)).items()
        if key.split(".")[0] not in NOT_COMPARED
    }
    after = {
        key: value
        for key, value in _flatten(dataclasses.asdict(config.model)).items()
        if key.split(".")[0] not in NOT_COMPARED
    }
    for key in TIMING_KEYS:
        before[f"dataset.{key}"] = getattr(trained.dataset, key, None)
        after[f"dataset.{key}"] = getattr(config.dataset, key, None)
    return [
        (key, before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {key: item for name, child in value.items() for key, item in _flatten(child, f"{prefix}{name}.").items()}
    return {prefix.rstrip("."): value}


def _differences(old: Any, new: Any, prefix: str) -> list[tuple[str, Any, Any]]:
    before, after = _flatten(old, f"{prefix}."), _flatten(new, f"{prefix}.")
    return [
        (key, before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]


def _describe(changed: list[tuple[str, Any, Any]]) -> str:
    shown = ", ".join(f"{key} (checkpoint {old!r}, config {new!r})" for key, old, new in changed[:MAX_SHOWN])
    return shown + (f" and {len(changed) - MAX_SHOWN} more" if len(changed) > MAX_SHOWN else "")


def infer_session(
    config_path: str | os.PathLike,
    overrides: list[str],
    checkpoint: str | os.PathLike,
    split: str,
    jsonl: str | os.PathLike | None,
    out: Path,
    options: LaunchOptions,
    progress: bool = True,
) -> Path:
    """Predict ``split`` with ``checkpoint`` into ``out`` (predictions jsonl); returns ``out``.

    Everything is checked first, in this process: the config, the device, the annotations and
    stores, and the checkpoint (:func:`check_checkpoint`). Under torchrun the workers' stderr goes
    to ``OUT.workers.log`` (removed when they succeed).
    """
    options.check()
    config = load_run_config(config_path, overrides)
    check_device(config.trainer.device, config.source)
    records, source = split_records(config.dataset, split, jsonl)
    dataset = open_inference_dataset(config.dataset, records, source)
    check_checkpoint(config, checkpoint, resolve_track(config.track_name, dataset.records))
    if not options.uses_torchrun:
        run_inference(config, checkpoint, split, out, jsonl, init_distributed(config.trainer.device), progress=progress)
        return out
    args = [
        "--config",
        str(Path(config_path).resolve()),
        "--checkpoint",
        str(Path(checkpoint).resolve()),
        "--split",
        split,
        "--out",
        str(out.resolve()),
    ]
    for override in overrides:
        args += ["--set", override]
    if jsonl is not None:
        args += ["--jsonl", str(Path(jsonl).resolve())]
    log = out.with_name(out.name + ".workers.log")
    run_torchrun(options, "trainers.infer", args, failure_file(out), log)
    log.unlink(missing_ok=True)
    return out


def failure_file(out: str | os.PathLike) -> Path:
    """Where inference workers record an error that ends them."""
    return Path(out).with_name(Path(out).name + ".failure.json")


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

    def work() -> None:
        config = load_run_config(args.config, args.overrides)
        ctx = init_distributed(config.trainer.device, config.trainer.init_timeout_s)
        try:
            run_inference(config, args.checkpoint, args.split, args.out, args.jsonl, ctx)
        finally:
            shutdown(ctx)

    return run_worker(work, failure_file(args.out))


if __name__ == "__main__":
    sys.exit(main())
