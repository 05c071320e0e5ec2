"""Check an EvalAI submission (Ego4D NLQ or GoalStep) before it is uploaded.

Two layers, both reported as :class:`Problem` objects with a JSON path such as
``results[12].predicted_times[3][1]``:

1. the JSON Schema shipped in ``submissions/schemas`` (structure, types, 1..5 windows,
   non-negative times), with a type checker stricter than plain JSON Schema: ``true`` is not an
   integer or a number, ``1.0`` is not an integer, and NaN / Infinity are not numbers;
2. checks against the track and, when given, the ground-truth or test query list: the challenge
   string, every text query present exactly once, no unknown query, start <= end, windows inside
   the clip duration, fewer than 5 windows.

Decisions (eval.md §1.3, §1.4, §2.3, §4):

* At most ``MAX_WINDOWS`` = 5 windows per query. The official evaluator reads any number, but
  R@5 never looks past the fifth, the official writers and challenge ensembles keep exactly 5,
  and the GoalStep server is reported to require exactly 5. Fewer than 5 is only a warning: it
  is scored, but can only lower R@5.
* A window ending past the clip duration is a warning, and only beyond ``DURATION_TOLERANCE_S``
  (1 s): 87 v2-val ground-truth windows themselves end up to 0.58 s past the computed duration,
  and the evaluator neither clips nor rejects such windows.
* A submitted textless query is a warning: its index exists, so the evaluator scores it, but no
  model can ground an empty query and the official converters never predict it, so it only adds
  a likely miss to the mean over submitted entries.
* Missing and duplicated queries are errors: the official mean is over submitted entries, so a
  gap or a repeat silently changes the leaderboard number instead of failing.
* Unknown keys are errors: the official writers produce exactly these keys, and an extra one is
  almost always a typo or a file in another format (e.g. windows with scores).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from osgnet_bench.annotations.records import QueryKey, QueryRecord, index_records
from osgnet_bench.errors import UserError
from osgnet_bench.files import read_text
from osgnet_bench.tracks import Track

MAX_WINDOWS = 5
RECOMMENDED_WINDOWS = 5
DURATION_TOLERANCE_S = 1.0
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


def schema_name(track: Track) -> str:
    """File name of the track's schema under ``submissions/schemas``."""
    return "goalstep_submission.json" if track.query_type == "goal_step" else "nlq_submission.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped as package data, parsed."""
    return json.loads(resources.files("submissions").joinpath("schemas", name).read_text(encoding="utf-8"))


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
    found = list(_dedupe(_schema_problems(data, track)))
    if isinstance(data, dict):
        index = index_records(queries, "the query list") if queries is not None else None
        found += _header_problems(data, report.challenge)
        results = data.get("results")
        if index is not None:
            report.expected_queries = sum(record.has_text for record in index.values())
        if isinstance(results, list):
            report.results = len(results)
            found += _result_problems(results, index)
            if index is not None:
                found += _missing_problems(index, set(_submitted_keys(results)))
    report.problems = sorted(found, key=_display_order)
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


# ---------------------------------------------------------------- layer 1: the JSON Schema


def _is_number(checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool) or not isinstance(instance, int | float):
        return False
    return isinstance(instance, int) or math.isfinite(instance)


def _is_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


StrictValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"number": _is_number, "integer": _is_integer}
    ),
)


def _schema_problems(data: Any, track: Track) -> Iterator[Problem]:
    validator = StrictValidator(load_schema(schema_name(track)))
    for error in validator.iter_errors(data):
        yield _describe_schema_error(error, data)


def _describe_schema_error(error: ValidationError, data: Any) -> Problem:
    """Turn a jsonschema error into a problem whose message says what to write instead."""
    location = tuple(error.absolute_path)
    name = _field_name(location)
    instance = error.instance
    keyword = error.validator

    def problem(kind: str, message: str, at: tuple[PathPart, ...] = location) -> Problem:
        return Problem(Severity.ERROR, kind, at, message)

    if keyword == "required":
        missing = [key for key in error.validator_value if key not in instance]
        return problem("missing-key", f"missing key{'s' if len(missing) > 1 else ''} {_quoted(missing)}")
    if keyword == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        unknown = [key for key in instance if key not in allowed]
        return problem(
            "unknown-key",
            f"unknown key{'s' if len(unknown) > 1 else ''} {_quoted(unknown)}; "
            f"allowed keys are {_quoted(allowed)}",
        )
    if keyword == "const":
        return problem(
            "header",
            f"{name} must be the string {json.dumps(error.validator_value)}, got {describe_value(instance)}",
        )
    if keyword == "type":
        return _describe_type_error(error.validator_value, instance, location, data)
    if keyword == "minLength":
        return problem("wrong-type", f"{name} must not be an empty string")
    if keyword == "minimum":
        if name == "query_idx":
            return problem(
                "negative-index",
                f"query_idx must be >= 0, got {describe_value(instance)}; the official evaluator would "
                "silently score a negative index against another query",
            )
        return problem(
            "negative-time", f"{_time_name(location)} {instance!r} is negative; times are seconds >= 0"
        )
    if keyword == "minItems":
        if name == "results":
            return problem("no-results", "results is empty; it needs one entry per query")
        if name == "predicted_times":
            return problem(
                "no-windows", f"predicted_times is empty; give 1 to {MAX_WINDOWS} ranked [start, end] windows"
            )
        return problem("window-shape", f"a window must be [start, end], got {len(instance)} number(s)")
    if keyword == "maxItems":
        if name == "predicted_times":
            return problem(
                "too-many-windows",
                f"predicted_times has {len(instance)} windows; at most {MAX_WINDOWS} are allowed "
                f"(only the first {MAX_WINDOWS} are ever scored)",
            )
        return problem(
            "window-shape", f"a window must be [start, end], got {len(instance)} values; drop any score"
        )
    return problem("schema", error.message)


def _describe_type_error(expected: str, instance: Any, location: tuple[PathPart, ...], data: Any) -> Problem:
    name = _field_name(location)
    got = describe_value(instance)
    if len(location) >= 2 and location[-2] == "predicted_times":
        parent = _lookup(data, location[:-1])
        if all(isinstance(value, int | float) and not isinstance(value, bool) for value in parent):
            shown = json.dumps(parent[:4])[:-1] + (", ...]" if len(parent) > 4 else "]")
            return Problem(
                Severity.ERROR,
                "flat-pair",
                location[:-1],
                f"predicted_times is a flat list of numbers {shown}; it must be a list of "
                f"[start, end] pairs, e.g. [{json.dumps(parent[:2])}]",
            )
        return Problem(
            Severity.ERROR, "window-shape", location, f"a window must be a [start, end] pair, got {got}"
        )
    if isinstance(instance, float) and not math.isfinite(instance):
        return Problem(
            Severity.ERROR,
            "not-finite",
            location,
            f"{_time_name(location)} is {got}; every time must be a finite number",
        )
    if not location:
        message = f"the top level must be a JSON object with keys version, challenge and results, got {got}"
    elif location == ("results",):
        message = f"results must be a list of query objects, got {got}"
    elif name == "results[]":
        keys = "clip_uid, annotation_uid, query_idx and predicted_times"
        message = f"each result must be an object with {keys}, got {got}"
    elif name == "query_idx":
        hint = (
            f" (write {int(instance)}, not {instance!r})"
            if isinstance(instance, float) and instance.is_integer()
            else ""
        )
        message = f"query_idx must be a non-negative JSON integer, got {got}{hint}"
    elif name == "predicted_times":
        message = f"predicted_times must be a list of [start, end] pairs, got {got}"
    elif expected == "number":
        message = f"{_time_name(location)} must be a number of seconds, got {got}"
    else:
        message = f"{name} must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}, got {got}"
    return Problem(Severity.ERROR, "wrong-type", location, message)


def _dedupe(problems: Iterator[Problem]) -> Iterator[Problem]:
    """Drop repeats (a flat pair fails once per number, a missing key once per key)."""
    seen: set[Problem] = set()
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            yield problem


# ---------------------------------------------------------------- layer 2: track and query list


def _header_problems(data: dict, challenge: str) -> list[Problem]:
    value = data.get("challenge")
    if isinstance(value, str) and value and value != challenge:
        return [
            Problem(
                Severity.ERROR,
                "header",
                ("challenge",),
                f"challenge must be {json.dumps(challenge)} for this track, got {json.dumps(value)} "
                "(use --challenge to check against another challenge string)",
            )
        ]
    return []


def _result_problems(results: list, index: dict[QueryKey, QueryRecord] | None) -> list[Problem]:
    problems: list[Problem] = []
    first_seen: dict[QueryKey, int] = {}
    known = _KnownQueries.build(index) if index is not None else None
    for i, entry in enumerate(results):
        if not isinstance(entry, dict):
            continue
        key = _entry_key(entry)
        record = index.get(key) if index is not None and key is not None else None
        if key is not None:
            problems += _key_problems(key, ("results", i), first_seen.setdefault(key, i), record, known)
        problems += _window_problems(entry.get("predicted_times"), ("results", i, "predicted_times"), record)
    return problems


def _key_problems(
    key: QueryKey,
    location: tuple[PathPart, ...],
    first_index: int,
    record: QueryRecord | None,
    known: _KnownQueries | None,
) -> list[Problem]:
    """Duplicate, unknown or textless query; ``first_index`` is where ``key`` was first submitted."""
    problems = []
    if first_index != location[-1]:
        problems.append(
            Problem(
                Severity.ERROR,
                "duplicate-query",
                location,
                f"{describe_key(key)} was already submitted at results[{first_index}]; each query must "
                "appear exactly once (the official evaluator would count it twice)",
            )
        )
    if known is not None and record is None:
        problems.append(Problem(Severity.ERROR, "unknown-query", location, known.explain(key)))
    elif record is not None and not record.has_text:
        problems.append(
            Problem(
                Severity.WARNING,
                "textless-query",
                location,
                f"{describe_key(key)} has no query text; the evaluator scores it, but nothing can be "
                "grounded without text and it only adds a likely miss to your mean, so leave it out",
            )
        )
    return problems


def _window_problems(
    windows: Any, location: tuple[PathPart, ...], record: QueryRecord | None
) -> list[Problem]:
    if not (isinstance(windows, list) and all(isinstance(window, list) for window in windows)):
        return []
    problems = []
    if 0 < len(windows) < RECOMMENDED_WINDOWS:
        problems.append(
            Problem(
                Severity.WARNING,
                "few-windows",
                location,
                f"{len(windows)} window{'s' if len(windows) > 1 else ''} given; {RECOMMENDED_WINDOWS} ranked "
                f"windows are recommended (fewer can only lower R@{RECOMMENDED_WINDOWS})",
            )
        )
    duration = record.duration if record is not None else None
    for j, window in enumerate(windows):
        if not (isinstance(window, list) and len(window) == 2 and all(_is_number(None, t) for t in window)):
            continue
        start, end = window
        if start > end:
            problems.append(
                Problem(
                    Severity.ERROR,
                    "reversed-window",
                    (*location, j),
                    f"start {start!r} is after end {end!r}; "
                    "a reversed window always scores IoU 0 (swap them)",
                )
            )
        if duration is not None and end > duration + DURATION_TOLERANCE_S:
            problems.append(
                Problem(
                    Severity.WARNING,
                    "past-duration",
                    (*location, j, 1),
                    f"end {end!r} is past the clip duration {duration:.3f} s (tolerance "
                    f"{DURATION_TOLERANCE_S:g} s); such a window can hardly match the ground truth",
                )
            )
    return problems


def _missing_problems(index: dict[QueryKey, QueryRecord], submitted: set[QueryKey]) -> list[Problem]:
    return [
        Problem(
            Severity.ERROR,
            "missing-query",
            ("results",),
            f"{describe_key(key)} is missing (query {json.dumps(_shorten(record.query))})",
        )
        for key, record in index.items()
        if record.has_text and key not in submitted
    ]


@dataclass(frozen=True)
class _KnownQueries:
    """The query list regrouped to explain why a submitted key is unknown."""

    indices: dict[tuple[str, str], list[int]]
    clips_of_annotation: dict[str, list[str]]

    @classmethod
    def build(cls, index: dict[QueryKey, QueryRecord]) -> _KnownQueries:
        indices: dict[tuple[str, str], list[int]] = {}
        clips_of_annotation: dict[str, list[str]] = {}
        for clip_uid, annotation_uid, query_idx in index:
            indices.setdefault((clip_uid, annotation_uid), []).append(query_idx)
            clips = clips_of_annotation.setdefault(annotation_uid, [])
            if clip_uid not in clips:
                clips.append(clip_uid)
        return cls(indices, clips_of_annotation)

    def explain(self, key: QueryKey) -> str:
        clip_uid, annotation_uid, query_idx = key
        same_annotation = self.indices.get((clip_uid, annotation_uid))
        if same_annotation:
            return (
                f"query_idx {query_idx} does not exist: "
                f"annotation {annotation_uid!r} of clip {clip_uid!r} has "
                f"{len(same_annotation)} queries, indices {_index_range(same_annotation)}"
            )
        other_clips = self.clips_of_annotation.get(annotation_uid)
        if other_clips:
            return (
                f"annotation_uid {annotation_uid!r} belongs to clip {other_clips[0]!r}, "
                f"not to clip {clip_uid!r}"
            )
        return f"{describe_key(key)} is not in the query list (no such annotation_uid)"


def _entry_key(entry: dict) -> QueryKey | None:
    clip_uid, annotation_uid, query_idx = (entry.get(k) for k in ("clip_uid", "annotation_uid", "query_idx"))
    uids_ok = isinstance(clip_uid, str) and isinstance(annotation_uid, str) and clip_uid and annotation_uid
    if uids_ok and _is_integer(None, query_idx) and query_idx >= 0:
        return (clip_uid, annotation_uid, query_idx)
    return None


def _submitted_keys(results: list) -> Iterator[QueryKey]:
    for entry in results:
        key = _entry_key(entry) if isinstance(entry, dict) else None
        if key is not None:
            yield key


# ---------------------------------------------------------------- small helpers


def describe_key(key: QueryKey) -> str:
    """``query (clip_uid 'c', annotation_uid 'a', query_idx 3)``."""
    return f"query (clip_uid {key[0]!r}, annotation_uid {key[1]!r}, query_idx {key[2]})"


def describe_value(value: Any) -> str:
    """A JSON-flavoured description such as ``string "3"``, ``number 1.0``, ``boolean true``."""
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"string {json.dumps(_shorten(value))}"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    return "an object"


def _field_name(location: tuple[PathPart, ...]) -> str:
    """The key a location ends in; ``results[]`` for an item of results, ``$`` for the top level."""
    if not location:
        return "$"
    if isinstance(location[-1], str):
        return location[-1]
    return f"{_field_name(location[:-1])}[]"


def _time_name(location: tuple[PathPart, ...]) -> str:
    if len(location) >= 3 and location[-3] == "predicted_times" and isinstance(location[-1], int):
        return "start time" if location[-1] == 0 else "end time"
    return _field_name(location)


def _lookup(data: Any, location: tuple[PathPart, ...]) -> Any:
    for part in location:
        data = data[part]
    return data


def _quoted(keys: Sequence[str]) -> str:
    return ", ".join(repr(key) for key in keys)


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _index_range(indices: list[int]) -> str:
    ordered = sorted(indices)
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}..{ordered[-1]}"
    return ", ".join(map(str, ordered))


def _display_order(problem: Problem) -> tuple:
    """Errors before warnings; within each, document order, with missing queries last."""
    location = tuple((0, part) if isinstance(part, int) else (1, part) for part in problem.location)
    return (problem.severity is not Severity.ERROR, problem.kind == "missing-query", location)
