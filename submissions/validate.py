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

import os
import shlex
from collections.abc import Sequence
from typing import Any

from osgnet_bench.annotations.records import QueryRecord, index_records
from osgnet_bench.errors import UserError
from osgnet_bench.files import JsonSyntaxError, parse_json, read_text
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
    """Read and validate a submission file; a JSON syntax error is reported with line and column.

    A predictions jsonl (what ``infer`` writes) is not a submission: it is refused with a
    ``UserError`` that says how to make one.
    """
    text = read_text(path)
    try:
        data = parse_json(text)
    except JsonSyntaxError as exc:
        if exc.several_values and _is_prediction_row(_first_line_value(text)):
            raise _predictions_file_error(path, track) from None
        report = ValidationReport(track=track.name, challenge=expected_challenge(track, challenge))
        report.problems.append(Problem(Severity.ERROR, "syntax", (), exc.located()))
        return report
    if _is_prediction_row(data):
        raise _predictions_file_error(path, track)
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


def _first_line_value(text: str) -> object:
    """The JSON value on the first non-blank line of ``text`` (``None`` when it is not valid JSON)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        return parse_json(first)
    except JsonSyntaxError:
        return None


def _is_prediction_row(value: object) -> bool:
    """A predictions-jsonl object: it has ``query_id`` and ``windows`` and no ``results``."""
    return isinstance(value, dict) and "query_id" in value and "windows" in value and "results" not in value


def _predictions_file_error(path: str | os.PathLike, track: Track) -> UserError:
    command = f"osgnet-bench submit --track {track.name} --pred {shlex.quote(str(path))} --out submission.json"
    return UserError(
        f"{path}: is a predictions jsonl (one object per line with 'query_id' and 'windows'), not an EvalAI "
        f"submission; run `{command}` to make a submission from it, then validate that."
    )
