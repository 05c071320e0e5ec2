"""The readable report of ``osgnet-bench validate``: verdict, the first problems, totals by kind."""

from __future__ import annotations

from osgnet_bench.wording import plural
from submissions.problems import ValidationReport


def render_text(file: str, report: ValidationReport, max_shown: int) -> str:
    """A readable report: verdict, the first ``max_shown`` problems with their paths, totals by kind."""
    verdict = "VALID" if report.is_valid else "INVALID"
    expected = report.expected_queries
    coverage = f", {plural(expected, 'query')} expected" if expected is not None else ""
    lines = [
        f"{file}: {verdict} for track {report.track} (challenge {report.challenge}): "
        f"{plural(report.results, 'result')}{coverage}; "
        f"{plural(len(report.errors), 'error')}, {plural(len(report.warnings), 'warning')}"
    ]
    shown = report.problems[:max_shown]
    for problem in shown:
        lines.append(f"  {problem.severity.value:<7} {problem.path}: {problem.message}")
    if len(shown) < len(report.problems):
        lines.append(f"  ... {len(report.problems) - len(shown)} more not shown (--max-problems)")
    if report.problems:
        totals = ", ".join(f"{kind} {count}" for kind, count in report.counts().items())
        lines.append(f"totals: {totals}")
    return "\n".join(lines)
