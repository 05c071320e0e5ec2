"""Render metrics as a terminal table, Markdown, CSV or JSON; one row per run, one column per metric.

Used by ``osgnet-bench evaluate`` (one row) and reusable by any command that compares runs.
Tables and Markdown show two decimals, like the official evaluator; CSV and JSON keep full
precision.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from tabulate import tabulate

from osgnet_bench.errors import UserError
from osgnet_bench.metrics.evaluate import EvaluationResult

FORMATS: tuple[str, ...] = ("table", "markdown", "csv", "json")


def result_row(result: EvaluationResult, run: str | None = None) -> dict[str, object]:
    """One flat row: run name (if any), track, every metric, the ranking metric's name, counts."""
    row: dict[str, object] = {} if run is None else {"run": run}
    row["track"] = result.track.name
    row.update(result.metrics)
    row["ranked_by"] = result.track.rank_metric_name
    row["evaluated"] = result.num_evaluated
    row["missing"] = result.num_missing
    row["gt"] = result.num_gt
    return row


def render_rows(rows: Sequence[dict[str, object]], fmt: str) -> str:
    """Rows (runs) as text; columns are the union of the rows' keys in first-seen order."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = [[row.get(column, "") for column in columns] for row in rows]
    if fmt == "table":
        return tabulate(table, headers=columns, floatfmt=".2f", tablefmt="simple")
    if fmt == "markdown":
        return tabulate(table, headers=columns, floatfmt=".2f", tablefmt="github")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(table)
        return buffer.getvalue().rstrip("\n")
    if fmt == "json":
        return json.dumps([dict(row) for row in rows], indent=2)
    raise UserError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}.")


def render_results(results: Sequence[EvaluationResult], fmt: str, runs: Sequence[str] | None = None) -> str:
    """Evaluation results as text. JSON gives one result's object (``EvaluationResult.to_json``)
    for a single unnamed run, else a list of them, each with its ``run`` name."""
    if fmt != "json":
        names = list(runs) if runs is not None else [None] * len(results)
        return render_rows([result_row(r, n) for r, n in zip(results, names, strict=True)], fmt)
    if runs is None and len(results) == 1:
        return json.dumps(results[0].to_json(), indent=2)
    names = list(runs) if runs is not None else [str(i) for i in range(len(results))]
    return json.dumps([{"run": n, **r.to_json()} for r, n in zip(results, names, strict=True)], indent=2)
