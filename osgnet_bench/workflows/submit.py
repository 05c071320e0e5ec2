"""The ``submit`` workflow: read prediction files, ensemble them into 5 windows per query, validate
the EvalAI submission against the query list and write it (and, on request, the ensembled windows
with their scores as a predictions jsonl). See docs/ensembling.md.

Outputs are checked before any file is read: neither may be one of the inputs (compared as
resolved paths, so symlinks and ``./`` count) nor each other, and both must be writable.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.errors import UserError
from osgnet_bench.files import require_writable
from osgnet_bench.paths import refuse_output_among_inputs, same_file, say_on_stderr, say_overwrite
from osgnet_bench.predictions import read_predictions, write_predictions
from osgnet_bench.tracks import Track
from osgnet_bench.wording import plural
from submissions.build import ensembled_predictions, validated_submission
from submissions.ensemble import EnsembleConfig, ReferenceConfig, ensemble
from submissions.fusion import FusionConfig, model_weights
from submissions.problems import Problem
from submissions.stack import require_scores, stack_predictions
from submissions.validate import expected_challenge
from submissions.writer import write_submission


@dataclass(frozen=True)
class SubmitRequest:
    """What ``osgnet-bench submit`` was asked for: prediction files ``preds`` (in model order),
    the submission ``out``, the ensemble ``config``, the optional query list ``test_path`` (and
    its ``split``), whether files may cover different queries, the EvalAI ``challenge`` (None:
    the track's) and the optional scored predictions jsonl ``pred_out``."""

    track: Track
    preds: tuple[str, ...]
    out: str
    config: EnsembleConfig
    test_path: str | None = None
    split: str | None = None
    allow_partial: bool = False
    challenge: str | None = None
    pred_out: str | None = None


@dataclass(frozen=True)
class SubmitResult:
    """What was written: ``queries`` entries of 5 windows for ``challenge``, of which ``padded``
    repeat their last window; the validation ``warnings``; ``validation_file``: the query list
    has ground-truth windows (a val split, not the test set), so there is nothing to upload."""

    challenge: str
    queries: int
    padded: int
    warnings: list[Problem]
    validation_file: bool = False


def ensemble_config(
    method: str,
    per_model: int | None = None,
    nms_thresholds: Sequence[float] | None = None,
    cluster_gap: float | None = None,
    fuse_iou: float | None = None,
    weights: Sequence[float] | None = None,
) -> EnsembleConfig:
    """The ensemble settings of ``method``: every value left ``None`` keeps its dataclass default
    (``ReferenceConfig``, ``FusionConfig``); ``per_model`` and ``nms_thresholds`` set both methods'."""
    if nms_thresholds is not None and any(not 0.0 <= t <= 1.0 for t in nms_thresholds):
        raise UserError(f"--nms-thresholds: IoU thresholds must lie in [0, 1], got {list(nms_thresholds)}.")
    if weights is not None and method != "fusion":
        raise UserError("--weights only applies to --method fusion; the reference method compares raw scores.")
    thresholds = None if nms_thresholds is None else tuple(nms_thresholds)
    shared = {"per_model": per_model, "nms_thresholds": thresholds}
    reference = _with(ReferenceConfig(), {**shared, "cluster_gap": cluster_gap})
    fusion_weights = None if weights is None else tuple(weights)
    fusion = _with(FusionConfig(), {**shared, "fuse_iou": fuse_iou, "weights": fusion_weights})
    return EnsembleConfig(method=method, reference=reference, fusion=fusion)


def submit(request: SubmitRequest, say: Callable[[str], None] = say_on_stderr) -> SubmitResult:
    """Run the whole job; raises ``UserError`` (before writing anything) for bad inputs, outputs
    that are inputs, or a submission that would be invalid. ``say`` reports files written over."""
    challenge = expected_challenge(request.track, request.challenge)
    if not request.preds:
        raise UserError("give at least one predictions file (--pred FILE).")
    _check_outputs(request)
    model_weights(request.config.fusion.weights, len(request.preds))
    queries = load_annotations(request.test_path, request.track, split=request.split) if request.test_path else None
    files = [read_predictions(path) for path in request.preds]
    stack = stack_predictions(files, list(request.preds), request.config.windows_needed, request.allow_partial)
    if len(files) > 1:
        require_scores(stack, files)
    top = ensemble(stack, request.config)
    submission, report = validated_submission(stack.keys, top, request.track, queries, challenge)
    say_overwrite(request.out, say)
    write_submission(request.out, submission)
    if request.pred_out:
        say_overwrite(request.pred_out, say)
        write_predictions(request.pred_out, ensembled_predictions(submission, stack.keys, top))
    padded = int((top.distinct < 5).sum())
    annotated = queries is not None and any(record.windows is not None for record in queries)
    return SubmitResult(challenge, len(submission["results"]), padded, report.warnings, annotated)


def submit_report(request: SubmitRequest, result: SubmitResult, challenge_id: str, phase_id: str) -> str:
    """What ``osgnet-bench submit`` prints: what was written and validated, the first warnings,
    then the EvalAI upload command, or, for a query list with ground-truth windows, that it is a
    validation file (score it with ``evaluate``)."""
    files = len(request.preds)
    how = "one file, its own ranking" if files == 1 else f"{request.config.method} ensemble of {files} files"
    padded = plural(result.padded, "query", "queries")
    lines = [
        f"wrote {request.out}: {plural(result.queries, 'query')} x 5 windows for {result.challenge} ({how}; "
        f"{padded} padded to 5 by repeating {'its' if result.padded == 1 else 'their'} last window)"
    ]
    if request.pred_out:
        lines.append(f"wrote {request.pred_out}: the ensembled windows with their scores")
    against = f" against {request.test_path}" if request.test_path else ""
    lines.append(f"validated{against}: 0 errors, {plural(len(result.warnings), 'warning')}")
    lines += [f"  warning {problem.path}: {problem.message}" for problem in result.warnings[:5]]
    if result.validation_file:
        lines.append(
            f"{request.test_path} is a validation file (its queries have ground-truth windows), so there is "
            "nothing to upload; score the submission with osgnet-bench evaluate --track "
            f"{request.track.name} --gt {shlex.quote(str(request.test_path))} --pred {shlex.quote(request.out)}. "
            "Give the test split's query file to make an EvalAI submission."
        )
    else:
        lines.append(upload_instructions(request.out, challenge_id, phase_id))
    return "\n".join(lines)


def upload_instructions(path: str, challenge_id: str, phase_id: str) -> str:
    """How to upload ``path`` with the EvalAI command line (not a dependency of osgnet-bench); the
    command is shell-quoted, the ``<challenge_id>``-style placeholders left for the user to replace."""
    challenge, phase = (_quoted_id(value) for value in (challenge_id, phase_id))
    return (
        "upload it with the EvalAI command line (pip install evalai; evalai set_token <token>):\n"
        f"  evalai challenge {challenge} phase {phase} submit --file {shlex.quote(path)} --large\n"
        "(the challenge and phase ids are on the challenge's EvalAI page: "
        "evalai challenges, then evalai challenge <id> phases)"
    )


def _quoted_id(value: str) -> str:
    """An EvalAI id for the shell; a ``<placeholder>`` stays as it is, to be replaced."""
    return value if value.startswith("<") and value.endswith(">") else shlex.quote(value)


def _check_outputs(request: SubmitRequest) -> None:
    """Refuse outputs that are inputs (or each other) and outputs that cannot be written."""
    inputs = [("--pred", path) for path in request.preds] + [("--gt", request.test_path)]
    outputs = [("--out", request.out)] + ([("--pred-out", request.pred_out)] if request.pred_out else [])
    for option, path in outputs:
        for label, source in inputs:
            refuse_output_among_inputs(path, {label: source}, option)
        require_writable(path, option)
    if request.pred_out and same_file(request.pred_out, request.out):
        raise UserError(
            f"--pred-out {request.pred_out} is the same file as --out {request.out}; the predictions would "
            "replace the submission. Give the two outputs different names."
        )


Settings = TypeVar("Settings", ReferenceConfig, FusionConfig)


def _with(config: Settings, changes: dict[str, Any]) -> Settings:
    """``config`` with the ``changes`` that are not ``None``."""
    return replace(config, **{key: value for key, value in changes.items() if value is not None})
