"""The main job (``osgnet-bench run``): train, predict the evaluation split, score it with the
exact metrics beside a random-guess baseline, and for a test split write and validate the EvalAI
submission. Without a config it runs the built-in demo (``osgnet_bench.workflows.demo``).

A run directory that already holds a run is reused, resumed or refused as
``osgnet_bench.workflows.existing_run`` says, before any file is written.

Files in the run directory, besides the training run's (``trainers.train.run_dir``)::

    predictions_{split}.jsonl   metrics_{split}.json   submission_{split}.json (test, EvalAI tracks)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from osgnet_bench.files import write_json
from osgnet_bench.launch_options import LaunchOptions
from osgnet_bench.metrics import EvaluationResult, evaluate
from osgnet_bench.paths import refuse_output_among_inputs, say_on_stderr, say_overwrite
from osgnet_bench.predictions import read_predictions
from osgnet_bench.tracks import Track, get_track, synthetic_profile
from osgnet_bench.workflows.baseline import length_fractions, random_predictions
from osgnet_bench.workflows.demo import demo_test_jsonl, prepare_demo
from osgnet_bench.workflows.existing_run import Training, plan_training
from submissions.validate import ValidationReport, validate_submission
from submissions.writer import RankedWindows, build_submission, write_submission
from trainers.config import RunConfig, load_run_config
from trainers.infer import infer_session
from trainers.train.checkpoints import BEST, LAST, checkpoint_path
from trainers.train.launch import train_session
from trainers.train.validation import ground_truth_path


@dataclass(frozen=True)
class RunRequest:
    """What ``osgnet-bench run`` was asked for. ``config_path`` None runs the demo; ``checkpoint``
    skips training; ``resume`` is None or ``"auto"``; ``out`` None picks ``runs/<name>``."""

    track_name: str
    config_path: str | None = None
    overrides: tuple[str, ...] = ()
    checkpoint: str | None = None
    split: str = "val"
    jsonl: str | None = None
    gt: str | None = None
    out: Path | None = None
    resume: str | None = None


@dataclass(frozen=True)
class Scores:
    """The model's metrics on the evaluation split beside the random-guess baseline's."""

    model: EvaluationResult
    random: EvaluationResult


@dataclass(frozen=True)
class Submission:
    """The EvalAI submission written for a test split, and its validation against the query list."""

    path: Path
    report: ValidationReport


@dataclass(frozen=True)
class JobResult:
    """What the job produced: ``scores`` when the split has ground truth, else ``submission``."""

    run_dir: Path
    track: Track
    checkpoint: Path
    predictions: Path
    training: Training
    scores: Scores | None = None
    submission: Submission | None = None


def run_job(
    request: RunRequest, options: LaunchOptions, progress: bool = True, say: Callable[[str], None] = say_on_stderr
) -> JobResult:
    """Run the pipeline end to end (see the module docstring); ``say`` gets the lines that tell
    the user what happens to an existing run and which files are written over."""
    track = get_track(request.track_name)
    jsonl = request.jsonl
    if request.config_path is None:
        profile = synthetic_profile(track)
        out = request.out if request.out is not None else Path("runs") / f"demo-{profile}"
        check_run_dir(out)
        config_path: str | Path = prepare_demo(out, profile)
        if request.split == "test" and jsonl is None:
            jsonl = str(demo_test_jsonl(out))
    else:
        out = request.out if request.out is not None else Path("runs") / Path(request.config_path).stem
        check_run_dir(out)
        config_path = request.config_path
    if request.split == "test" and jsonl is None:
        raise UserError(
            "--split test needs --jsonl, the test annotation jsonl (the config names only the validation file)."
        )
    overrides = [*request.overrides, f"track={track.name}"]
    config = load_run_config(config_path, overrides)
    plan = plan_training(out, config, request.resume, request.checkpoint)
    predictions_path = out / f"predictions_{request.split}.jsonl"
    outputs = check_outputs(out, request, config, config_path, jsonl)
    if plan.message is not None:
        say(plan.message)
    for path in outputs:
        say_overwrite(path, say)
    checkpoint = request.checkpoint
    if plan.training is Training.REUSE:
        checkpoint = str(trained_weights(out))
    elif plan.training in (Training.TRAIN, Training.RESUME):
        resume = "auto" if plan.training is Training.RESUME else None
        summary = train_session(config_path, overrides, out, resume, None, None, options, progress)
        checkpoint = summary["best_checkpoint"] or summary["last_checkpoint"]
    assert checkpoint is not None
    infer_session(config_path, overrides, checkpoint, request.split, jsonl, predictions_path, options, progress)
    result = JobResult(out, track, Path(checkpoint), predictions_path, plan.training)
    if request.split == "test" and track.challenge is not None:
        assert jsonl is not None  # checked before training
        submission = write_test_submission(predictions_path, read_query_jsonl(jsonl), track, out, request.split)
        return replace(result, submission=submission)
    scores = score(request, config, track, jsonl, predictions_path)
    write_json(
        out / f"metrics_{request.split}.json",
        {"model": scores.model.to_json(), "random": scores.random.to_json()},
        indent=2,
    )
    return replace(result, scores=scores)


def score(request: RunRequest, config: RunConfig, track: Track, jsonl: str | None, predictions_path: Path) -> Scores:
    """The predictions and the random baseline scored against the ground truth (--gt, else the
    split's annotations, else the config's validation ground truth)."""
    gt_path = request.gt or (jsonl if jsonl is not None else ground_truth_path(config.dataset))
    records = load_annotations(gt_path, track)
    predictions = read_predictions(predictions_path)
    model = evaluate(records, predictions, track, gt_source=str(gt_path), pred_source=str(predictions_path))
    train_records = read_query_jsonl(config.dataset.train_jsonl_file) if config.dataset.train_jsonl_file else []
    guesses = random_predictions(records, length_fractions(train_records), seed=config.seed)
    random = evaluate(records, guesses, track, gt_source=str(gt_path), pred_source="random baseline")
    return Scores(model, random)


def check_run_dir(out: Path) -> None:
    """``out`` must be a writable directory, or one that can be made (not under a file)."""
    for path in (out, *out.absolute().parents):
        if path.exists():
            if not path.is_dir():
                where = "is a file" if path == out else f"lies under the file {path}"
                raise UserError(f"--out {out} {where}; --out names the run directory. Choose a directory.")
            if not os.access(path, os.W_OK | os.X_OK):
                raise UserError(
                    f"--out {out}: the directory {path} is not writable. Choose a directory you can write to."
                )
            return


def check_outputs(
    out: Path, request: RunRequest, config: RunConfig, config_path: str | Path, jsonl: str | None
) -> list[Path]:
    """The files this run writes beside the training run; none may be one of its inputs."""
    outputs = [
        out / f"{stem}_{request.split}.{suffix}"
        for stem, suffix in (("predictions", "jsonl"), ("metrics", "json"), ("submission", "json"))
    ]
    inputs = {
        "--config": config_path,
        "--checkpoint": request.checkpoint,
        "--jsonl": jsonl,
        "--gt": request.gt,
        "dataset.val_jsonl_file": config.dataset.val_jsonl_file,
        "dataset.train_jsonl_file": config.dataset.train_jsonl_file,
    }
    for output in outputs:
        refuse_output_among_inputs(output, inputs, option="the run's output")
    return [path for path in outputs if path.exists()]


def trained_weights(run_dir: Path) -> Path:
    """The weights of a finished run: its best checkpoint, else its last."""
    for name in (BEST, LAST):
        if checkpoint_path(run_dir, name).exists():
            return checkpoint_path(run_dir, name)
    raise UserError(
        f"the finished run in {run_dir} has no {checkpoint_path(run_dir, BEST)} or "
        f"{checkpoint_path(run_dir, LAST)} (moved or deleted); its weights cannot be reused. Choose "
        "another --out, or give the weights with --checkpoint."
    )


def write_test_submission(
    predictions_path: Path, records: list[QueryRecord], track: Track, run_dir: Path, split: str
) -> Submission:
    """Build the EvalAI submission from the predictions, write it into ``run_dir``, and validate
    it against the test query list."""
    by_key = {p.key: p for p in read_predictions(predictions_path)}
    entries = [
        RankedWindows.for_record(r, by_key[r.key].windows.tolist()) for r in records if r.has_text and r.key in by_key
    ]
    submission = build_submission(entries, track)
    path = run_dir / f"submission_{split}.json"
    write_submission(path, submission)
    return Submission(path, validate_submission(submission, track, queries=records))
