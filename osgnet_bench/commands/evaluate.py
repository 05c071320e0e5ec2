"""``osgnet-bench evaluate``: score predictions or an EvalAI submission with the official rules."""

from __future__ import annotations

import click

from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.commands.options import format_option, gt_option, track_option
from osgnet_bench.metrics import IOU_RULES, EvaluationResult, evaluate, spec_for_track
from osgnet_bench.metrics.matching import describe_examples
from osgnet_bench.number_lists import parse_number_list
from osgnet_bench.predictions import read_predictions
from osgnet_bench.report import render_results
from osgnet_bench.tracks import get_track


@click.command(name="evaluate")
@track_option()
@gt_option("Ground truth: raw official JSON or jsonl.", required=True)
@click.option(
    "--pred",
    "pred_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Predictions jsonl or EvalAI submission JSON.",
)
@click.option("--split", default=None, help="Split of a multi-split GT file (TACoS JSON).")
@format_option()
@click.option(
    "--strict",
    is_flag=True,
    help="Fail when a GT query has no prediction (default: warn, like the official script).",
)
@click.option(
    "--iou-rule",
    type=click.Choice(IOU_RULES),
    default=None,
    help="Hit when IoU > t ('gt', official; default) or IoU >= t ('ge').",
)
@click.option("--thresholds", default=None, help="IoU thresholds, comma-separated (default: the track's).")
@click.option("--topk", default=None, help="Ranks k for R@k, comma-separated (default: the track's).")
def command(
    track: str,
    gt_path: str,
    pred_path: str,
    split: str | None,
    fmt: str,
    strict: bool,
    iou_rule: str | None,
    thresholds: str | None,
    topk: str | None,
) -> None:
    """Score predictions against ground truth with the official Ego4D rules.

    Recall R@k at IoU t counts a query as a hit when any of its first k windows overlaps a GT
    window with IoU > t; scores are averaged over the predicted queries. See docs/metrics.md.
    """
    chosen = get_track(track)
    spec = spec_for_track(
        chosen,
        thresholds=None if thresholds is None else parse_number_list(thresholds, "--thresholds", float),
        topk=None if topk is None else parse_number_list(topk, "--topk", int),
        iou_rule=iou_rule,
    )
    records = load_annotations(gt_path, chosen, split=split)
    predictions = read_predictions(pred_path)
    result = evaluate(records, predictions, chosen, spec, strict=strict, gt_source=gt_path, pred_source=pred_path)
    if result.num_missing:
        click.echo(_missing_warning(result), err=True)
    click.echo(render_results([result], fmt))


def _missing_warning(result: EvaluationResult) -> str:
    return (
        f"warning: {result.num_missing} of {result.num_gt} ground-truth queries have no "
        f"prediction, e.g. {describe_examples(result.missing)}; the metrics average over the "
        f"{result.num_evaluated} predicted queries only (official rule). Use --strict to refuse this."
    )
