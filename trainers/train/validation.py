"""Validation with the track's real metrics: predictions of all ranks gathered, then scored once.

The reference averaged per-rank recalls over shards padded with duplicates (pipeline.md §8.1
item 7); here every query is predicted exactly once and the official evaluator runs on the
whole split.
"""

from __future__ import annotations

from collections.abc import Sequence

from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from osgnet_bench.files import looks_like_jsonl
from osgnet_bench.metrics import evaluate
from osgnet_bench.predictions import Prediction
from osgnet_bench.tracks import Track
from trainers.data.config import DatasetConfig


def ground_truth_path(config: DatasetConfig) -> str:
    """The file the validation metrics read.

    ``json_file`` when it is an official raw JSON (the NLQ v2 configs score against
    ``nlq_val.json``); otherwise the validation jsonl itself, whose ``timestamps`` are the ground
    truth (in every official jsonl-track config ``json_file`` names that same file).
    """
    raw = config.json_file
    if raw is not None and raw.is_file() and not looks_like_jsonl(raw):
        return str(raw)
    path = config.val_jsonl_file or raw
    if path is None:
        raise UserError("the dataset config names no ground truth (dataset.json_file or dataset.val_jsonl_file).")
    return str(path)


def score(
    predictions: Sequence[Prediction], gt_records: Sequence[QueryRecord], track: Track, gt_source: str
) -> dict[str, float]:
    """The official metrics (``R{k}@{t}``, ``mIoU``, ``rank_metric``) of ``predictions``."""
    return dict(
        evaluate(gt_records, predictions, track, gt_source=gt_source, pred_source="validation predictions").metrics
    )


def load_ground_truth(config: DatasetConfig, track: Track) -> tuple[list[QueryRecord], str]:
    """The ground-truth records of the validation split and their file."""
    path = ground_truth_path(config)
    return load_annotations(path, track), path
