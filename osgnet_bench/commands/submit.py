"""``osgnet-bench submit``: ensemble prediction files and write a validated EvalAI submission.

This module only reads the options; ``osgnet_bench.workflows.submit`` does the work. Option
defaults come from the ensemble dataclasses they set."""

from __future__ import annotations

import shlex

import click

from osgnet_bench.commands.options import gt_option, track_option
from osgnet_bench.number_lists import parse_number_list
from osgnet_bench.tracks import get_track
from osgnet_bench.workflows.submit import SubmitRequest, ensemble_config, submit, submit_report
from submissions.ensemble import METHODS, EnsembleConfig, ReferenceConfig
from submissions.fusion import FusionConfig

DEFAULT_THRESHOLDS = ",".join(f"{t:g}" for t in ReferenceConfig.nms_thresholds)


@click.command(name="submit", context_settings={"allow_extra_args": True})
@track_option()
@click.option(
    "--pred",
    "preds",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Predictions jsonl (with scores) or EvalAI submission; repeat for each file: --pred a.jsonl --pred b.jsonl.",
)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Submission JSON to write.")
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default=EnsembleConfig.method,
    show_default=True,
    help="reference: OSGNet's cluster + NMS cascade; fusion: weighted score fusion.",
)
@click.option("--weights", default=None, help="Fusion weights, one per file, comma-separated (default: all 1).")
@gt_option("Test (or val) query file: every query must be covered, windows are clipped to the clip.")
@click.option("--test-file", "test_file", type=click.Path(dir_okay=False), default=None, hidden=True)
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
    help=f"Windows taken from each file (default: {ReferenceConfig.per_model} for reference, "
    f"{FusionConfig.per_model} for fusion).",
)
@click.option(
    "--nms-thresholds",
    default=None,
    help=f"NMS cascade IoU thresholds, comma-separated (default: {DEFAULT_THRESHOLDS}).",
)
@click.option(
    "--cluster-gap",
    type=click.FloatRange(min=0.0),
    default=None,
    help=f"reference: seconds between top-1 centres that split clusters (default: {ReferenceConfig.cluster_gap:g}).",
)
@click.option(
    "--fuse-iou",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help=f"fusion: IoU (>) a window needs to join a cluster (default: {FusionConfig.fuse_iou:g}).",
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
    track: str,
    preds: tuple[str, ...],
    out_path: str,
    method: str,
    weights: str | None,
    gt_path: str | None,
    test_file: str | None,
    split: str | None,
    allow_partial: bool,
    per_model: int | None,
    nms_thresholds: str | None,
    cluster_gap: float | None,
    fuse_iou: float | None,
    challenge: str | None,
    pred_out: str | None,
    challenge_id: str,
    phase_id: str,
) -> None:
    """Merge the predictions of one or more checkpoints into one EvalAI submission.

    The result has exactly 5 windows per query, is validated (against --gt when given) and is
    written only when valid. With one file, its own ranking is kept. See docs/ensembling.md.
    """
    stray = click.get_current_context().args
    if stray:
        given = " ".join(f"--pred {shlex.quote(path)}" for path in (*preds, *stray))
        raise click.UsageError(
            f"each predictions file takes its own --pred, as in {given} "
            f"(got {' '.join(map(shlex.quote, stray))} as an argument)."
        )
    if gt_path is not None and test_file is not None and gt_path != test_file:
        raise click.UsageError("--test-file is the old name of --gt; give the query file once, as --gt.")
    test_path = gt_path if gt_path is not None else test_file
    config = ensemble_config(
        method,
        per_model=per_model,
        nms_thresholds=None if nms_thresholds is None else parse_number_list(nms_thresholds, "--nms-thresholds", float),
        cluster_gap=cluster_gap,
        fuse_iou=fuse_iou,
        weights=None if weights is None else parse_number_list(weights, "--weights", float),
    )
    request = SubmitRequest(
        get_track(track), preds, out_path, config, test_path, split, allow_partial, challenge, pred_out
    )
    result = submit(request, say=lambda line: click.echo(line, err=True))
    click.echo(submit_report(request, result, challenge_id, phase_id))
