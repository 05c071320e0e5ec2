"""The main job (``osgnet-bench run``): train, predict the evaluation split, score it with the
exact metrics beside a random-guess baseline, and for a test split write and validate the EvalAI
submission. Without a config it runs the built-in demo (``osgnet_bench.workflows.demo``).

Files in the run directory, besides the training run's (``trainers.train.loop``)::

    predictions_{split}.jsonl   metrics_{split}.json   submission_{split}.json (test, EvalAI tracks)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.errors import UserError
from osgnet_bench.files import write_json
from osgnet_bench.metrics import EvaluationResult, evaluate
from osgnet_bench.predictions import read_predictions
from osgnet_bench.tracks import Track, get_track
from osgnet_bench.workflows.baseline import length_fractions, random_predictions
from osgnet_bench.workflows.demo import demo_test_jsonl, prepare_demo
from submissions.validate import ValidationReport, validate_submission
from submissions.writer import RankedWindows, build_submission, write_submission
from trainers.config import load_run_config
from trainers.train.evaluation import ground_truth_path
from trainers.train.launch import LaunchOptions
from trainers.train.session import infer_session, train_session

RUN_TRACKS = ("nlq", "goalstep", "tacos")


@dataclass
class JobResult:
    """What the job produced. ``model`` / ``random`` are None when the split has no ground truth."""

    run_dir: Path
    track: Track
    checkpoint: Path
    predictions: Path
    model: EvaluationResult | None = None
    random: EvaluationResult | None = None
    submission: Path | None = None
    report: ValidationReport | None = None


def run_job(track_name: str, config_path: str | os.PathLike | None, overrides: list[str], checkpoint: str | None,
            split: str, jsonl: str | None, gt: str | None, out: Path | None, options: LaunchOptions,
            progress: bool = True) -> JobResult:
    """Run the pipeline end to end (see the module docstring)."""
    if track_name not in RUN_TRACKS:
        raise UserError(f"--track must be one of {', '.join(RUN_TRACKS)}, got {track_name!r}.")
    track = get_track(track_name)
    if config_path is None:
        out = out if out is not None else Path("runs") / f"demo-{track_name}"
        config_path = prepare_demo(out, track_name)
        if split == "test" and jsonl is None:
            jsonl = str(demo_test_jsonl(out))
    else:
        out = out if out is not None else Path("runs") / Path(config_path).stem
    overrides = [*overrides, f"track={track.name}"]
    if checkpoint is None:
        summary = train_session(config_path, overrides, out, "auto", None, None, options, progress)
        checkpoint = summary["best_checkpoint"] or summary["last_checkpoint"]
    predictions_path = out / f"predictions_{split}.jsonl"
    infer_session(config_path, overrides, checkpoint, split, jsonl, predictions_path, options, progress)
    result = JobResult(run_dir=out, track=track, checkpoint=Path(checkpoint), predictions=predictions_path)
    config = load_run_config(config_path, overrides)
    if split == "test" and track.challenge is not None:
        write_test_submission(result, read_query_jsonl(jsonl), split)
        return result
    gt_path = gt or (jsonl if jsonl is not None else ground_truth_path(config.dataset))
    records = load_annotations(gt_path, track)
    predictions = read_predictions(predictions_path)
    result.model = evaluate(records, predictions, track, gt_source=str(gt_path), pred_source=str(predictions_path))
    train_records = read_query_jsonl(config.dataset.train_jsonl_file) if config.dataset.train_jsonl_file else []
    result.random = evaluate(records, random_predictions(records, length_fractions(train_records), seed=config.seed),
                             track, gt_source=str(gt_path), pred_source="random baseline")
    write_json(out / f"metrics_{split}.json", {"model": result.model.to_json(), "random": result.random.to_json()},
               indent=2)
    return result


def write_test_submission(result: JobResult, records: list, split: str) -> None:
    """Build the EvalAI submission from the predictions, write it, and validate it against the
    test query list."""
    by_key = {p.key: p for p in read_predictions(result.predictions)}
    entries = [RankedWindows.for_record(r, by_key[r.key].windows.tolist()) for r in records
               if r.has_text and r.key in by_key]
    submission = build_submission(entries, result.track)
    result.submission = result.run_dir / f"submission_{split}.json"
    write_submission(result.submission, submission)
    result.report = validate_submission(submission, result.track, queries=records)
