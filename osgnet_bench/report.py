"""Render metrics as a terminal table, Markdown, CSV or JSON; one row per run, one column per metric.

Used by ``osgnet-bench evaluate`` (one row), ``run`` (the model and a random baseline) and, for
its footer and column fitting, ``compare``. Tables and Markdown show two decimals, like the
official evaluator, and only the metrics: what every row shares (track, ranking rule, IoU rule)
and the query counts follow in footer lines, with the 95% interval of the ranking metric when
it was computed on fewer than ``FEW_QUERIES`` queries. A table wider than the terminal is split
into several tables that repeat the first column. CSV and JSON keep full precision and every
field on every row.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from osgnet_bench.errors import UserError
from osgnet_bench.metrics.evaluate import RANK_KEY, EvaluationResult
from osgnet_bench.tracks import Track
from osgnet_bench.wording import plural

FORMATS: tuple[str, ...] = ("table", "markdown", "csv", "json")
FEW_QUERIES = 500
"""Below this many evaluated queries the footer gives the ranking metric's 95% interval."""
Z_95 = 1.96
DEFAULT_WIDTH = 100
"""Table width when the output is not a terminal and ``COLUMNS`` is not set."""


def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` when set), ``DEFAULT_WIDTH`` when there is none."""
    return max(40, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def interval_half_width(percent: float, n: int) -> float:
    """Half-width, in points, of the normal-approximation 95% interval of a proportion given in
    percent and measured on ``n`` queries: ``1.96 * sqrt(p (1 - p) / n) * 100``."""
    p = min(max(percent / 100.0, 0.0), 1.0)
    return Z_95 * math.sqrt(p * (1.0 - p) / n) * 100.0


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
        return fit_table(table, columns, "simple", floatfmt=".2f")
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


def fit_table(
    rows: Sequence[Sequence[Any]], headers: Sequence[str], tablefmt: str, keep: int = 1, **options: Any
) -> str:
    """``tabulate(rows, headers)``; in the ``simple`` format, when a line would be wider than the
    terminal, the columns after the first ``keep`` are split over several tables (blank line
    between them), each repeating the first ``keep`` columns."""
    text = tabulate(rows, headers=list(headers), tablefmt=tablefmt, **options)
    width = terminal_width()
    if tablefmt != "simple" or _widest(text) <= width or len(headers) <= keep + 1:
        return text
    chunks: list[list[int]] = []
    current: list[int] = []
    for column in range(keep, len(headers)):
        if current and _widest(_select(rows, headers, [*range(keep), *current, column], tablefmt, options)) > width:
            chunks.append(current)
            current = []
        current.append(column)
    chunks.append(current)
    return "\n\n".join(_select(rows, headers, [*range(keep), *chunk], tablefmt, options) for chunk in chunks)


def table_metric_keys(track: Track, keys: Sequence[str]) -> list[str]:
    """The metric columns a table shows: ``keys`` without ``rank_metric`` when the track ranks by
    one metric, whose own column already holds the value."""
    return [key for key in keys if key != RANK_KEY or len(track.rank_keys) > 1]


def rank_label(track: Track) -> str:
    """What tables and footers call the ranking metric: ``rank_metric`` for a mean, else its key."""
    return RANK_KEY if len(track.rank_keys) > 1 else track.rank_keys[0]


def results_footer(results: Sequence[EvaluationResult], runs: Sequence[str] | None = None) -> list[str]:
    """Footer lines of a results table: track, ranking and IoU rules; n (queries evaluated) and
    what is missing; for runs on fewer than ``FEW_QUERIES`` queries, the 95% interval half-width
    of the ranking metric (see docs/metrics.md). Per-run lines when one line would not fit."""
    first = results[0]
    track = first.track
    rule = "IoU > t" if first.spec.iou_rule == "gt" else "IoU >= t"
    label = rank_label(track)
    ranking = f"{RANK_KEY} = {track.rank_metric_name}" if label == RANK_KEY else label
    lines = [f"track {track.name}; ranking metric {ranking}; IoU rule: {rule}"]
    names = list(runs) if runs is not None else [""] * len(results)
    if len({(r.num_evaluated, r.num_missing, r.num_gt) for r in results}) == 1:
        lines.append(_counts(first))
    else:
        lines += [f"{name}: {_counts(result)}" for name, result in zip(names, results, strict=True)]
    few = [(name, r) for name, r in zip(names, results, strict=True) if 0 < r.num_evaluated < FEW_QUERIES]
    if not few:
        return lines
    widths = [
        (f"{name} " if name else "") + f"±{interval_half_width(r.metrics[RANK_KEY], r.num_evaluated):.2f}"
        for name, r in few
    ]
    intro = f"few queries (n < {FEW_QUERIES}): 95% interval of {label}"
    one_line = f"{intro} {', '.join(widths)} points (docs/metrics.md)"
    if len(one_line) <= terminal_width():
        return [*lines, one_line]
    return [*lines, f"{intro}, in points (docs/metrics.md):", *(f"  {width}" for width in widths)]


def render_results(results: Sequence[EvaluationResult], fmt: str, runs: Sequence[str] | None = None) -> str:
    """Evaluation results as text. Table and Markdown: the metrics, one row per run, then the
    footer lines of ``results_footer``. CSV: every ``result_row`` field. JSON gives one result's
    object (``EvaluationResult.to_json``) for a single unnamed run, else a list of them, each
    with its ``run`` name."""
    names = list(runs) if runs is not None else None
    if fmt in ("table", "markdown"):
        keys = table_metric_keys(results[0].track, list(results[0].metrics))
        labels = [[name] for name in names] if names is not None else [[] for _ in results]
        headers = (["run"] if names is not None else []) + keys
        rows = [[*label, *(result.metrics[key] for key in keys)] for label, result in zip(labels, results, strict=True)]
        footer = "\n".join(results_footer(results, names))
        if fmt == "markdown":
            return tabulate(rows, headers=headers, floatfmt=".2f", tablefmt="github") + "\n\n" + footer
        return fit_table(rows, headers, "simple", keep=1 if names is not None else 0, floatfmt=".2f") + "\n" + footer
    if fmt != "json":
        row_names = names if names is not None else [None] * len(results)
        return render_rows([result_row(r, n) for r, n in zip(results, row_names, strict=True)], fmt)
    if names is None and len(results) == 1:
        return json.dumps(results[0].to_json(), indent=2)
    labels_json = names if names is not None else [str(i) for i in range(len(results))]
    return json.dumps([{"run": n, **r.to_json()} for r, n in zip(results, labels_json, strict=True)], indent=2)


def _counts(result: EvaluationResult) -> str:
    evaluated = plural(result.num_evaluated, "query")
    return f"n = {evaluated} evaluated; {result.num_missing} of {plural(result.num_gt, 'ground-truth query')} missing"


def _select(
    rows: Sequence[Sequence[Any]], headers: Sequence[str], columns: list[int], tablefmt: str, options: dict[str, Any]
) -> str:
    picked = [[row[c] for c in columns] for row in rows]
    return tabulate(picked, headers=[headers[c] for c in columns], tablefmt=tablefmt, **options)


def _widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)
