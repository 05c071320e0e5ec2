"""``osgnet-bench validate``: check an EvalAI submission file before uploading it."""

from __future__ import annotations

import json
import sys

import click

from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.annotations.records import index_records
from osgnet_bench.commands.options import format_option, gt_option, track_option
from osgnet_bench.report import render_rows
from osgnet_bench.tracks import get_track
from submissions.problems import ValidationReport
from submissions.report_text import render_text
from submissions.validate import DEFAULT_MAX_SHOWN, validate_submission_file

PROBLEM_COLUMNS = ("severity", "kind", "path", "message")


@click.command(name="validate")
@click.argument("file", type=click.Path(dir_okay=False))
@track_option("track_name")
@gt_option("Ground-truth or test query file; checks that every query is present exactly once.")
@click.option("--split", help="Split to read from a multi-split annotation file (TACoS JSON).")
@click.option("--challenge", help="Expected EvalAI challenge string (default: the track's).")
@click.option(
    "--max-problems",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_SHOWN,
    show_default=True,
    help="How many problems to list; the totals always count all of them.",
)
@format_option(
    "output_format",
    help="table: the readable report; json: one object for scripts; markdown, csv: the problems, one row each.",
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
    click.echo(render_report(file, report, max_problems, output_format))
    if not report.is_valid:
        sys.exit(1)


def render_report(file: str, report: ValidationReport, max_problems: int, fmt: str) -> str:
    """The report in ``fmt``: the readable text (table), one JSON object, or the first
    ``max_problems`` problems as Markdown (under the verdict line) or CSV rows."""
    if fmt == "json":
        return json.dumps({"file": file, **report.to_dict(max_problems)}, indent=2)
    if fmt == "table":
        return render_text(file, report, max_problems)
    shown: list[dict[str, object]] = [dict(problem.to_dict()) for problem in report.problems[:max_problems]]
    if fmt == "csv":
        return render_rows(shown, "csv") if shown else ",".join(PROBLEM_COLUMNS)
    verdict = render_text(file, report, 0).splitlines()[0]
    return f"{verdict}\n\n{render_rows(shown, 'markdown')}" if shown else verdict
