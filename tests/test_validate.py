"""Submission validation: a corpus of hand-made invalid submissions, each with its own message and
JSON path, plus valid ones and the warnings that must not fail a submission (eval.md §1.3, §4, §7)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.errors import UserError
from osgnet_bench.tracks import get_track
from submissions.validate import (
    MAX_WINDOWS,
    Severity,
    format_path,
    load_schema,
    validate_submission,
    validate_submission_file,
)

DATA = Path(__file__).parent / "data" / "submissions"
NLQ = get_track("nlq")
GOALSTEP = get_track("goalstep")

FIVE = [[10.0, 20.0], [30.5, 41.0], [0.0, 4.5], [100.0, 130.0], [200.0, 201.5]]

# A valid submission for tests/data/submissions/nlq_test_tiny.json (5 text queries; the textless
# entry clip-1 / ann-1 / 1 is left out, as the official converters do).
VALID_NLQ = {
    "version": "1.0",
    "challenge": "ego4d_nlq_challenge",
    "results": [
        {"clip_uid": "clip-1", "annotation_uid": "ann-1", "query_idx": 0, "predicted_times": FIVE},
        {"clip_uid": "clip-1", "annotation_uid": "ann-1", "query_idx": 2, "predicted_times": FIVE},
        {"clip_uid": "clip-1", "annotation_uid": "ann-2", "query_idx": 0, "predicted_times": FIVE},
        {
            "clip_uid": "clip-2",
            "annotation_uid": "ann-3",
            "query_idx": 0,
            "predicted_times": FIVE[:3] + [[1, 2], [3, 4]],
        },
        {
            "clip_uid": "clip-2",
            "annotation_uid": "ann-3",
            "query_idx": 1,
            "predicted_times": FIVE[:3] + [[5, 6], [7, 8]],
        },
    ],
}


@pytest.fixture(scope="module")
def nlq_queries():
    return load_annotations(DATA / "nlq_test_tiny.json", NLQ)


def changed(edit: Callable[[dict], object]) -> dict:
    """A deep copy of VALID_NLQ with ``edit`` applied to it."""
    data = copy.deepcopy(VALID_NLQ)
    edit(data)
    return data


def window(i: int, j: int, value: object) -> Callable[[dict], object]:
    return lambda d: d["results"][i]["predicted_times"].__setitem__(j, value)


def entry(i: int, key: str, value: object) -> Callable[[dict], object]:
    return lambda d: d["results"][i].__setitem__(key, value)


def text(edit: Callable[[dict], object]) -> str:
    return json.dumps(changed(edit))


# (case, file text, error kinds expected, (kind, path, message fragment) that must be reported)
INVALID = [
    (
        "syntax error",
        '{"version": "1.0",\n "challenge": "ego4d_nlq_challenge",\n "results": [}\n',
        {"syntax"},
        ("syntax", "$", "invalid JSON at line 3, column 14"),
    ),
    (
        "trailing comma",
        '{"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": [],}',
        {"syntax"},
        ("syntax", "$", "line 1, column 70: Expecting property name"),
    ),
    (
        "top level is a list",
        "[]",
        {"wrong-type"},
        (
            "wrong-type",
            "$",
            "the top level must be a JSON object with keys version, challenge and results, "
            "got a list of 0 items",
        ),
    ),
    ("top level is a string", '"results"', {"wrong-type"}, ("wrong-type", "$", 'got string "results"')),
    (
        "missing results",
        text(lambda d: d.pop("results")),
        {"missing-key"},
        ("missing-key", "$", "missing key 'results'"),
    ),
    (
        "missing version and challenge",
        text(lambda d: (d.pop("version"), d.pop("challenge"))),
        {"missing-key"},
        ("missing-key", "$", "missing keys 'version', 'challenge'"),
    ),
    (
        "version as number 1.0",
        text(lambda d: d.__setitem__("version", 1.0)),
        {"header"},
        ("header", "version", 'version must be the string "1.0", got number 1.0'),
    ),
    (
        "version 2.0",
        text(lambda d: d.__setitem__("version", "2.0")),
        {"header"},
        ("header", "version", 'got string "2.0"'),
    ),
    (
        "wrong challenge",
        text(lambda d: d.__setitem__("challenge", "ego4d_goalstep_challenge")),
        {"header"},
        (
            "header",
            "challenge",
            'challenge must be "ego4d_nlq_challenge" for this track, got "ego4d_goalstep_challenge"',
        ),
    ),
    (
        "challenge not a string",
        text(lambda d: d.__setitem__("challenge", 5)),
        {"wrong-type"},
        ("wrong-type", "challenge", "challenge must be a string, got number 5"),
    ),
    (
        "unknown top-level key",
        text(lambda d: d.__setitem__("team", "x")),
        {"unknown-key"},
        ("unknown-key", "$", "unknown key 'team'; allowed keys are 'version', 'challenge', 'results'"),
    ),
    (
        "unknown result key",
        text(entry(1, "score", 0.9)),
        {"unknown-key"},
        ("unknown-key", "results[1]", "unknown key 'score'; allowed keys are 'clip_uid'"),
    ),
    (
        "results not a list",
        text(lambda d: d.__setitem__("results", {"clip-1": []})),
        {"wrong-type"},
        ("wrong-type", "results", "results must be a list of query objects, got an object"),
    ),
    (
        "results empty",
        text(lambda d: d.__setitem__("results", [])),
        {"no-results", "missing-query"},
        ("no-results", "results", "results is empty"),
    ),
    (
        "result not an object",
        text(lambda d: d["results"].__setitem__(2, ["clip-1", "ann-2", 0])),
        {"wrong-type", "missing-query"},
        ("wrong-type", "results[2]", "each result must be an object"),
    ),
    (
        "result without predicted_times",
        text(lambda d: d["results"][0].pop("predicted_times")),
        {"missing-key"},
        ("missing-key", "results[0]", "missing key 'predicted_times'"),
    ),
    (
        "flat pair instead of list of pairs",
        text(entry(3, "predicted_times", [12.3, 19.8])),
        {"flat-pair"},
        (
            "flat-pair",
            "results[3].predicted_times",
            "flat list of numbers [12.3, 19.8]; it must be a list of [start, end] pairs, e.g. [[12.3, 19.8]]",
        ),
    ),
    (
        "empty predicted_times",
        text(entry(2, "predicted_times", [])),
        {"no-windows"},
        ("no-windows", "results[2].predicted_times", "predicted_times is empty"),
    ),
    (
        "predicted_times a string",
        text(entry(2, "predicted_times", "10-20")),
        {"wrong-type"},
        (
            "wrong-type",
            "results[2].predicted_times",
            'must be a list of [start, end] pairs, got string "10-20"',
        ),
    ),
    (
        "query_idx as string",
        text(entry(0, "query_idx", "0")),
        {"wrong-type", "missing-query"},
        (
            "wrong-type",
            "results[0].query_idx",
            'query_idx must be a non-negative JSON integer, got string "0"',
        ),
    ),
    (
        "query_idx negative",
        text(entry(0, "query_idx", -1)),
        {"negative-index", "missing-query"},
        ("negative-index", "results[0].query_idx", "query_idx must be >= 0, got number -1"),
    ),
    (
        "query_idx bool",
        text(entry(0, "query_idx", False)),
        {"wrong-type", "missing-query"},
        ("wrong-type", "results[0].query_idx", "got boolean false"),
    ),
    (
        "query_idx float",
        text(entry(1, "query_idx", 2.0)),
        {"wrong-type", "missing-query"},
        ("wrong-type", "results[1].query_idx", "got number 2.0 (write 2, not 2.0)"),
    ),
    (
        "query_idx out of range",
        text(entry(1, "query_idx", 7)),
        {"unknown-query", "missing-query"},
        (
            "unknown-query",
            "results[1]",
            "query_idx 7 does not exist: annotation 'ann-1' of clip 'clip-1' has 3 queries, indices 0..2",
        ),
    ),
    (
        "annotation in another clip",
        text(entry(2, "clip_uid", "clip-2")),
        {"unknown-query", "missing-query"},
        (
            "unknown-query",
            "results[2]",
            "annotation_uid 'ann-2' belongs to clip 'clip-1', not to clip 'clip-2'",
        ),
    ),
    (
        "unknown annotation",
        text(entry(2, "annotation_uid", "ann-9")),
        {"unknown-query", "missing-query"},
        ("unknown-query", "results[2]", "annotation_uid 'ann-9', query_idx 0) is not in the query list"),
    ),
    (
        "empty clip_uid",
        text(entry(2, "clip_uid", "")),
        {"wrong-type", "missing-query"},
        ("wrong-type", "results[2].clip_uid", "clip_uid must not be an empty string"),
    ),
    (
        "clip_uid a number",
        text(entry(2, "clip_uid", 1)),
        {"wrong-type", "missing-query"},
        ("wrong-type", "results[2].clip_uid", "clip_uid must be a string, got number 1"),
    ),
    (
        "duplicate query",
        text(lambda d: d["results"].append(copy.deepcopy(d["results"][0]))),
        {"duplicate-query"},
        (
            "duplicate-query",
            "results[5]",
            "query (clip_uid 'clip-1', annotation_uid 'ann-1', query_idx 0) "
            "was already submitted at results[0]",
        ),
    ),
    (
        "missing query",
        text(lambda d: d["results"].pop(4)),
        {"missing-query"},
        (
            "missing-query",
            "results",
            "query (clip_uid 'clip-2', annotation_uid 'ann-3', query_idx 1) "
            'is missing (query "how many eggs did I crack?")',
        ),
    ),
    (
        "NaN end",
        text(window(0, 1, [30.5, float("nan")])),
        {"not-finite"},
        (
            "not-finite",
            "results[0].predicted_times[1][1]",
            "end time is NaN; every time must be a finite number",
        ),
    ),
    (
        "Infinity start",
        text(window(0, 1, [float("inf"), 41.0])),
        {"not-finite"},
        ("not-finite", "results[0].predicted_times[1][0]", "start time is Infinity"),
    ),
    (
        "-Infinity start",
        text(window(0, 1, [float("-inf"), 41.0])),
        {"not-finite"},
        ("not-finite", "results[0].predicted_times[1][0]", "start time is -Infinity"),
    ),
    (
        "start after end",
        text(window(1, 2, [30.0, 20.0])),
        {"reversed-window"},
        ("reversed-window", "results[1].predicted_times[2]", "start 30.0 is after end 20.0"),
    ),
    (
        "negative start",
        text(window(1, 0, [-0.5, 20.0])),
        {"negative-time"},
        ("negative-time", "results[1].predicted_times[0][0]", "start time -0.5 is negative"),
    ),
    (
        "six windows",
        text(entry(0, "predicted_times", FIVE + [[1.0, 2.0]])),
        {"too-many-windows"},
        (
            "too-many-windows",
            "results[0].predicted_times",
            f"predicted_times has 6 windows; at most {MAX_WINDOWS} are allowed",
        ),
    ),
    (
        "window with a score",
        text(window(0, 0, [10.0, 20.0, 0.93])),
        {"window-shape"},
        (
            "window-shape",
            "results[0].predicted_times[0]",
            "a window must be [start, end], got 3 values; drop any score",
        ),
    ),
    (
        "window with one number",
        text(window(0, 4, [200.0])),
        {"window-shape"},
        ("window-shape", "results[0].predicted_times[4]", "a window must be [start, end], got 1 number(s)"),
    ),
    (
        "window null",
        text(window(0, 4, None)),
        {"window-shape"},
        ("window-shape", "results[0].predicted_times[4]", "a window must be a [start, end] pair, got null"),
    ),
    (
        "time as string",
        text(window(0, 3, ["100", 130.0])),
        {"wrong-type"},
        (
            "wrong-type",
            "results[0].predicted_times[3][0]",
            'start time must be a number of seconds, got string "100"',
        ),
    ),
    (
        "time as bool",
        text(window(0, 3, [100.0, True])),
        {"wrong-type"},
        (
            "wrong-type",
            "results[0].predicted_times[3][1]",
            "end time must be a number of seconds, got boolean true",
        ),
    ),
]


@pytest.mark.parametrize("case, content, kinds, expected", INVALID, ids=[case[0] for case in INVALID])
def test_invalid_submission_reports_its_problem(tmp_path, nlq_queries, case, content, kinds, expected):
    path = tmp_path / "submission.json"
    path.write_text(content, encoding="utf-8")
    report = validate_submission_file(str(path), NLQ, nlq_queries)
    assert not report.is_valid
    assert {p.kind for p in report.errors} == kinds
    kind, json_path, fragment = expected
    matching = [p for p in report.errors if p.kind == kind and p.path == json_path]
    assert matching, [p.to_dict() for p in report.problems]
    assert any(fragment in p.message for p in matching), [p.message for p in matching]


def test_corpus_is_large_enough():
    assert len(INVALID) >= 25


def test_valid_submission_is_clean(nlq_queries):
    report = validate_submission(VALID_NLQ, NLQ, nlq_queries)
    assert report.is_valid and report.problems == []
    assert (report.results, report.expected_queries) == (5, 5)


def test_missing_queries_are_listed_and_counted(nlq_queries):
    report = validate_submission(
        changed(lambda d: d.__setitem__("results", d["results"][:2])), NLQ, nlq_queries
    )
    missing = [p for p in report.problems if p.kind == "missing-query"]
    assert report.counts() == {"missing-query": 3}
    assert [m.message.split(" is missing")[0] for m in missing] == [
        "query (clip_uid 'clip-1', annotation_uid 'ann-2', query_idx 0)",
        "query (clip_uid 'clip-2', annotation_uid 'ann-3', query_idx 0)",
        "query (clip_uid 'clip-2', annotation_uid 'ann-3', query_idx 1)",
    ]


def test_report_caps_the_list_but_counts_everything(nlq_queries):
    data = changed(lambda d: [r.__setitem__("predicted_times", [[5.0, 1.0]]) for r in d["results"]])
    report = validate_submission(data, NLQ, nlq_queries)
    summary = report.to_dict(max_shown=3)
    assert summary["valid"] is False
    assert (summary["errors"], summary["warnings"], summary["shown"]) == (5, 5, 3)
    assert summary["counts"] == {"reversed-window": 5, "few-windows": 5}
    assert [p["severity"] for p in summary["problems"]] == ["error"] * 3
    assert [p["path"] for p in summary["problems"]] == [f"results[{i}].predicted_times[0]" for i in range(3)]


@pytest.mark.parametrize(
    "case, edit, kind, path, fragment",
    [
        (
            "two windows",
            entry(0, "predicted_times", [[1.0, 2.0], [3.0, 4.0]]),
            "few-windows",
            "results[0].predicted_times",
            "2 windows given; 5 ranked windows are recommended",
        ),
        (
            "end past duration",
            window(3, 0, [100.0, 125.0]),
            "past-duration",
            "results[3].predicted_times[0][1]",
            "end 125.0 is past the clip duration 120.500 s",
        ),
        (
            "textless query submitted",
            lambda d: d["results"].append(
                {"clip_uid": "clip-1", "annotation_uid": "ann-1", "query_idx": 1, "predicted_times": FIVE}
            ),
            "textless-query",
            "results[5]",
            "has no query text",
        ),
    ],
)
def test_warnings_do_not_invalidate(nlq_queries, case, edit, kind, path, fragment):
    report = validate_submission(changed(edit), NLQ, nlq_queries)
    assert report.is_valid
    assert [(p.severity, p.kind, p.path) for p in report.problems] == [(Severity.WARNING, kind, path)]
    assert fragment in report.problems[0].message


def test_end_within_tolerance_and_zero_length_window_pass(nlq_queries):
    data = changed(lambda d: (window(3, 0, [120.0, 121.4])(d), window(3, 1, [7, 7])(d)))
    assert validate_submission(data, NLQ, nlq_queries).problems == []


def test_without_query_list_only_the_file_is_checked():
    data = changed(
        lambda d: d["results"].append(
            {"clip_uid": "x", "annotation_uid": "y", "query_idx": 9, "predicted_times": FIVE}
        )
    )
    report = validate_submission(data, NLQ)
    assert report.is_valid and report.problems == [] and report.expected_queries is None


def test_challenge_override(nlq_queries):
    data = changed(lambda d: d.__setitem__("challenge", "my_challenge"))
    assert validate_submission(data, NLQ, nlq_queries, challenge="my_challenge").is_valid
    report = validate_submission(VALID_NLQ, NLQ, nlq_queries, challenge="my_challenge")
    assert [(p.kind, p.path) for p in report.errors] == [("header", "challenge")]


def test_goalstep_submission_uses_its_challenge():
    queries = load_annotations(DATA / "goalstep_test_tiny.jsonl", GOALSTEP)
    results = [
        {
            "clip_uid": r.video_id,
            "annotation_uid": r.annotation_uid,
            "query_idx": r.query_idx,
            "predicted_times": FIVE,
        }
        for r in queries
    ]
    data = {"version": "1.0", "challenge": "ego4d_goalstep_challenge", "results": results}
    assert validate_submission(data, GOALSTEP, queries).problems == []
    report = validate_submission({**data, "challenge": "ego4d_nlq_challenge"}, GOALSTEP, queries)
    assert [p.message for p in report.errors] == [
        'challenge must be "ego4d_goalstep_challenge" for this track, got "ego4d_nlq_challenge" '
        "(use --challenge to check against another challenge string)"
    ]


def test_track_without_challenge_needs_override():
    with pytest.raises(UserError, match="has no EvalAI challenge"):
        validate_submission(VALID_NLQ, get_track("tacos"))
    assert validate_submission(VALID_NLQ, get_track("tacos"), challenge="ego4d_nlq_challenge").is_valid


def test_schemas_are_draft_2020_12_and_share_structure():
    from jsonschema import Draft202012Validator

    nlq, goalstep = load_schema("nlq_submission.json"), load_schema("goalstep_submission.json")
    for schema in (nlq, goalstep):
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$defs"]["result"]["properties"]["predicted_times"]["maxItems"] == MAX_WINDOWS
        assert schema["properties"]["version"]["const"] == NLQ.submission_version == GOALSTEP.submission_version
    assert nlq["$defs"]["result"]["required"] == goalstep["$defs"]["result"]["required"]


def test_format_path():
    assert format_path(()) == "$"
    assert format_path(("version",)) == "version"
    assert format_path(("results", 12, "predicted_times", 3, 1)) == "results[12].predicted_times[3][1]"
