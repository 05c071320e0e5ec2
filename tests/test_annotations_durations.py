"""Durations sources for the GoalStep test release (jsonl, ego4d.json + groups TSV, plain mapping)."""

from __future__ import annotations

import json

import pytest

from osgnet_bench.annotations.durations import read_video_durations
from osgnet_bench.errors import UserError

GROUPS_TSV = (
    "university\tvideo_group\n"
    "utokyo\t['a', 'b','c']\n"
    "utokyo\t['d']\n"
)


def write_ego4d_metadata(path, durations: dict) -> None:
    videos = [{"video_uid": uid, "duration_sec": seconds, "other": 1} for uid, seconds in durations.items()]
    path.write_text(json.dumps({"version": "v2", "videos": videos}))


def test_durations_from_a_jsonl(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text(
        '{"query": "q", "query_id": "v1_0", "duration": 470.04, "video_id": "v1", "query_type": "goal_step"}\n'
        '{"query": "r", "query_id": "v1_1", "duration": 470.04, "video_id": "v1", "query_type": "goal_step"}\n'
        '{"query": "s", "query_id": "v2_0", "duration": 12, "video_id": "v2", "query_type": "goal_step"}'
    )
    durations = read_video_durations(path)
    assert durations == {"v1": 470.04, "v2": 12}
    assert type(durations["v2"]) is int


def test_conflicting_jsonl_durations_are_refused(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text('{"video_id": "v1", "duration": 1.0}\n{"video_id": "v1", "duration": 2.0}\n')
    with pytest.raises(UserError, match=r"test.jsonl: line 2: video 'v1' has duration 2.0 here but 1.0"):
        read_video_durations(path)


def test_ego4d_metadata_with_groups_sums_members_in_order(tmp_path):
    metadata = tmp_path / "ego4d.json"
    write_ego4d_metadata(metadata, {"a": 0.1, "b": 0.2, "c": 0.3, "d": 5.5, "e": 7})
    groups = tmp_path / "groups.tsv"
    groups.write_text(GROUPS_TSV)
    durations = read_video_durations(metadata, groups)
    assert durations["grp-a"] == ((0 + 0.1) + 0.2) + 0.3
    assert durations["grp-a"] != 0.1 + (0.2 + 0.3)  # the order of the sum shows in the last bit
    assert durations["grp-d"] == 5.5
    assert durations["e"] == 7


def test_group_member_without_duration_is_named(tmp_path):
    metadata = tmp_path / "ego4d.json"
    write_ego4d_metadata(metadata, {"a": 1.0, "b": 2.0, "d": 3.0})
    groups = tmp_path / "groups.tsv"
    groups.write_text(GROUPS_TSV)
    with pytest.raises(UserError, match=r"groups.tsv: line 2: no duration for group member 'c'"):
        read_video_durations(metadata, groups)


def test_bad_groups_file_is_refused(tmp_path):
    metadata = tmp_path / "ego4d.json"
    write_ego4d_metadata(metadata, {"a": 1.0})
    groups = tmp_path / "groups.tsv"
    groups.write_text("university\tvideo_group\nutokyo\tnot a list\n")
    with pytest.raises(UserError, match="line 2: video_group must be a non-empty list of video uids"):
        read_video_durations(metadata, groups)
    groups.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="with a 'video_group' column"):
        read_video_durations(metadata, groups)


def test_plain_mapping_and_its_errors(tmp_path):
    path = tmp_path / "durations.json"
    path.write_text('{"v1": 10.5, "grp-v2": 3}')
    assert read_video_durations(path) == {"v1": 10.5, "grp-v2": 3}
    path.write_text('{"v1": "10.5"}')
    with pytest.raises(UserError, match=r"durations.json: v1: expected a number, got '10.5'"):
        read_video_durations(path)
    path.write_text('{"videos": [{"video_uid": "v1"}]}')
    with pytest.raises(UserError, match=r"videos\[0\]: missing key 'duration_sec'"):
        read_video_durations(path)
