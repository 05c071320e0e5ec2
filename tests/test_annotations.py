"""Annotation readers and the raw -> jsonl conversion, on hand-made files and the real releases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osgnet_bench.annotations.convert import records_to_jsonl_rows
from osgnet_bench.annotations.durations import read_video_durations
from osgnet_bench.annotations.goalstep import is_goalstep_release, is_goalstep_test, read_goalstep_release
from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.annotations.nlq import read_raw_nlq
from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.annotations.tacos import is_tacos_json, read_tacos_json
from osgnet_bench.errors import UserError
from osgnet_bench.tracks import GOALSTEP, NLQ_V2, TACOS


def dump_lines(rows: list[dict]) -> list[str]:
    """Each row as the reference serialises it: same key order, same number formatting."""
    return [json.dumps(row) for row in rows]


def assert_same_lines(ours: list[str], expected: list[str]) -> None:
    """Equal line lists; on failure show only the first difference (a full diff is very slow)."""
    first = next((i for i, (a, b) in enumerate(zip(ours, expected)) if a != b), None)
    assert first is None, f"line {first + 1} differs:\n ours:     {ours[first]}\n expected: {expected[first]}"
    assert len(ours) == len(expected)


def file_lines(path: Path) -> list[str]:
    """The file split on "\n" only, so a trailing newline shows up as a final empty line."""
    return path.read_text(encoding="utf-8").split("\n")


def without_label(path: Path) -> list[str]:
    """The lines of a ``*_label_lemma`` / ``*_lemma`` file with the ``label`` key removed."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return dump_lines([{key: value for key, value in row.items() if key != "label"} for row in rows])


# ---------------------------------------------------------------- raw NLQ


def small_nlq() -> dict:
    return {
        "version": "2.0",
        "videos": [
            {
                "video_uid": "vid-A",
                "clips": [
                    {
                        "clip_uid": "clip-1",
                        "video_start_sec": 10.5,
                        "video_end_sec": 490.5,
                        "annotations": [
                            {
                                "annotation_uid": "ann-1",
                                "language_queries": [
                                    {"clip_start_sec": 1, "clip_end_sec": 2.25, "query": "where is the knife?",
                                     "template": "Objects: Where is object X?"},
                                    {"clip_start_sec": 3.0, "clip_end_sec": 4.0, "query": None},
                                    {"clip_start_sec": 5.0, "clip_end_sec": 6.0},
                                    {"clip_start_sec": 7.0, "clip_end_sec": 8.0, "query": "what did I cut?"},
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
    }


def test_nlq_reader_keeps_textless_entries_and_their_indices():
    records = read_raw_nlq(small_nlq(), "small.json")
    assert [r.query_idx for r in records] == [0, 1, 2, 3]
    assert [r.query for r in records] == ["where is the knife?", "", "", "what did I cut?"]
    assert records[0].duration == 480.0
    assert records[0].windows == ((1, 2.25),)
    assert type(records[0].windows[0][0]) is int
    assert records[0].template == "Objects: Where is object X?"
    assert records[3].query_id == "ann-1_3"


def test_nlq_conversion_skips_textless_entries_without_renumbering():
    rows = records_to_jsonl_rows(read_raw_nlq(small_nlq(), "small.json"), NLQ_V2)
    assert dump_lines(rows) == [
        '{"query": "where is the knife?", "query_id": "ann-1_0", "duration": 480.0, '
        '"video_id": "clip-1", "query_type": "nlq", "timestamps": [[1, 2.25]]}',
        '{"query": "what did I cut?", "query_id": "ann-1_3", "duration": 480.0, '
        '"video_id": "clip-1", "query_type": "nlq", "timestamps": [[7.0, 8.0]]}',
    ]


def test_nlq_unannotated_entries_have_no_timestamps():
    data = small_nlq()
    for entry in data["videos"][0]["clips"][0]["annotations"][0]["language_queries"]:
        entry.pop("clip_start_sec")
        entry.pop("clip_end_sec")
    records = read_raw_nlq(data, "test.json")
    assert all(r.windows is None for r in records)
    assert all("timestamps" not in row for row in records_to_jsonl_rows(records, NLQ_V2))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["videos"][0]["clips"][0].pop("video_end_sec"),
         "small.json: videos[0].clips[0]: missing key 'video_end_sec'"),
        (lambda d: d["videos"][0]["clips"][0]["annotations"][0].pop("annotation_uid"),
         "videos[0].clips[0].annotations[0]: missing key 'annotation_uid'"),
        (lambda d: d["videos"][0]["clips"][0]["annotations"][0]["language_queries"][3].pop("clip_end_sec"),
         "annotations[0].language_queries[3]: missing key 'clip_end_sec'"),
        (lambda d: d["videos"][0]["clips"][0].update(video_start_sec="0"),
         "videos[0].clips[0].video_start_sec: expected a number, got '0'"),
        (lambda d: d["videos"][0]["clips"][0]["annotations"][0]["language_queries"].append(3),
         "language_queries[4]: expected a JSON object, got int"),
    ],
)
def test_nlq_reader_names_the_json_path_of_bad_input(edit, message):
    data = small_nlq()
    edit(data)
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]").replace("?", r"\?")):
        read_raw_nlq(data, "small.json")


# ---------------------------------------------------------------- GoalStep


def small_goalstep_val() -> dict:
    return {
        "version": "1.0",
        "split": "val",
        "videos": [
            {
                "video_uid": "v1",
                "start_time": 0,
                "end_time": 100.125,
                "segments": [
                    {"start_time": 2, "end_time": 10.5, "step_description": " Cut onions ",
                     "segments": [
                         {"start_time": 2.5, "end_time": 4.0, "step_description": "peel onion"},
                         {"start_time": 4.0, "end_time": 9.0, "step_description": "slice onion\n"},
                     ]},
                    {"start_time": 20.0, "end_time": 30.0, "step_description": "Boil water", "segments": []},
                ],
            },
            {
                "video_uid": "v2",
                "start_time": 0.0210286458333333,
                "end_time": 50.75,
                "segments": [
                    {"start_time": 1.0, "end_time": 60.0, "step_description": "Knead", "segments": []},
                ],
            },
        ],
    }


def small_goalstep_test() -> dict:
    return {
        "version": "1.0",
        "split": "test",
        "videos": [
            {"video_uid": "t1", "step_segments": [
                {"step_description": "slice broccoli ", "segment_count": 1},
                {"step_description": "stir pasta", "segment_count": 2},
            ]},
            {"video_uid": "grp-t2", "step_segments": [{"step_description": "wash", "segment_count": 1}]},
        ],
    }


def test_goalstep_detection():
    assert is_goalstep_release(small_goalstep_val()) and not is_goalstep_test(small_goalstep_val())
    assert is_goalstep_release(small_goalstep_test()) and is_goalstep_test(small_goalstep_test())
    assert not is_goalstep_release(small_nlq())
    assert not is_tacos_json(small_goalstep_val())


def test_goalstep_val_steps_then_substeps_with_float_repr_uid():
    records = read_goalstep_release(small_goalstep_val(), "gs.json")
    assert [r.query for r in records] == ["Cut onions", "peel onion", "slice onion", "Boil water", "Knead"]
    assert [r.query_idx for r in records] == [0, 1, 2, 3, 0]
    assert records[0].annotation_uid == "v1_0_100.125"
    assert records[4].annotation_uid == "v2_0.0210286458333333_50.75"
    assert records[0].video_id == "v1"
    assert records[0].windows == ((2, 10.5),)
    assert records[4].duration == 50.75 - 0.0210286458333333
    rows = records_to_jsonl_rows(records, GOALSTEP)
    assert dump_lines(rows)[0] == (
        '{"query": "Cut onions", "query_id": "v1_0_100.125_0", "duration": 100.125, '
        '"video_id": "v1", "query_type": "goal_step", "timestamps": [[2, 10.5]]}'
    )


def test_goalstep_test_without_durations_has_no_duration_and_no_windows():
    records = read_goalstep_release(small_goalstep_test(), "gs_test.json")
    assert [(r.video_id, r.annotation_uid, r.query_idx, r.query) for r in records] == [
        ("t1", "t1", 0, "slice broccoli"), ("t1", "t1", 1, "stir pasta"), ("grp-t2", "grp-t2", 0, "wash"),
    ]
    assert all(r.duration is None and r.windows is None for r in records)
    with pytest.raises(UserError, match="duration unknown"):
        records_to_jsonl_rows(records, GOALSTEP)


def test_goalstep_test_with_durations():
    records = read_goalstep_release(small_goalstep_test(), "gs_test.json", {"t1": 470.04, "grp-t2": 12})
    rows = records_to_jsonl_rows(records, GOALSTEP)
    assert dump_lines(rows)[2] == (
        '{"query": "wash", "query_id": "grp-t2_0", "duration": 12, "video_id": "grp-t2", "query_type": "goal_step"}'
    )
    with pytest.raises(UserError, match=r"no duration for 1 of the 2 test videos \(grp-t2\)"):
        read_goalstep_release(small_goalstep_test(), "gs_test.json", {"t1": 470.04})


def test_goalstep_val_refuses_a_durations_source():
    with pytest.raises(UserError, match="apply only to the GoalStep test release"):
        read_goalstep_release(small_goalstep_val(), "gs.json", {"v1": 1.0})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["videos"][0]["segments"][0]["segments"][1].update(step_description="  "),
         r"gs.json: videos\[0\].segments\[0\].segments\[1\].step_description: empty"),
        (lambda d: d["videos"][0]["segments"][1].update(end_time=20.0),
         r"videos\[0\].segments\[1\]: end_time 20.0 is not after start_time 20.0"),
        (lambda d: d["videos"][1].pop("end_time"), r"videos\[1\]: missing key 'end_time'"),
        (lambda d: d["videos"][0]["segments"][0].pop("segments"),
         r"videos\[0\].segments\[0\]: missing key 'segments'"),
    ],
)
def test_goalstep_reader_errors_name_the_json_path(edit, message):
    data = small_goalstep_val()
    edit(data)
    with pytest.raises(UserError, match=message):
        read_goalstep_release(data, "gs.json")


# ---------------------------------------------------------------- TACoS


def small_tacos(splits: tuple[str, ...] = ("train", "test")) -> dict:
    return {
        split: {
            f"s1-{split}": {"fps": 29.4, "num_frames": 2940, "duration": 100.0, "annotations": [
                {"sentence": "He took out a pan", "segment(frame)": [224, 358], "segment": [7.62, 12.18]},
                {"sentence": "", "segment(frame)": [0, 29], "segment": [0.0, 0.99]},
                {"sentence": "He cut it", "segment(frame)": [300, 600], "segment": [10.2, 20.41]},
            ]},
            f"s2-{split}": {"fps": 29.4, "num_frames": 294, "duration": 10, "annotations": [
                {"sentence": "He washed", "segment(frame)": [0, 294], "segment": [0, 10]},
            ]},
        }
        for split in splits
    }


def test_tacos_reader_picks_a_split_and_keeps_numbers():
    records = read_tacos_json(small_tacos(), "tacos.json", split="test")
    assert [(r.video_id, r.annotation_uid, r.query_idx) for r in records] == [
        ("s1-test", "s1-test", 0), ("s1-test", "s1-test", 1), ("s1-test", "s1-test", 2), ("s2-test", "s2-test", 0),
    ]
    rows = records_to_jsonl_rows(records, TACOS)
    assert [row["query_id"] for row in rows] == ["s1-test_0", "s1-test_2", "s2-test_0"]
    assert dump_lines(rows)[2] == (
        '{"query": "He washed", "query_id": "s2-test_0", "duration": 10, "video_id": "s2-test", '
        '"query_type": "tacos", "timestamps": [[0, 10]]}'
    )


def test_tacos_single_split_needs_no_split_name():
    records = read_tacos_json(small_tacos(("val",)), "val.json")
    assert len(records) == 4 and records[0].video_id == "s1-val"


def test_tacos_split_errors_list_the_splits():
    with pytest.raises(UserError, match=r"holds several splits \('train', 'test'\); choose one with --split"):
        read_tacos_json(small_tacos(), "tacos.json")
    with pytest.raises(UserError, match=r"has no split 'val'; it holds 'train', 'test'"):
        read_tacos_json(small_tacos(), "tacos.json", split="val")


def test_tacos_bad_segment_names_the_path():
    data = small_tacos()
    data["test"]["s2-test"]["annotations"][0]["segment"] = [1.0]
    with pytest.raises(UserError, match=r"tacos.json: test.s2-test.annotations\[0\].segment: expected \[start, end\]"):
        read_tacos_json(data, "tacos.json", split="test")


# ---------------------------------------------------------------- conversion and loading


def test_conversion_refuses_duplicate_query_ids():
    record = QueryRecord("clip-1", "ann", 0, "q", 10.0, ((1.0, 2.0),), "nlq")
    twin = QueryRecord("clip-2", "ann", 0, "q", 10.0, ((1.0, 2.0),), "nlq")
    with pytest.raises(UserError, match=r"query_id 'ann_0' occurs twice \(videos 'clip-1' and 'clip-2'\)"):
        records_to_jsonl_rows([record, twin], NLQ_V2)


def test_load_annotations_dispatches_on_content(tmp_path):
    goalstep_file = tmp_path / "goalstep_valid.json"
    goalstep_file.write_text(json.dumps(small_goalstep_val()))
    tacos_file = tmp_path / "t.json"
    tacos_file.write_text(json.dumps(small_tacos()))
    assert len(load_annotations(goalstep_file, GOALSTEP)) == 5
    assert len(load_annotations(tacos_file, TACOS, split="train")) == 4
    with pytest.raises(UserError, match="does not belong to track 'nlq_v2'"):
        load_annotations(goalstep_file, NLQ_V2)
    other = tmp_path / "other.json"
    other.write_text('{"videos": []}')
    with pytest.raises(UserError, match="unrecognised annotation format"):
        load_annotations(other, NLQ_V2)


def test_jsonl_reader_round_trips_converted_rows(tmp_path):
    rows = records_to_jsonl_rows(read_goalstep_release(small_goalstep_val(), "gs.json"), GOALSTEP)
    path = tmp_path / "gs.jsonl"
    path.write_text("\n".join(dump_lines(rows)))
    again = records_to_jsonl_rows(load_annotations(path, GOALSTEP), GOALSTEP)
    assert dump_lines(again) == dump_lines(rows)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"query": "q", "query_id": "a_0", "video_id": "v", "duration": "480"}',
         r"bad.jsonl: line 2: 'duration': expected a number, got '480'"),
        ('{"query": "q", "query_id": "a_0", "video_id": "v", "duration": 480, "timestamps": [[1, 2, 3]]}',
         r"bad.jsonl: line 2: 'timestamps' must be a list of \[start, end\] numbers"),
        ('{"query": "q", "query_id": "a_0", "video_id": "v", "duration": 480, "timestamps": [[1, null]]}',
         r"bad.jsonl: line 2: 'timestamps': expected a number, got None"),
        ('{"query": "q", "query_id": "a", "video_id": "v", "duration": 480}', r"line 2: query_id 'a' does not end"),
    ],
)
def test_jsonl_reader_errors_name_the_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"query": "q", "query_id": "a_1", "video_id": "v", "duration": 480}\n' + line)
    with pytest.raises(UserError, match=message):
        load_annotations(path, NLQ_V2)


# ---------------------------------------------------------------- real releases


def convert_file(path: Path, track, **options) -> list[str]:
    return dump_lines(records_to_jsonl_rows(load_annotations(path, track, **options), track))


@pytest.mark.parametrize(
    ("raw", "converted", "entries", "textless"),
    [
        ("nlq_val.json", "ego4d_nlq_val_v2_label_lemma.jsonl", 4554, 2),
        ("nlq_test_unannotated.json", "ego4d_nlq_test_v2_label_lemma.jsonl", 4005, 1),
    ],
)
def test_real_nlq_conversion_matches_the_reference(shared_data, raw, converted, entries, textless):
    records = load_annotations(shared_data / "nlq_v2" / raw, NLQ_V2)
    assert len(records) == entries
    assert sum(not r.has_text for r in records) == textless
    rows = dump_lines(records_to_jsonl_rows(records, NLQ_V2))
    assert_same_lines(rows, without_label(shared_data / "nlq_v2" / converted))


def test_real_nlq_val_textless_indices_are_kept(shared_data):
    records = load_annotations(shared_data / "nlq_v2" / "nlq_val.json", NLQ_V2)
    textless = [(r.video_id[:8], r.annotation_uid[:8], r.query_idx) for r in records if not r.has_text]
    assert textless == [("e078f999", "3ce6b0d5", 10), ("e078f999", "3ce6b0d5", 12)]


def test_real_goalstep_val_is_reproduced_byte_for_byte(shared_data):
    lines = convert_file(shared_data / "goalstep" / "goalstep_valid.json", GOALSTEP)
    assert len(lines) == 7696
    assert_same_lines(lines, file_lines(shared_data / "goalstep" / "ego4d_goal_step_val_v2.jsonl"))
    assert_same_lines(lines, without_label(shared_data / "goalstep" / "ego4d_goal_step_val_v2_lemma.jsonl"))


def test_real_goalstep_test_matches_except_durations(shared_data):
    """Without ego4d.json the test durations are unknown; everything else must match."""
    records = load_annotations(shared_data / "goalstep" / "goalstep_test.json", GOALSTEP)
    assert len(records) == 5540 and len({r.video_id for r in records}) == 134
    assert all(r.duration is None for r in records)
    shipped = without_label(shared_data / "goalstep" / "ego4d_goal_step_test_v2_lemma.jsonl")
    expected = [json.loads(line) for line in shipped]
    ours = [
        {"query": r.query, "query_id": r.query_id, "video_id": r.video_id, "query_type": r.query_type}
        for r in records
    ]
    assert_same_lines(
        dump_lines(ours), dump_lines([{k: v for k, v in row.items() if k != "duration"} for row in expected])
    )


def test_real_goalstep_test_with_shipped_durations_is_reproduced(shared_data):
    shipped = shared_data / "goalstep" / "ego4d_goal_step_test_v2.jsonl"
    durations = read_video_durations(shipped)
    lines = convert_file(shared_data / "goalstep" / "goalstep_test.json", GOALSTEP, durations=durations)
    assert_same_lines(lines, file_lines(shipped))


@pytest.mark.parametrize(("split", "count"), [("train", 9790), ("val", 4436), ("test", 4001)])
def test_real_tacos_is_reproduced_byte_for_byte(shared_data, split, count):
    lines = convert_file(shared_data / "tacos" / "tacos.json", TACOS, split=split)
    assert len(lines) == count
    assert_same_lines(lines, file_lines(shared_data / "tacos" / f"{split}.jsonl"))
