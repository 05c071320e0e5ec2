"""What submission validation reports: findings (:class:`Problem`) with a JSON path such as
``results[12].predicted_times[3][1]``, gathered in a :class:`ValidationReport` that lists errors
before warnings and caps how many are shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

DEFAULT_MAX_SHOWN = 20

PathPart = str | int


class Severity(str, Enum):
    """An error makes the submission invalid; a warning does not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding: ``kind`` is a short stable label (e.g. ``missing-query``) used for counts."""

    severity: Severity
    kind: str
    location: tuple[PathPart, ...]
    message: str

    @property
    def path(self) -> str:
        """The JSON path, e.g. ``results[12].predicted_times[3][1]``; ``$`` for the top level."""
        return format_path(self.location)

    def to_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity.value,
            "kind": self.kind,
            "path": self.path,
            "message": self.message,
        }


@dataclass
class ValidationReport:
    """Every problem found, errors first, in document order within each severity."""

    track: str
    challenge: str
    results: int = 0
    expected_queries: int | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def is_valid(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def counts(self) -> dict[str, int]:
        """Number of problems of each kind, in order of first appearance."""
        totals: dict[str, int] = {}
        for problem in self.problems:
            totals[problem.kind] = totals.get(problem.kind, 0) + 1
        return totals

    def to_dict(self, max_shown: int = DEFAULT_MAX_SHOWN) -> dict[str, Any]:
        """A JSON-ready summary listing at most ``max_shown`` problems."""
        return {
            "valid": self.is_valid,
            "track": self.track,
            "challenge": self.challenge,
            "results": self.results,
            "expected_queries": self.expected_queries,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "counts": self.counts(),
            "shown": min(max_shown, len(self.problems)),
            "problems": [p.to_dict() for p in self.problems[:max_shown]],
        }


def format_path(location: Sequence[PathPart]) -> str:
    """``("results", 12, "predicted_times", 3, 1) -> "results[12].predicted_times[3][1]"``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "$"


def display_order(problem: Problem) -> tuple:
    """Sort key: errors before warnings; within each, document order, with missing queries last."""
    location = tuple((0, part) if isinstance(part, int) else (1, part) for part in problem.location)
    return (problem.severity is not Severity.ERROR, problem.kind == "missing-query", location)


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
