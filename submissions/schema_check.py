"""First validation layer: the JSON Schema shipped in ``submissions/schemas`` (structure, types,
1..5 windows, non-negative times), with jsonschema's errors turned into messages that say what to
write instead.

Decisions (eval.md §1.3, §1.4, §2.3, §4):

* The type checker is stricter than plain JSON Schema: ``true`` is not an integer or a number,
  ``1.0`` is not an integer, and NaN / Infinity are not numbers.
* At most ``MAX_WINDOWS`` = 5 windows per query. The official evaluator reads any number, but
  R@5 never looks past the fifth, the official writers and challenge ensembles keep exactly 5,
  and the GoalStep server is reported to require exactly 5.
* Unknown keys are errors: the official writers produce exactly these keys, and an extra one is
  almost always a typo or a file in another format (e.g. windows with scores).

Speed: :func:`follows_schema` checks the same rules in plain Python (about 30 ms for the 4,552
entries of NLQ val, against over a second for jsonschema). Only a file it rejects goes through
jsonschema, which finds and describes every violation, so the messages are jsonschema's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from osgnet_bench.tracks import Track
from submissions.problems import PathPart, Problem, Severity, shorten

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

MAX_WINDOWS = 5
SUBMISSION_VERSION = "1.0"
HEADER_KEYS = frozenset({"version", "challenge", "results"})
RESULT_KEYS = frozenset({"clip_uid", "annotation_uid", "query_idx", "predicted_times"})


def is_json_number(value: Any) -> bool:
    """A finite int or float, not a bool."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


def is_json_integer(value: Any) -> bool:
    """An int, not a bool (``1.0`` is not an integer)."""
    return isinstance(value, int) and not isinstance(value, bool)


def follows_schema(data: Any) -> bool:
    """True exactly when the shipped schema finds no violation in ``data`` (both tracks' schemas
    share one structure): the schema's rules checked in plain Python."""
    return (
        isinstance(data, dict)
        and data.keys() == HEADER_KEYS
        and isinstance(data["version"], str)
        and data["version"] == SUBMISSION_VERSION
        and _is_nonempty_string(data["challenge"])
        and isinstance(data["results"], list)
        and len(data["results"]) > 0
        and all(map(_result_follows_schema, data["results"]))
    )


@cache
def strict_validator(name: str) -> Validator:
    """A jsonschema validator for the shipped schema ``name`` with the strict type checker.

    jsonschema is imported here, on first use, as only files that :func:`follows_schema` rejects
    need it.
    """
    from jsonschema import Draft202012Validator, validators

    strict = validators.extend(
        Draft202012Validator,
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
            {
                "number": lambda checker, instance: is_json_number(instance),
                "integer": lambda checker, instance: is_json_integer(instance),
            }
        ),
    )
    return strict(load_schema(name))


def schema_name(track: Track) -> str:
    """File name of the track's schema under ``submissions/schemas``."""
    return "goalstep_submission.json" if track.query_type == "goal_step" else "nlq_submission.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped as package data, parsed."""
    return json.loads(resources.files("submissions").joinpath("schemas").joinpath(name).read_text(encoding="utf-8"))


def schema_problems(data: Any, track: Track) -> Iterator[Problem]:
    """One error per distinct schema violation of ``data``, in document order.

    Repeats are dropped: a flat pair fails once per number, a missing key once per key. A file
    that :func:`follows_schema` accepts has none, and jsonschema is not run on it.
    """
    if follows_schema(data):
        return
    seen: set[Problem] = set()
    for error in strict_validator(schema_name(track)).iter_errors(data):
        problem = _describe_schema_error(error, data)
        if problem not in seen:
            seen.add(problem)
            yield problem


def describe_value(value: Any) -> str:
    """A JSON-flavoured description such as ``string "3"``, ``number 1.0``, ``boolean true``."""
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"string {json.dumps(shorten(value))}"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    return "an object"


def _describe_schema_error(error: ValidationError, data: Any) -> Problem:
    """Turn a jsonschema error into a problem whose message says what to write instead."""
    location = tuple(error.absolute_path)
    if error.validator == "type":
        expected: Any = error.validator_value  # jsonschema's stubs allow an unset value
        return _describe_type_error(expected, error.instance, location, data)
    kind, message = _explain_schema_error(error, location)
    return Problem(Severity.ERROR, kind, location, message)


def _explain_schema_error(error: ValidationError, location: tuple[PathPart, ...]) -> tuple[str, str]:
    """``(kind, message)`` for any schema error except a wrong type."""
    name = _field_name(location)
    instance: Any = error.instance
    keyword = error.validator
    required: Any = error.validator_value  # jsonschema's stubs allow an unset value
    schema: Any = error.schema
    if keyword == "required":
        missing = [key for key in required if key not in instance]
        return "missing-key", f"missing key{'s' if len(missing) > 1 else ''} {_quoted(missing)}"
    if keyword == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        unknown = [key for key in instance if key not in allowed]
        return "unknown-key", (
            f"unknown key{'s' if len(unknown) > 1 else ''} {_quoted(unknown)}; allowed keys are {_quoted(allowed)}"
        )
    if keyword == "const":
        return "header", (
            f"{name} must be the string {json.dumps(error.validator_value)}, got {describe_value(instance)}"
        )
    if keyword == "minLength":
        return "wrong-type", f"{name} must not be an empty string"
    if keyword == "minimum" and name == "query_idx":
        return "negative-index", (
            f"query_idx must be >= 0, got {describe_value(instance)}; the official evaluator would "
            "silently score a negative index against another query"
        )
    if keyword == "minimum":
        return "negative-time", f"{_time_name(location)} {instance!r} is negative; times are seconds >= 0"
    if keyword == "minItems" and name == "results":
        return "no-results", "results is empty; it needs one entry per query"
    if keyword == "minItems" and name == "predicted_times":
        return "no-windows", f"predicted_times is empty; give 1 to {MAX_WINDOWS} ranked [start, end] windows"
    if keyword == "minItems":
        return "window-shape", f"a window must be [start, end], got {len(instance)} number(s)"
    if keyword == "maxItems" and name == "predicted_times":
        return "too-many-windows", (
            f"predicted_times has {len(instance)} windows; at most {MAX_WINDOWS} are allowed "
            f"(only the first {MAX_WINDOWS} are ever scored)"
        )
    if keyword == "maxItems":
        return "window-shape", f"a window must be [start, end], got {len(instance)} values; drop any score"
    return "schema", error.message


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
        return Problem(Severity.ERROR, "window-shape", location, f"a window must be a [start, end] pair, got {got}")
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


def _field_name(location: tuple[PathPart, ...]) -> str:
    """The key a location ends in; ``results[]`` for an item of results, ``$`` for the top level."""
    if not location:
        return "$"
    if isinstance(location[-1], str):
        return location[-1]
    return f"{_field_name(location[:-1])}[]"


def _time_name(location: tuple[PathPart, ...]) -> str:
    """``start time`` / ``end time`` for a number inside a window, else the field name."""
    if len(location) >= 3 and location[-3] == "predicted_times" and isinstance(location[-1], int):
        return "start time" if location[-1] == 0 else "end time"
    return _field_name(location)


def _lookup(data: Any, location: tuple[PathPart, ...]) -> Any:
    for part in location:
        data = data[part]
    return data


def _quoted(keys: Sequence[str]) -> str:
    return ", ".join(repr(key) for key in keys)


def _result_follows_schema(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and entry.keys() == RESULT_KEYS
        and _is_nonempty_string(entry["clip_uid"])
        and _is_nonempty_string(entry["annotation_uid"])
        and is_json_integer(entry["query_idx"])
        and entry["query_idx"] >= 0
        and isinstance(entry["predicted_times"], list)
        and 1 <= len(entry["predicted_times"]) <= MAX_WINDOWS
        and all(map(_window_follows_schema, entry["predicted_times"]))
    )


def _window_follows_schema(window: Any) -> bool:
    return isinstance(window, list) and len(window) == 2 and _is_time(window[0]) and _is_time(window[1])


def _is_time(value: Any) -> bool:
    """A JSON number >= 0 (a float also below infinity, which NaN is not)."""
    if isinstance(value, float):
        return 0.0 <= value < math.inf
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_nonempty_string(value: Any) -> bool:
    return isinstance(value, str) and len(value) > 0
