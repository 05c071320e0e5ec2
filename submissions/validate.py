"""Check an EvalAI submission (Ego4D NLQ or GoalStep) before it is uploaded.

Two layers, both reported as :class:`Problem` objects (``submissions.problems``) with a JSON path
such as ``results[12].predicted_times[3][1]``:

1. the JSON Schema shipped in ``submissions/schemas``, with a strict type checker
   (``submissions.schema_check``; a plain-Python pass accepts a valid file, and jsonschema only
   describes the violations of a file that pass rejects);
2. checks against the track and, when given, the ground-truth or test query list
   (``submissions.query_checks``).

The design decisions behind each check are listed in the docstring of the module that makes it.
This module is the public entry point; it also re-exports the names other code imports from it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from osgnet_bench.annotations.records import QueryRecord, index_records
from osgnet_bench.errors import UserError
from osgnet_bench.files import read_text
from osgnet_bench.tracks import Track
from submissions.problems import (
    DEFAULT_MAX_SHOWN,
    PathPart,
    Problem,
    Severity,
    ValidationReport,
    display_order,
    format_path,
)
from submissions.query_checks import (
    DURATION_TOLERANCE_S,
    RECOMMENDED_WINDOWS,
    describe_key,
    header_problems,
    missing_problems,
    result_problems,
)
from submissions.schema_check import (
    MAX_WINDOWS,
    describe_value,
    load_schema,
    schema_name,
    schema_problems,
)

__all__ = [
    "DEFAULT_MAX_SHOWN",
    "DURATION_TOLERANCE_S",
    "MAX_WINDOWS",
    "RECOMMENDED_WINDOWS",
    "PathPart",
    "Problem",
    "Severity",
    "ValidationReport",
    "describe_key",
    "describe_value",
    "expected_challenge",
    "format_path",
    "load_schema",
    "schema_name",
    "validate_submission",
    "validate_submission_file",
]


def validate_submission_file(
    path: str | os.PathLike,
    track: Track,
    queries: Sequence[QueryRecord] | None = None,
    challenge: str | None = None,
) -> ValidationReport:
    """Read and validate a submission file; a JSON syntax error is reported with line and column."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        report = ValidationReport(track=track.name, challenge=expected_challenge(track, challenge))
        report.problems.append(
            Problem(
                Severity.ERROR,
                "syntax",
                (),
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            )
        )
        return report
    return validate_submission(data, track, queries, challenge)


def validate_submission(
    data: Any, track: Track, queries: Sequence[QueryRecord] | None = None, challenge: str | None = None
) -> ValidationReport:
    """Validate parsed submission ``data`` for ``track``.

    ``queries``: the ground-truth or test query list (textless records included, so that their
    indices are known); without it only the file's own consistency is checked. ``challenge``
    overrides the track's EvalAI challenge string.
    """
    report = ValidationReport(track=track.name, challenge=expected_challenge(track, challenge))
    found = list(schema_problems(data, track))
    if isinstance(data, dict):
        index = index_records(queries, "the query list") if queries is not None else None
        found += header_problems(data, report.challenge)
        results = data.get("results")
        if index is not None:
            report.expected_queries = sum(record.has_text for record in index.values())
        if isinstance(results, list):
            report.results = len(results)
            found += result_problems(results, index)
            if index is not None:
                found += missing_problems(index, results)
    report.problems = sorted(found, key=display_order)
    return report


def expected_challenge(track: Track, override: str | None) -> str:
    """The challenge string the file must carry: ``override`` or the track's own."""
    if override is not None:
        return override
    if track.challenge is None:
        raise UserError(
            f"track {track.name!r} has no EvalAI challenge, so it has no submission format of its own; "
            "pass --challenge STR to check a file in the EvalAI format anyway."
        )
    return track.challenge
