"""``osgnet-bench compare``: several runs side by side on the same ground truth.

This module only reads the options; ``osgnet_bench.workflows.compare`` does the work."""

from __future__ import annotations

import click

from osgnet_bench.breakdown import DEFAULT_LENGTH_EDGES, check_edges
from osgnet_bench.commands.options import format_option, gt_option, track_option
from osgnet_bench.compare_report import render_comparison
from osgnet_bench.errors import UserError
from osgnet_bench.metrics import IOU_RULES, spec_for_track
from osgnet_bench.number_lists import parse_number_list
from osgnet_bench.tracks import get_track
from osgnet_bench.workflows.compare import CompareRequest, compare


@click.command(name="compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@track_option()
@gt_option("Ground truth: raw official JSON (NLQ templates need it) or jsonl.", required=True)
@click.option("--split", default=None, help="Split of a multi-split GT file (TACoS JSON).")
@click.option("--baseline", default=None, help="Run (name or path) the differences are taken to (default: the first).")
@format_option()
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also draw recall vs IoU 0.1..0.9 per run into this PNG (needs matplotlib).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config for inference when a RUN is a checkpoint (.pt/.pth/.tar).",
)
@click.option("--infer-split", default="val", show_default=True, help="Split a checkpoint RUN is inferred on.")
@click.option(
    "--length-edges",
    default=",".join(f"{e:g}" for e in DEFAULT_LENGTH_EDGES),
    show_default=True,
    help="GT window length bucket edges in seconds.",
)
@click.option(
    "--breakdown-metric",
    default="rank_metric",
    show_default=True,
    help="Metric of the breakdown tables: a recall key such as R1@0.3, mIoU or rank_metric.",
)
@click.option(
    "--iou-rule",
    type=click.Choice(IOU_RULES),
    default=None,
    help="Hit when IoU > t ('gt', official; default) or IoU >= t ('ge').",
)
def command(
    runs: tuple[str, ...],
    track: str,
    gt_path: str,
    split: str | None,
    baseline: str | None,
    fmt: str,
    plot_path: str | None,
    config_path: str | None,
    infer_split: str,
    length_edges: str,
    breakdown_metric: str,
    iou_rule: str | None,
) -> None:
    """Compare RUNs (predictions jsonl, EvalAI submissions or checkpoints) on one ground truth.

    Prints every metric per run with the best value of each column marked and the difference
    to the baseline, then the ranking metric per NLQ query template (raw NLQ JSON only) and per
    ground-truth window length bucket. See docs/compare.md.
    """
    chosen = get_track(track)
    edges = parse_number_list(length_edges, "--length-edges", float)
    problem = check_edges(edges)
    if problem:
        raise UserError(f"--length-edges {length_edges!r}: {problem}.")
    request = CompareRequest(
        track=chosen,
        runs=runs,
        gt=gt_path,
        spec=spec_for_track(chosen, iou_rule=iou_rule),
        length_edges=edges,
        breakdown_metric=breakdown_metric,
        split=split,
        baseline=baseline,
        config=config_path,
        infer_split=infer_split,
        plot=plot_path,
    )
    comparison = compare(request, say=lambda line: click.echo(line, err=True))
    click.echo(render_comparison(comparison, fmt))
    if plot_path:
        click.echo(f"wrote {plot_path}", err=True)
