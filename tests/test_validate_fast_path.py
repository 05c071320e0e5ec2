"""The fast validation path of ``submit`` gives exactly what the thorough path gives: the
plain-Python structural check (``follows_schema``) accepts exactly the files the jsonschema
validator accepts, on the hand-made invalid corpus of tests/test_validate.py and on random valid
submissions and random edits of them."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_validate import INVALID, VALID_NLQ

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
