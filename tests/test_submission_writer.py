"""The EvalAI submission writer: exactly 5 ordered, clipped windows per query, written atomically."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from osgnet_bench.tracks import get_track
from submissions.validate import validate_submission
from submissions.writer import RankedWindows, build_submission, five_windows, write_submission

NLQ = get_track("nlq")


def record(idx: int, duration: float | None = 100.0) -> QueryRecord:
    return QueryRecord("clip-1", "ann-1", idx, f"query {idx}", duration, None, "nlq")


def test_pads_by_repeating_the_last_window():
    assert five_windows([[1.0, 2.0], [3.0, 4.0]]) == [
        [1.0, 2.0],
        [3.0, 4.0],
        [3.0, 4.0],
        [3.0, 4.0],
        [3.0, 4.0],
    ]


def test_truncates_beyond_five_and_drops_scores():
    windows = [[i, i + 1.0, 0.9 - i / 10] for i in range(8)]
    assert five_windows(windows) == [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0], [4.0, 5.0]]


def test_orders_start_before_end_and_clips_to_duration():
    windows = [[20.0, 10.0], [-3.0, 5.0], [95.0, 130.0], [150.0, 160.0]]
    assert five_windows(windows, duration=100.0) == [
        [10.0, 20.0],
        [0.0, 5.0],
        [95.0, 100.0],
        [100.0, 100.0],
        [100.0, 100.0],
    ]
    assert five_windows([[-3.0, 130.0]])[0] == [0.0, 130.0]


def test_rejects_no_window_and_non_finite_times():
    with pytest.raises(UserError, match="q7: no predicted window"):
        five_windows([], where="q7")
    with pytest.raises(UserError, match="not finite"):
        five_windows([[1.0, float("nan")]])


def test_build_submission_is_valid_and_keeps_order():
    records = [record(2), record(0), record(1, duration=None)]
    predictions = [RankedWindows.for_record(r, [[5.0, 1.0], [200.0, 250.0]]) for r in records]
    submission = build_submission(predictions, NLQ)
    assert submission["version"] == "1.0" and submission["challenge"] == "ego4d_nlq_challenge"
    assert [r["query_idx"] for r in submission["results"]] == [2, 0, 1]
    assert submission["results"][0]["predicted_times"] == [[1.0, 5.0]] + [[100.0, 100.0]] * 4
    assert submission["results"][2]["predicted_times"][1] == [200.0, 250.0]
    assert validate_submission(submission, NLQ, records).problems == []


def test_build_submission_refuses_a_repeated_query_and_uses_challenge_override():
    predictions = [RankedWindows("c", "a", 0, [[1.0, 2.0]]), RankedWindows("c", "a", 0, [[3.0, 4.0]])]
    with pytest.raises(UserError, match="query_idx 0\\) is predicted twice"):
        build_submission(predictions, NLQ)
    submission = build_submission(predictions[:1], get_track("goalstep"), challenge="ego4d_nlq_challenge")
    assert submission["challenge"] == "ego4d_nlq_challenge"


def test_write_submission_round_trips(tmp_path):
    submission = build_submission([RankedWindows.for_record(record(0), [[1.5, 2.5]])], NLQ)
    path = tmp_path / "out" / "submission.json"
    write_submission(path, submission)
    assert json.loads(path.read_text()) == submission
    assert [p.name for p in path.parent.iterdir()] == ["submission.json"]


times = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    windows=st.lists(st.tuples(times, times), min_size=1, max_size=9),
    duration=st.one_of(st.none(), st.floats(min_value=0.5, max_value=1e4)),
)
def test_any_finite_windows_become_a_valid_entry(windows, duration):
    chosen = five_windows(windows, duration)
    upper = duration if duration is not None else float("inf")
    assert len(chosen) == 5
    assert all(0.0 <= start <= end <= upper for start, end in chosen)
    assert chosen[0] == [min(max(t, 0.0), upper) for t in sorted(windows[0])]
    query = record(0, duration)
    submission = build_submission([RankedWindows.for_record(query, windows)], NLQ)
    assert validate_submission(submission, NLQ, [query]).errors == []
