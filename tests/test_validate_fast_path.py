"""The fast paths of ``submit`` give exactly what the thorough paths give.

* Validation: the plain-Python structural check (``follows_schema``) accepts exactly the files the
  jsonschema validator accepts, on the hand-made invalid corpus of tests/test_validate.py and on
  random valid submissions and random edits of them.
* Reading predictions: the whole-file conversion gives the same predictions, or the same error, as
  the line-by-line reader, on random jsonl files with odd values mixed in.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_validate import INVALID, VALID_NLQ

from osgnet_bench.errors import UserError
from osgnet_bench.predictions import (
    Prediction,
    _predictions_from_jsonl_text,
    _predictions_line_by_line,
    _well_formed_jsonl,
    write_predictions,
)
from osgnet_bench.tracks import get_track
from submissions.schema_check import (
    HEADER_KEYS,
    MAX_WINDOWS,
    RESULT_KEYS,
    SUBMISSION_VERSION,
    follows_schema,
    load_schema,
    schema_name,
    schema_problems,
    strict_validator,
)

NLQ = get_track("nlq")
GOALSTEP = get_track("goalstep")


def jsonschema_accepts(data: object) -> bool:
    """The reference answer: the strict jsonschema validator of both tracks (they must agree)."""
    nlq = strict_validator(schema_name(NLQ)).is_valid(data)
    assert strict_validator(schema_name(GOALSTEP)).is_valid(data) == nlq
    return nlq


# ---------------------------------------------------------------- validation: the corpus


def corpus_documents() -> list[tuple[str, object]]:
    """Every case of the invalid corpus that is valid JSON, parsed, plus the valid submission."""
    documents = [("valid", copy.deepcopy(VALID_NLQ))]
    for case, content, _kinds, _expected in INVALID:
        try:
            documents.append((case, json.loads(content)))
        except json.JSONDecodeError:
            continue
    return documents


@pytest.mark.parametrize("case, data", corpus_documents(), ids=[case for case, _ in corpus_documents()])
def test_fast_check_agrees_with_jsonschema_on_the_corpus(case, data):
    assert follows_schema(data) == jsonschema_accepts(data), case
    assert bool(list(schema_problems(data, NLQ))) == (not follows_schema(data)), case


def test_corpus_exercises_both_answers():
    answers = [follows_schema(data) for _, data in corpus_documents()]
    assert answers.count(True) >= 5  # header, duplicate, unknown, missing, reversed-window cases
    assert answers.count(False) >= 25


def test_fast_check_constants_match_the_shipped_schemas():
    for name in ("nlq_submission.json", "goalstep_submission.json"):
        schema = load_schema(name)
        result = schema["$defs"]["result"]
        assert set(schema["required"]) == set(schema["properties"]) == HEADER_KEYS
        assert schema["properties"]["version"]["const"] == SUBMISSION_VERSION
        assert set(result["required"]) == set(result["properties"]) == RESULT_KEYS
        assert result["properties"]["predicted_times"]["maxItems"] == MAX_WINDOWS


def test_valid_file_is_checked_without_importing_jsonschema():
    program = (
        "import sys, json\n"
        "from osgnet_bench.tracks import get_track\n"
        "from submissions.validate import validate_submission\n"
        f"report = validate_submission(json.loads({json.dumps(json.dumps(VALID_NLQ))}), get_track('nlq'))\n"
        "print(report.is_valid, 'jsonschema' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False"]


# ---------------------------------------------------------------- validation: random files

uids = st.text(min_size=1, max_size=6)
times = st.one_of(
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=10**6),
)
windows = st.lists(st.lists(times, min_size=2, max_size=2), min_size=1, max_size=MAX_WINDOWS)
entries = st.fixed_dictionaries(
    {
        "clip_uid": uids,
        "annotation_uid": uids,
        "query_idx": st.integers(min_value=0, max_value=10**12),
        "predicted_times": windows,
    }
)
submissions = st.fixed_dictionaries(
    {"version": st.just("1.0"), "challenge": uids, "results": st.lists(entries, min_size=1, max_size=5)}
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-3, max_value=10**20),
        st.floats(),
        st.sampled_from(["", "1.0", "0", "x", "results"]),
    ),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=2),
    max_leaves=6,
)


def paths_in(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node of ``value`` (the root included)."""
    found = [prefix]
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found += paths_in(child, (*prefix, key))
    return found


def edited(data: dict, path: tuple, action: str, new: object) -> object:
    """A copy of ``data`` with the node at ``path`` replaced, removed, or given an extra item."""
    data = copy.deepcopy(data)
    if action == "replace" and not path:
        return new
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    node = parent[path[-1]] if path else data
    if action == "replace":
        parent[path[-1]] = new
    elif action == "remove" and path:
        del parent[path[-1]]
    elif action == "add" and isinstance(node, dict):
        node["extra" if "extra" not in node else "extra2"] = new
    elif action == "add" and isinstance(node, list):
        node.append(new)
    return data


@given(submissions)
@settings(max_examples=150, deadline=None)
def test_random_valid_files_pass_both_checks(data):
    assert follows_schema(data)
    assert jsonschema_accepts(data)
    assert list(schema_problems(data, NLQ)) == []


@given(st.data(), submissions)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_edits_get_the_same_answer_from_both_checks(draw, data):
    path = draw.draw(st.sampled_from(paths_in(data)), label="path")
    action = draw.draw(st.sampled_from(["replace", "remove", "add"]), label="action")
    new = draw.draw(json_values, label="new value")
    changed = edited(data, path, action, new)
    assert follows_schema(changed) == jsonschema_accepts(changed)


@pytest.mark.parametrize(
    "value",
    [True, False, 1.0, -1, -0.0, 0, 2**70, float("nan"), float("inf"), "", "0", None, [], {}, [1.0], [1.0, 2.0, 3.0]],
)
@pytest.mark.parametrize(
    "path",
    [
        ("version",),
        ("challenge",),
        ("results",),
        ("results", 0),
        ("results", 1, "clip_uid"),
        ("results", 1, "query_idx"),
        ("results", 2, "predicted_times"),
        ("results", 2, "predicted_times", 0),
        ("results", 3, "predicted_times", 1, 0),
        ("results", 4, "predicted_times", 4, 1),
    ],
)
def test_every_odd_value_anywhere_gets_the_same_answer(path, value):
    changed = edited(VALID_NLQ, path, "replace", value)
    assert follows_schema(changed) == jsonschema_accepts(changed)


# ---------------------------------------------------------------- reading predictions


def outcome(read, text: str) -> object:
    """What a reader gives for ``text``: its error, or every field of every prediction."""
    try:
        predictions = read(text, "model.jsonl")
    except UserError as exc:
        return (type(exc).__name__, str(exc))
    return [
        (
            p.key,
            p.where,
            p.windows.dtype,
            p.windows.shape,
            p.windows.tolist(),
            None if p.scores is None else (p.scores.dtype, p.scores.tolist()),
        )
        for p in predictions
    ]


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
odd_numbers = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**66), max_value=2**66),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), float("nan"), float("inf"), "1.5", None, [1.0]]),
)


@st.composite
def jsonl_rows(draw) -> str:
    """One line of a predictions file: mostly well formed, sometimes with one odd part."""
    count = draw(st.integers(min_value=1, max_value=4))
    width = draw(st.sampled_from([2, 2, 2, 3]))
    numbers = st.one_of(finite, st.integers(min_value=-1000, max_value=1000))
    windows = [draw(st.lists(numbers, min_size=width, max_size=width)) for _ in range(count)]
    row = {
        "query_id": f"{draw(st.sampled_from(['ann', 'a_b', 'true']))}_{draw(st.integers(0, 3))}",
        "video_id": draw(st.sampled_from(["clip", "clip-2"])),
        "windows": windows,
    }
    scores = draw(st.sampled_from(["list", "list", "none", "absent"]))
    if scores == "list":
        row["scores"] = draw(st.lists(numbers, min_size=count, max_size=count))
    elif scores == "none":
        row["scores"] = None
    twist = draw(st.sampled_from(["none"] * 6 + ["window number", "score", "window", "booleans", "key", "row", "line"]))
    if twist == "booleans":  # a line of booleans only is an error; numbers elsewhere must not hide it
        row["windows"], row["scores"] = [[True, False]] * count, [False] * count
    elif twist == "window number":
        windows[draw(st.integers(0, count - 1))][draw(st.integers(0, width - 1))] = draw(odd_numbers)
    elif twist == "score" and "scores" in row and row["scores"] is not None:
        row["scores"][draw(st.integers(0, count - 1))] = draw(odd_numbers)
    elif twist == "window":
        windows[draw(st.integers(0, count - 1))] = draw(st.sampled_from([[1.0], [1, 2, 3, 4], 5.0, "1,2", None, []]))
    elif twist == "key":
        key = draw(st.sampled_from(["query_id", "video_id", "windows", "scores"]))
        row[key] = draw(st.sampled_from(["", "noindex", 7, None, [], [[1.0, 2.0]] * 9]))
    elif twist == "row":
        return draw(st.sampled_from(["[]", "3", '"row"', "", "   ", '{"query_id": "a_1"}']))
    elif twist == "line":
        return draw(st.sampled_from(["{", '{"query_id": NaN}', "{} {}", '{"a": 1,}']))
    return json.dumps(row)


@given(st.lists(jsonl_rows(), min_size=1, max_size=8))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_whole_file_reader_gives_what_the_line_reader_gives(lines):
    text = "\n".join(lines)
    assert outcome(_predictions_from_jsonl_text, text) == outcome(_predictions_line_by_line, text)


def test_a_written_file_takes_the_whole_file_path(tmp_path):
    rng = np.random.default_rng(0)
    written = [
        Prediction(f"clip-{q}", f"ann-{q}", q % 3, rng.uniform(0, 100, (k, 2)), rng.uniform(0, 1, k) if q % 4 else None)
        for q, k in enumerate([1, 5, 50, 7, 2, 3])
    ]
    write_predictions(tmp_path / "pred.jsonl", written)
    text = (tmp_path / "pred.jsonl").read_text(encoding="utf-8")
    fast = _well_formed_jsonl(text, "model.jsonl")
    assert fast is not None
    assert outcome(lambda t, s: fast, text) == outcome(_predictions_line_by_line, text)
    for read, original in zip(fast, written, strict=True):
        assert read.windows.flags.c_contiguous
        assert np.array_equal(read.windows, original.windows)
        assert (read.scores is None) == (original.scores is None)
        if original.scores is not None:
            assert np.array_equal(read.scores, original.scores)


@pytest.mark.parametrize(
    "text",
    [
        '{"query_id": "a_1", "video_id": "c", "windows": [[true, 2.0]]}',
        '{"query_id": "a_1", "video_id": "c", "windows": [[1.5, 2.0]]}\n'
        '{"query_id": "a_2", "video_id": "c", "windows": [[true, false]]}',
        '{"query_id": "a_1", "video_id": "c", "windows": [[1, 9223372036854775808]]}',
        '{"query_id": "a_1", "video_id": "c", "windows": [[1.5, 2.0]], "scores": [1e400]}',
        '{"query_id": "a_1", "video_id": "c", "windows": [[1.5, 2.0], [1.0, 2.0, 3.0]]}',
        '{"query_id": "a_1", "video_id": "c", "windows": [[1.5, 2.0]]}\n{"query_id": "a_2"',
    ],
    ids=["boolean", "line of booleans", "int beyond int64", "infinite score", "ragged windows", "bad second line"],
)
def test_odd_files_leave_the_whole_file_path(text):
    assert _well_formed_jsonl(text, "model.jsonl") is None
    assert outcome(_predictions_from_jsonl_text, text) == outcome(_predictions_line_by_line, text)
