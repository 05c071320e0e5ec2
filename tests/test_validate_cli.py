"""``osgnet-bench validate`` through the command line: exit codes, text and JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from osgnet_bench.cli import main

DATA = Path(__file__).parent / "data" / "submissions"
GT = str(DATA / "nlq_test_tiny.json")
WINDOWS = [[10.0, 20.0], [30.0, 40.0], [0.0, 4.5], [100.0, 118.0], [50.0, 51.5]]
KEYS = [
    ("clip-1", "ann-1", 0),
    ("clip-1", "ann-1", 2),
    ("clip-1", "ann-2", 0),
    ("clip-2", "ann-3", 0),
    ("clip-2", "ann-3", 1),
]


def submission(keys=KEYS, windows=WINDOWS, challenge="ego4d_nlq_challenge") -> dict:
    results = [
        {"clip_uid": c, "annotation_uid": a, "query_idx": i, "predicted_times": windows} for c, a, i in keys
    ]
    return {"version": "1.0", "challenge": challenge, "results": results}


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def write(tmp_path: Path, data: object, name: str = "submission.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_valid_file_exits_zero(tmp_path, capsys):
    path = write(tmp_path, submission())
    code, out, err = run_cli(["validate", path, "--track", "nlq", "--gt", GT], capsys)
    assert (code, err) == (0, "")
    assert out == (
        f"{path}: VALID for track nlq_v2 (challenge ego4d_nlq_challenge): 5 results, 5 queries expected; "
        "0 errors, 0 warnings\n"
    )


def test_warnings_only_exits_zero(tmp_path, capsys):
    path = write(tmp_path, submission(windows=WINDOWS[:2]))
    code, out, _ = run_cli(["validate", path, "--track", "nlq", "--gt", GT], capsys)
    assert code == 0
    assert "VALID" in out and "0 errors, 5 warnings" in out
    assert "  warning results[0].predicted_times: 2 windows given" in out
    assert out.rstrip().endswith("totals: few-windows 5")


def test_invalid_file_exits_one_with_capped_list(tmp_path, capsys):
    path = write(tmp_path, submission(keys=KEYS[:1], windows=[[5.0, 1.0]] * 5))
    code, out, err = run_cli(["validate", path, "--track", "nlq", "--gt", GT, "--max-problems", "2"], capsys)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"{path}: INVALID for track nlq_v2") and "9 errors, 0 warnings" in lines[0]
    assert (
        lines[1] == "  error   results[0].predicted_times[0]: start 5.0 is after end 1.0; "
        "a reversed window always scores IoU 0 (swap them)"
    )
    assert lines[3] == "  ... 7 more not shown (--max-problems)"
    assert lines[4] == "totals: reversed-window 5, missing-query 4"


def test_json_format(tmp_path, capsys):
    path = write(tmp_path, submission(keys=KEYS[1:]))
    code, out, _ = run_cli(["validate", path, "--track", "nlq", "--gt", GT, "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 1
    assert report["valid"] is False and report["counts"] == {"missing-query": 1}
    assert report["problems"][0]["path"] == "results"
    assert report["problems"][0]["message"].startswith(
        "query (clip_uid 'clip-1', annotation_uid 'ann-1', query_idx 0) is missing"
    )


def test_challenge_option(tmp_path, capsys):
    path = write(tmp_path, submission(challenge="ego4d_nlq_challenge_2026"))
    assert run_cli(["validate", path, "--track", "nlq"], capsys)[0] == 1
    code, out, _ = run_cli(
        ["validate", path, "--track", "nlq", "--challenge", "ego4d_nlq_challenge_2026"], capsys
    )
    assert code == 0 and "(challenge ego4d_nlq_challenge_2026)" in out


def test_syntax_error_names_line_and_column(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text('{"version": "1.0",\n  "results": [[1, 2] [3, 4]]}', encoding="utf-8")
    code, out, _ = run_cli(["validate", str(path), "--track", "goalstep"], capsys)
    assert code == 1
    assert "  error   $: invalid JSON at line 2, column 22: Expecting ',' delimiter" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--track", "nlq"], "no such file."),
        (["--track", "tacos"], "track 'tacos' has no EvalAI challenge"),
    ],
)
def test_user_errors_are_one_line_without_traceback(tmp_path, capsys, args, message):
    path = str(tmp_path / "missing.json") if "no such" in message else write(tmp_path, submission())
    code, out, err = run_cli(["validate", path, *args], capsys)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_unknown_track_is_a_usage_error_naming_the_choices(tmp_path, capsys):
    code, out, err = run_cli(["validate", write(tmp_path, submission()), "--track", "charades"], capsys)
    assert code == 2 and out == "" and "'charades' is not one of" in err and "Traceback" not in err


def test_console_script_exit_codes(tmp_path):
    good = write(tmp_path, submission(), "good.json")
    bad = write(tmp_path, {"version": 1.0, "challenge": "ego4d_nlq_challenge", "results": []}, "bad.json")
    command = [
        sys.executable,
        "-c",
        "from osgnet_bench.cli import main; main()",
        "validate",
        "--track",
        "nlq",
    ]
    assert subprocess.run([*command, good], capture_output=True).returncode == 0
    result = subprocess.run([*command, bad], capture_output=True, text=True)
    assert result.returncode == 1
    assert '  error   version: version must be the string "1.0", got number 1.0' in result.stdout
    assert "Traceback" not in result.stderr


def test_gt_with_a_repeated_query_names_the_gt_file(tmp_path, capsys):
    line = '{"query": "cut", "query_id": "video-G_0", "duration": 50.0, "video_id": "video-G"}\n'
    gt = tmp_path / "gt.jsonl"
    gt.write_text(line * 2, encoding="utf-8")
    path = write(tmp_path, submission(keys=[("video-G", "video-G", 0)], challenge="ego4d_goalstep_challenge"))
    code, out, err = run_cli(["validate", path, "--track", "goalstep", "--gt", str(gt)], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {gt}: query (clip 'video-G', annotation 'video-G', index 0) appears twice")
