"""Submissions built with the writer for the real test query lists validate clean (skipped without data)."""

from __future__ import annotations

import pytest

from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.tracks import get_track
from submissions.validate import validate_submission
from submissions.writer import RankedWindows, build_submission


def ranked_guess(duration: float) -> list[list[float]]:
    """Three windows spread over the clip, the last one running past its end (the writer clips it)."""
    return [
        [0.1 * duration, 0.2 * duration],
        [0.5 * duration, 0.4 * duration],
        [0.9 * duration, duration + 30.0],
    ]


@pytest.mark.parametrize(
    "track_name, relative_path, expected",
    [
        ("nlq", "nlq_v2/nlq_test_unannotated.json", 4004),
        ("goalstep", "goalstep/ego4d_goal_step_test_v2.jsonl", 5540),
    ],
)
def test_writer_output_for_every_test_query_validates_clean(shared_data, track_name, relative_path, expected):
    track = get_track(track_name)
    queries = load_annotations(shared_data / relative_path, track)
    text_queries = [q for q in queries if q.has_text]
    submission = build_submission(
        [RankedWindows.for_record(q, ranked_guess(q.duration)) for q in text_queries], track
    )
    assert len(submission["results"]) == expected
    assert all(len(entry["predicted_times"]) == 5 for entry in submission["results"])
    report = validate_submission(submission, track, queries)
    assert report.problems == []
    assert (report.results, report.expected_queries) == (expected, expected)


def test_real_nlq_test_textless_query_and_gap_are_reported(shared_data):
    track = get_track("nlq")
    queries = load_annotations(shared_data / "nlq_v2" / "nlq_test_unannotated.json", track)
    textless = [q for q in queries if not q.has_text]
    assert [q.key for q in textless] == [
        ("a603669a-57f9-4db4-8a81-0a6720946d45", "dac51ee2-bdec-4271-9ac9-85be440f5cf6", 0)
    ]
    chosen = textless + [q for q in queries if q.has_text][10:]
    submission = build_submission([RankedWindows.for_record(q, [[1.0, 2.0]]) for q in chosen], track)
    report = validate_submission(submission, track, queries)
    assert report.counts() == {"missing-query": 10, "textless-query": 1}


def test_goalstep_submission_matches_the_official_release_keys(shared_data):
    track = get_track("goalstep")
    steps = load_annotations(shared_data / "goalstep" / "ego4d_goal_step_test_v2.jsonl", track)
    release = load_annotations(shared_data / "goalstep" / "goalstep_test.json", track)
    submission = build_submission(
        [RankedWindows.for_record(q, ranked_guess(q.duration)) for q in steps], track
    )
    report = validate_submission(submission, track, release)
    assert report.problems == [] and report.expected_queries == 5540
