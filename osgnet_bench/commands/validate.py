"""``osgnet-bench validate``: check an EvalAI submission file before uploading it."""

from __future__ import annotations

import json
import sys

import click

from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.annotations.records import index_records
from osgnet_bench.tracks import TRACK_NAMES, get_track
from submissions.report_text import render_text
from submissions.validate import DEFAULT_MAX_SHOWN, validate_submission_file


@click.command(name="validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--track", "track_name", required=True, help=f"Benchmark track: {', '.join(TRACK_NAMES)}.")
@click.option(
    "--gt",
    "gt_path",
    type=click.Path(dir_okay=False),
    help="Ground-truth or test query file; checks that every query is present exactly once.",
)
@click.option("--split", help="Split to read from a multi-split annotation file (TACoS JSON).")
@click.option("--challenge", help="Expected EvalAI challenge string (default: the track's).")
@click.option(
    "--max-problems",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_SHOWN,
    show_default=True,
    help="How many problems to list; the totals always count all of them.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Readable text, or one JSON object for scripts.",
)
def command(
    file: str,
    track_name: str,
    gt_path: str | None,
    split: str | None,
    challenge: str | None,
    max_problems: int,
    output_format: str,
) -> None:
    """Check FILE against the EvalAI submission format; exit 1 when it has errors (warnings pass)."""
    track = get_track(track_name)
    queries = None
    if gt_path is not None:
        queries = load_annotations(gt_path, track, split=split)
        index_records(queries, gt_path)  # a query listed twice is the GT file's fault: name it
    report = validate_submission_file(file, track, queries, challenge)
    if output_format == "json":
        click.echo(json.dumps({"file": file, **report.to_dict(max_problems)}, indent=2))
    else:
        click.echo(render_text(file, report, max_problems))
    if not report.is_valid:
        sys.exit(1)
