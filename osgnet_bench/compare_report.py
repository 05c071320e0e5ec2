"""Render a ``Comparison`` as a terminal table, Markdown, tidy CSV or JSON.

Table and Markdown: one row per run, one column per metric, two decimals; the best value of a
column carries ``*`` and every other run shows its difference to the baseline, e.g.
``21.40* (+1.25)``; footer lines give the track, the ranking and IoU rules, each run's query
counts and, on few queries, the ranking metric's 95% interval (``report.results_footer``); a
table wider than the terminal is split, repeating its first column; breakdown tables follow,
one row per group. CSV is tidy: one row per
(section, group, run, metric) with full-precision ``value`` and ``delta`` and a ``best`` flag.
JSON holds the same numbers nested by section.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from typing import Any

from osgnet_bench.compare import Comparison, GroupTable, best_runs
from osgnet_bench.errors import UserError
from osgnet_bench.report import fit_table, results_footer, table_metric_keys, terminal_width

FORMATS: tuple[str, ...] = ("table", "markdown", "csv", "json")
BEST_MARK = "*"
OVERALL = "overall"
ALL_QUERIES = "all"
CSV_COLUMNS = ("section", "group", "queries", "run", "metric", "value", "delta", "best")


def render_comparison(comparison: Comparison, fmt: str) -> str:
    """The whole comparison in ``fmt`` (one of ``FORMATS``)."""
    if fmt in ("table", "markdown"):
        return _render_text(comparison, "simple" if fmt == "table" else "github")
    if fmt == "csv":
        return _render_csv(comparison)
    if fmt == "json":
        return json.dumps(comparison_json(comparison), indent=2)
    raise UserError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}.")


def cell(value: float | None, baseline: float | None, best: bool, is_baseline: bool) -> str:
    """``"21.40* (+1.25)"``: two decimals, the best mark, the difference to the baseline."""
    if value is None:
        return "-"
    text = f"{value:.2f}{BEST_MARK if best else ''}"
    if not is_baseline and baseline is not None:
        text += f" ({value - baseline:+.2f})"
    return text


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """The ``--format json`` object."""
    base = comparison.baseline
    baseline_metrics = comparison.results[base].metrics
    runs = []
    for index, result in enumerate(comparison.results):
        runs.append(
            {
                "run": comparison.names[index],
                "path": comparison.paths[index],
                "metrics": dict(result.metrics),
                "delta": {key: result.metrics[key] - baseline_metrics[key] for key in comparison.metric_keys},
                "best": [key for key in comparison.metric_keys if index in _best_of_metric(comparison, key)],
                "evaluated": result.num_evaluated,
                "missing": result.num_missing,
                "gt": result.num_gt,
                "recall_curve": dict(comparison.curves[index]),
            }
        )
    return {
        "track": comparison.track.name,
        "ranked_by": comparison.track.rank_metric_name,
        "baseline": comparison.names[base],
        "runs": runs,
        "breakdowns": {
            table.name: {
                "metric": table.metric,
                "groups": [
                    {
                        "group": label,
                        "queries": table.sizes[label],
                        "values": {name: run[label] for name, run in zip(comparison.names, table.values, strict=True)},
                        "best": [comparison.names[i] for i in sorted(best_runs([v[label] for v in table.values]))],
                    }
                    for label in table.labels
                ],
            }
            for table in comparison.breakdowns
        },
        "notes": list(comparison.notes),
    }


def _best_of_metric(comparison: Comparison, key: str) -> set[int]:
    return best_runs([result.metrics[key] for result in comparison.results])


def _render_text(comparison: Comparison, tablefmt: str) -> str:
    base = comparison.baseline
    keys = table_metric_keys(comparison.track, comparison.metric_keys)
    several = len(comparison.results) > 1
    best = {key: _best_of_metric(comparison, key) for key in keys}
    baseline_metrics = comparison.results[base].metrics
    rows = []
    for index, result in enumerate(comparison.results):
        name = comparison.names[index] + (" (baseline)" if index == base and several else "")
        values = [
            cell(result.metrics[key], baseline_metrics[key], several and index in best[key], index == base)
            for key in keys
        ]
        rows.append([name, *values])
    main = fit_table(rows, ["run", *keys], tablefmt, disable_numparse=True)
    parts = [main + "\n" + "\n".join(results_footer(comparison.results, comparison.names))]
    for table in comparison.breakdowns:
        parts.append(f"{table.title} ({_metric_title(comparison, table.metric)}):")
        parts.append(_render_group_table(comparison, table, tablefmt))
    parts += [_wrapped(f"note: {note}") for note in comparison.notes]
    if several:
        parts.append(
            _wrapped(
                f"{BEST_MARK} best value of its column; (+x.xx) difference to the baseline {comparison.names[base]}"
            )
        )
    return "\n\n".join(parts)


def _render_group_table(comparison: Comparison, table: GroupTable, tablefmt: str) -> str:
    base = comparison.baseline
    several = len(comparison.names) > 1
    rows = []
    for label in table.labels:
        values = [run_values[label] for run_values in table.values]
        best = best_runs(values)
        cells = [cell(value, values[base], several and i in best, i == base) for i, value in enumerate(values)]
        rows.append([label, table.sizes[label], *cells])
    headers = ["group", "queries", *comparison.names]
    return fit_table(rows, headers, tablefmt, keep=2, disable_numparse=True)


def _wrapped(text: str) -> str:
    return textwrap.fill(text, width=terminal_width(), subsequent_indent="  ", break_on_hyphens=False)


def _metric_title(comparison: Comparison, metric: str) -> str:
    return comparison.track.rank_metric_name if metric == "rank_metric" else metric


def _render_csv(comparison: Comparison) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    base = comparison.baseline
    for key in comparison.metric_keys:
        best = _best_of_metric(comparison, key)
        for index, result in enumerate(comparison.results):
            value = result.metrics[key]
            delta = value - comparison.results[base].metrics[key]
            name = comparison.names[index]
            writer.writerow([OVERALL, ALL_QUERIES, result.num_gt, name, key, repr(value), repr(delta), index in best])
    for table in comparison.breakdowns:
        for label in table.labels:
            values = [run_values[label] for run_values in table.values]
            best = best_runs(values)
            for index, cell in enumerate(values):
                base_cell = values[base]
                cell_delta = None if cell is None or base_cell is None else cell - base_cell
                name = comparison.names[index]
                writer.writerow(
                    [table.name, label, table.sizes[label], name, table.metric]
                    + [_csv_number(cell), _csv_number(cell_delta), index in best]
                )
    return buffer.getvalue().rstrip("\n")


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(value)
