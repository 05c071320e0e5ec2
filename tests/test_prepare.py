"""``osgnet-bench prepare annotations`` end to end: output files, summaries and error messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from osgnet_bench.cli import main

NLQ_RAW = {
    "version": "2.0",
    "videos": [{"video_uid": "vid-A", "clips": [{
        "clip_uid": "clip-1", "video_start_sec": 0.0, "video_end_sec": 480.0,
        "annotations": [{"annotation_uid": "ann-1", "language_queries": [
            {"clip_start_sec": 10.0, "clip_end_sec": 20.0, "query": "where did I put the knife?"},
            {"clip_start_sec": 30.0, "clip_end_sec": 41.5},
            {"clip_start_sec": 50.0, "clip_end_sec": 52.5, "query": "what did I eat?"},
        ]}],
    }]}],
}
TACOS_RAW = {
    split: {"s1": {"fps": 29.4, "num_frames": 294, "duration": 10.0, "annotations": [
        {"sentence": f"He did {split}", "segment(frame)": [0, 29], "segment": [0.0, 0.99]},
    ]}}
    for split in ("train", "val")
}
GOALSTEP_TEST_RAW = {
    "split": "test",
    "videos": [{"video_uid": "t1", "step_segments": [{"step_description": "stir", "segment_count": 1}]}],
}


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the console entry point in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def write(tmp_path, name: str, value) -> str:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
    return str(path)


def test_prepare_nlq_writes_reference_lines_and_a_summary(tmp_path, capsys):
    raw = write(tmp_path, "nlq_val.json", NLQ_RAW)
    out = tmp_path / "out" / "val.jsonl"
    code, stdout, stderr = run_cli(capsys, "prepare", "annotations", "--track", "nlq", "--raw", raw, "--out", str(out))
    assert code == 0, stderr
    assert stdout.strip() == f"wrote 2 queries (1 textless skipped) from 1 video to {out}"
    assert out.read_text() == (
        '{"query": "where did I put the knife?", "query_id": "ann-1_0", "duration": 480.0, '
        '"video_id": "clip-1", "query_type": "nlq", "timestamps": [[10.0, 20.0]]}\n'
        '{"query": "what did I eat?", "query_id": "ann-1_2", "duration": 480.0, '
        '"video_id": "clip-1", "query_type": "nlq", "timestamps": [[50.0, 52.5]]}'
    )
    assert [p.name for p in out.parent.iterdir()] == ["val.jsonl"]


def test_prepare_tacos_split(tmp_path, capsys):
    raw = write(tmp_path, "tacos.json", TACOS_RAW)
    out = tmp_path / "val.jsonl"
    code, stdout, _ = run_cli(
        capsys, "prepare", "annotations", "--track", "tacos", "--raw", raw, "--out", str(out), "--split", "val"
    )
    assert code == 0
    assert json.loads(out.read_text()) == {
        "query": "He did val", "query_id": "s1_0", "duration": 10.0, "video_id": "s1",
        "query_type": "tacos", "timestamps": [[0.0, 0.99]],
    }


def test_prepare_goalstep_test_with_durations(tmp_path, capsys):
    raw = write(tmp_path, "goalstep_test.json", GOALSTEP_TEST_RAW)
    durations = write(tmp_path, "durations.json", {"t1": 470.04})
    out = tmp_path / "test.jsonl"
    code, stdout, _ = run_cli(
        capsys, "prepare", "annotations", "--track", "goalstep", "--raw", raw, "--out", str(out),
        "--durations", durations,
    )
    assert code == 0
    assert out.read_text() == (
        '{"query": "stir", "query_id": "t1_0", "duration": 470.04, "video_id": "t1", "query_type": "goal_step"}'
    )


@pytest.mark.parametrize(
    ("files", "options", "message"),
    [
        ({"raw.json": '{"something": 1}'}, [], "unrecognised annotation format"),
        ({"raw.json": NLQ_RAW}, ["--track", "tacos"],
         "is a raw Ego4D NLQ file (query type 'nlq'), which does not belong to track 'tacos'"),
        ({"raw.json": TACOS_RAW}, ["--track", "tacos"],
         "holds several splits ('train', 'val'); choose one with --split"),
        ({"raw.json": TACOS_RAW}, ["--track", "tacos", "--split", "test"],
         "has no split 'test'; it holds 'train', 'val'"),
        ({"raw.json": NLQ_RAW}, ["--split", "val"], "--split applies only to a TACoS JSON"),
        ({"raw.json": GOALSTEP_TEST_RAW}, ["--track", "goalstep"],
         "the GoalStep test release carries no video durations"),
        ({"raw.json": NLQ_RAW, "d.json": {"a": 1}}, ["--durations", "{d.json}"],
         "--durations and --video-groups apply only to the GoalStep test release"),
        ({"raw.json": GOALSTEP_TEST_RAW, "d.json": {"other": 1.0}}, ["--track", "goalstep", "--durations", "{d.json}"],
         "no duration for 1 of the 1 test videos (t1)"),
        ({"raw.json": '{"videos": [{"clips": [{"clip_uid": "c"}]}]}'}, [],
         "raw.json: videos[0].clips[0]: missing key 'video_end_sec'"),
        ({"raw.json": '{"videos": [1, 2'}, [], "raw.json: invalid JSON at line 1"),
        ({"raw.jsonl": '{"query_id": "a_0"}'}, [], "is already a jsonl annotation file"),
    ],
)
def test_prepare_errors_are_one_clear_message(tmp_path, capsys, files, options, message):
    paths = {name: write(tmp_path, name, value) for name, value in files.items()}
    raw = next(path for name, path in paths.items() if name.startswith("raw"))
    options = [paths[o[1:-1]] if o.startswith("{") else o for o in options]
    if "--track" not in options:
        options = ["--track", "nlq", *options]
    out = tmp_path / "out.jsonl"
    code, stdout, stderr = run_cli(capsys, "prepare", "annotations", "--raw", raw, "--out", str(out), *options)
    assert code == 1
    assert stderr.startswith("error: ") and message in stderr
    assert "Traceback" not in stderr + stdout
    assert not out.exists()


def test_prepare_unknown_track_is_a_usage_error(tmp_path, capsys):
    raw = write(tmp_path, "raw.json", NLQ_RAW)
    out = tmp_path / "out.jsonl"
    code, _, stderr = run_cli(capsys, "prepare", "annotations", "--track", "nlq_v3", "--raw", raw, "--out", str(out))
    assert code == 2 and "'nlq_v3' is not one of" in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_prepare_missing_raw_file_is_a_usage_error(tmp_path, capsys):
    code, _, stderr = run_cli(
        capsys, "prepare", "annotations", "--track", "nlq", "--raw", str(tmp_path / "nope.json"),
        "--out", str(tmp_path / "o.jsonl"),
    )
    assert code == 2 and "does not exist" in stderr


def test_prepare_through_the_installed_command(tmp_path):
    raw = write(tmp_path, "tacos.json", TACOS_RAW)
    result = subprocess.run(
        [sys.executable, "-c", "from osgnet_bench.cli import main; main()", "prepare", "annotations",
         "--track", "tacos", "--raw", raw, "--out", str(tmp_path / "o.jsonl")],
        capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "choose one with --split" in result.stderr
    assert "Traceback" not in result.stderr


def test_prepare_real_goalstep_val(shared_data, tmp_path, capsys):
    out = tmp_path / "val.jsonl"
    code, stdout, _ = run_cli(
        capsys, "prepare", "annotations", "--track", "goalstep",
        "--raw", str(shared_data / "goalstep" / "goalstep_valid.json"), "--out", str(out),
    )
    assert code == 0
    assert stdout.strip() == f"wrote 7696 queries (0 textless skipped) from 134 videos to {out}"
    assert out.read_bytes() == (shared_data / "goalstep" / "ego4d_goal_step_val_v2.jsonl").read_bytes()


def test_prepare_real_nlq_test(shared_data, tmp_path, capsys):
    out = tmp_path / "test.jsonl"
    code, stdout, _ = run_cli(
        capsys, "prepare", "annotations", "--track", "nlq",
        "--raw", str(shared_data / "nlq_v2" / "nlq_test_unannotated.json"), "--out", str(out),
    )
    assert code == 0
    assert stdout.strip() == f"wrote 4004 queries (1 textless skipped) from 333 videos to {out}"
