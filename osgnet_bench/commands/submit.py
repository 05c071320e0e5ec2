"""``osgnet-bench submit``: ensemble prediction files and write a validated EvalAI submission."""

from __future__ import annotations

import click

from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.errors import UserError
from osgnet_bench.predictions import read_predictions, write_predictions
from osgnet_bench.tracks import TRACK_NAMES, get_track
from submissions.build import ensembled_predictions, validated_submission
from submissions.ensemble import METHODS, EnsembleConfig, ReferenceConfig, ensemble
from submissions.fusion import FusionConfig, model_weights
from submissions.stack import require_scores, stack_predictions
from submissions.validate import expected_challenge
from submissions.writer import write_submission


@click.command(name="submit")
@click.argument("more_preds", nargs=-1, type=click.Path(dir_okay=False), metavar="[PRED]...")
@click.option("--track", required=True, type=click.Choice(TRACK_NAMES, case_sensitive=False), help="Benchmark track.")
@click.option(
    "--pred",
    "preds",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Predictions jsonl (with scores) or EvalAI submission; further files may follow as arguments.",
)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Submission JSON to write.")
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="reference",
    show_default=True,
    help="reference: OSGNet's cluster + NMS cascade; fusion: weighted score fusion.",
)
@click.option("--weights", default=None, help="Fusion weights, one per file, comma-separated (default: all 1).")
@click.option(
    "--test-file",
    "test_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Test (or val) query file: every query must be covered, windows are clipped to the clip.",
)
@click.option("--split", default=None, help="Split of a multi-split query file (TACoS JSON).")
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Accept files that cover different queries; each query is ensembled over the files that predict it.",
)
@click.option(
    "--per-model",
    type=click.IntRange(min=1),
    default=None,
    help="Windows taken from each file (default: 4 for reference, 10 for fusion).",
)
@click.option("--nms-thresholds", default="0.5,0.7,0.9", show_default=True, help="NMS cascade IoU thresholds.")
@click.option(
    "--cluster-gap",
    type=click.FloatRange(min=0.0),
    default=2.0,
    show_default=True,
    help="reference: seconds between top-1 centres that split clusters.",
)
@click.option(
    "--fuse-iou",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="fusion: IoU (>) a window needs to join a cluster.",
)
@click.option("--challenge", default=None, help="EvalAI challenge string (default: the track's).")
@click.option(
    "--pred-out",
    "pred_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the ensembled windows with scores as a predictions jsonl.",
)
@click.option(
    "--challenge-id",
    default="<challenge_id>",
    show_default=True,
    help="EvalAI challenge id for the printed upload command.",
)
@click.option(
    "--phase-id",
    default="<phase_id>",
    show_default=True,
    help="EvalAI phase id for the printed upload command.",
)
def command(
    more_preds: tuple[str, ...],
    track: str,
    preds: tuple[str, ...],
    out_path: str,
    method: str,
    weights: str | None,
    test_path: str | None,
    split: str | None,
    allow_partial: bool,
    per_model: int | None,
    nms_thresholds: str,
    cluster_gap: float,
    fuse_iou: float,
    challenge: str | None,
    pred_out: str | None,
    challenge_id: str,
    phase_id: str,
) -> None:
    """Merge the predictions of one or more checkpoints into one EvalAI submission.

    The result has exactly 5 windows per query, is validated (against --test-file when given)
    and is written only when valid. With one file, its own ranking is kept. See docs/ensembling.md.
    """
    chosen = get_track(track)
    challenge_name = expected_challenge(chosen, challenge)
    paths = list(preds) + list(more_preds)
    if not paths:
        raise UserError("give at least one predictions file (--pred FILE).")
    config = _config(method, per_model, parse_floats(nms_thresholds, "--nms-thresholds"), cluster_gap, fuse_iou,
                     None if weights is None else tuple(parse_floats(weights, "--weights")))
    model_weights(config.fusion.weights, len(paths))
    queries = load_annotations(test_path, chosen, split=split) if test_path else None
    files = [read_predictions(path) for path in paths]
    stack = stack_predictions(files, paths, config.windows_needed, allow_partial)
    if len(files) > 1:
        require_scores(stack, files)
    top = ensemble(stack, config)
    submission, report = validated_submission(stack.keys, top, chosen, queries, challenge_name)
    write_submission(out_path, submission)
    if pred_out:
        write_predictions(pred_out, ensembled_predictions(submission, stack.keys, top))
    padded = int((top.distinct < 5).sum())
    click.echo(
        f"wrote {out_path}: {len(submission['results'])} queries x 5 windows for {challenge_name} "
        f"({'one file, its own ranking' if len(paths) == 1 else f'{method} ensemble of {len(paths)} files'}; "
        f"{padded} queries padded to 5 by repeating their last window)"
    )
    click.echo(f"validated{' against ' + test_path if test_path else ''}: 0 errors, {len(report.warnings)} warnings")
    for problem in report.warnings[:5]:
        click.echo(f"  warning {problem.path}: {problem.message}")
    click.echo(upload_instructions(out_path, challenge_id, phase_id))


def upload_instructions(path: str, challenge_id: str, phase_id: str) -> str:
    """How to upload ``path`` with the EvalAI command line (not a dependency of osgnet-bench)."""
    return (
        "upload it with the EvalAI command line (pip install evalai; evalai set_token <token>):\n"
        f"  evalai challenge {challenge_id} phase {phase_id} submit --file {path} --large\n"
        "(the challenge and phase ids are on the challenge's EvalAI page: "
        "evalai challenges, then evalai challenge <id> phases)"
    )


def parse_floats(text: str, option: str) -> list[float]:
    """``"0.5,0.7 0.9"`` -> [0.5, 0.7, 0.9]; a bad value names the option."""
    parts = [part for part in text.replace(",", " ").split() if part]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise UserError(f"{option}: expected comma-separated numbers, got {text!r}.") from None
    if not values:
        raise UserError(f"{option}: give at least one number.")
    return values


def _config(
    method: str,
    per_model: int | None,
    thresholds: list[float],
    cluster_gap: float,
    fuse_iou: float,
    weights: tuple[float, ...] | None,
) -> EnsembleConfig:
    if any(not 0.0 <= t <= 1.0 for t in thresholds):
        raise UserError(f"--nms-thresholds: IoU thresholds must lie in [0, 1], got {thresholds}.")
    if weights is not None and method != "fusion":
        raise UserError("--weights only applies to --method fusion; the reference method compares raw scores.")
    reference = ReferenceConfig(
        per_model=per_model or ReferenceConfig.per_model, cluster_gap=cluster_gap, nms_thresholds=tuple(thresholds)
    )
    fusion = FusionConfig(
        weights=weights,
        per_model=per_model or FusionConfig.per_model,
        fuse_iou=fuse_iou,
        nms_thresholds=tuple(thresholds),
    )
    return EnsembleConfig(method=method, reference=reference, fusion=fusion)
