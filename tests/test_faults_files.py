"""Faults around the leaderboard files, through the CLI: outputs that are inputs, the umask, a full
disk, unwritable outputs, and JSON that no valid file holds (nesting, huge integers, booleans,
bytes that are not UTF-8, a submission without results, a predictions file given to validate).

Every case ends in exit 1 with one message that names the culprit, no traceback and no "internal
error", and leaves every file that existed before byte-identical.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from osgnet_bench.cli import main

CLIP, ANNOTATION = "clip-1", "ann-1"
GT_WINDOWS = [(10.0, 20.0), (30.0, 40.0), (50.0, 60.0)]


def raw_gt(windows: list[tuple[object, object]] = GT_WINDOWS) -> dict:
    """A raw Ego4D NLQ file with one clip of 100 s and one annotation with these query windows."""
    queries = [{"query": f"query {i}?", "clip_start_sec": s, "clip_end_sec": e} for i, (s, e) in enumerate(windows)]
    clip = {"clip_uid": CLIP, "video_start_sec": 0.0, "video_end_sec": 100.0, "clip_start_sec": 0.0,
            "clip_end_sec": 100.0, "annotations": [{"annotation_uid": ANNOTATION, "language_queries": queries}]}
    return {"version": "2.0", "videos": [{"video_uid": "video-A", "clips": [clip]}]}


def prediction_rows(shift: float = 0.0) -> list[dict]:
    """A scored predictions jsonl row for each GT query: the GT window first, then fillers."""
    return [
        {"query_id": f"{ANNOTATION}_{i}", "video_id": CLIP,
         "windows": [[s + shift, e + shift], [0.0, 5.0], [70.0, 90.0]], "scores": [0.9, 0.5, 0.1]}
        for i, (s, e) in enumerate(GT_WINDOWS)
    ]


def write_rows(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "gt.json").write_text(json.dumps(raw_gt()))
    return {
        "gt": str(tmp_path / "gt.json"),
        "a": write_rows(tmp_path / "a.jsonl", prediction_rows()),
        "b": write_rows(tmp_path / "b.jsonl", prediction_rows(shift=1.0)),
    }


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (symlinks as their target's bytes) by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    """Run ``osgnet-bench ARGS`` in this process: (exit code, stdout + stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out + err


def assert_refused(code: int, output: str, *culprits: str) -> None:
    assert code == 1, output
    assert "Traceback" not in output and "internal error" not in output, output
    assert len([line for line in output.splitlines() if line.startswith("error:")]) == 1, output
    for culprit in culprits:
        assert culprit in output, (culprit, output)


@pytest.fixture
def umask() -> Iterator[None]:
    """Restores the process umask after a test that sets it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


# ------------------------------------------------------------------ outputs that are inputs


@pytest.mark.parametrize("spelling", ["same", "dot-slash", "symlink", "parent"])
def test_submit_out_that_is_a_pred_is_refused(files, tmp_path, capsys, monkeypatch, spelling):
    monkeypatch.chdir(tmp_path)
    if spelling == "symlink":
        (tmp_path / "link.jsonl").symlink_to(tmp_path / "b.jsonl")
    out = {"same": files["b"], "dot-slash": "./b.jsonl", "symlink": "link.jsonl",
           "parent": f"../{tmp_path.name}/b.jsonl"}[spelling]
    before = snapshot(tmp_path)
    code, output = cli(capsys, "submit", "--track", "nlq", "--pred", "a.jsonl", "--pred", files["b"], "--out", out)
    assert_refused(code, output, f"--out {out}", "--pred", "b.jsonl")
    assert snapshot(tmp_path) == before


def test_submit_out_that_is_the_test_file_is_refused(files, tmp_path, capsys):
    before = snapshot(tmp_path)
    code, output = cli(capsys, "submit", "--track", "nlq", "--pred", files["a"], "--gt", files["gt"],
                       "--out", files["gt"])
    assert_refused(code, output, f"--out {files['gt']}", "--gt")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("target", ["out", "pred"])
def test_submit_pred_out_that_is_the_out_or_a_pred_is_refused(files, tmp_path, capsys, target):
    (tmp_path / "sub.json").write_text("an earlier submission\n")
    before = snapshot(tmp_path)
    out = str(tmp_path / "sub.json")
    pred_out = out if target == "out" else f"{tmp_path}/./a.jsonl"
    code, output = cli(capsys, "submit", "--track", "nlq", "--pred", files["a"], "--pred", files["b"], "--out", out,
                       "--pred-out", pred_out)
    assert_refused(code, output, f"--pred-out {pred_out}", "--out" if target == "out" else "--pred")
    assert snapshot(tmp_path) == before


def test_writing_over_another_file_is_allowed_and_said(files, tmp_path, capsys):
    out, pred_out = tmp_path / "sub.json", tmp_path / "ensemble.jsonl"
    out.write_text("an earlier submission\n")
    pred_out.write_text("earlier predictions\n")
    code, output = cli(capsys, "submit", "--track", "nlq", "--pred", files["a"], "--pred", files["b"], "--out", out,
                       "--pred-out", pred_out)
    assert code == 0, output
    assert f"overwriting {out}" in output and f"overwriting {pred_out}" in output
    assert json.loads(out.read_text())["challenge"] == "ego4d_nlq_challenge"


# ------------------------------------------------------------------ permissions: the umask


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_outputs_follow_the_umask(files, tmp_path, capsys, umask, mask, expected):
    os.umask(mask)
    out, pred_out, jsonl = tmp_path / "sub.json", tmp_path / "ensemble.jsonl", tmp_path / "gt_converted.jsonl"
    code, output = cli(capsys, "submit", "--track", "nlq", "--pred", files["a"], "--pred", files["b"], "--out", out,
                       "--pred-out", pred_out)
    assert code == 0, output
    code, output = cli(capsys, "prepare", "annotations", "--track", "nlq", "--raw", files["gt"], "--out", jsonl)
    assert code == 0, output
    assert (mode(out), mode(pred_out), mode(jsonl)) == (expected, expected, expected)


def test_a_replaced_file_keeps_its_mode(files, tmp_path, capsys, umask):
    out = tmp_path / "sub.json"
    out.write_text("old\n")
    os.chmod(out, 0o640)
    code, output = cli(capsys, "submit", "--track", "nlq", "--pred", files["a"], "--out", out)
    assert code == 0, output
    assert mode(out) == 0o640 and out.read_text() != "old\n"


# ------------------------------------------------------------------ a full disk, an unwritable output


def test_full_disk_during_the_submission_write(files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sub.json"
    out.write_text("the submission of yesterday\n")
    before = snapshot(tmp_path)

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    code, output = cli(capsys, "submit", "--track", "nlq", "--pred", files["a"], "--out", out)
    assert_refused(code, output, str(out), "No space left on device", "unchanged")
    assert snapshot(tmp_path) == before  # the old file as it was, no temporary file left


def test_a_write_the_system_refuses_midway(files, tmp_path):
    """A file-size limit makes the operating system refuse the write itself (EFBIG), as a full
    disk would (ENOSPC), in a separate process."""
    rows = [{"query_id": f"{ANNOTATION}_{i}", "video_id": CLIP, "windows": [[1.5, 2.5]] * 5} for i in range(300)]
    pred = write_rows(tmp_path / "many.jsonl", rows)
    out = tmp_path / "sub.json"
    out.write_text("old\n")
    before = snapshot(tmp_path)
    limit = len(Path(pred).read_bytes()) // 4

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "osgnet_bench", "submit", "--track", "nlq", "--pred", pred, "--out", str(out)],
        capture_output=True, text=True, preexec_fn=small_files, check=False,
    )
    assert_refused(done.returncode, done.stdout + done.stderr, str(out), "could not be written")
    assert snapshot(tmp_path) == before


def test_an_out_under_a_file_is_refused_before_reading(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a folder\n")
    before = snapshot(tmp_path)
    out = tmp_path / "notes.txt" / "sub.json"
    # the --pred file does not exist: the output is checked first, so the message is about --out
    code, output = cli(capsys, "submit", "--track", "nlq", "--pred", tmp_path / "absent.jsonl", "--out", out)
    assert_refused(code, output, f"--out {out}", "is a file")
    code, output = cli(capsys, "compare", "--track", "nlq", "--gt", tmp_path / "absent.json",
                       tmp_path / "absent.jsonl", "--plot", out)
    assert_refused(code, output, f"--plot {out}", "is a file")
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_an_out_in_a_read_only_folder_is_refused(files, tmp_path, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, output = cli(capsys, "submit", "--track", "nlq", "--pred", files["a"], "--out", folder / "sub.json")
    finally:
        folder.chmod(0o700)
    assert_refused(code, output, str(folder), "not writable")


# ------------------------------------------------------------------ JSON that no valid file holds


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_json_is_refused(files, tmp_path, capsys):
    nested_windows = tmp_path / "nested.jsonl"
    nested_windows.write_text(json.dumps(prediction_rows()[0]) + "\n"
                              '{"query_id": "ann-1_1", "video_id": "clip-1", "windows": ' + deep(100_000) + "}\n")
    nested_single_line = tmp_path / "nested_single_line.jsonl"
    nested_single_line.write_text('{"query_id": "ann-1_0", "video_id": "clip-1", "windows": ' + deep(100_000) + "}")
    nested_submission = tmp_path / "nested_submission.json"
    nested_submission.write_text('{"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": '
                                 + deep(100_000) + "}")
    nested_gt = tmp_path / "nested_gt.json"
    nested_gt.write_text('{"version": "2.0", "videos": ' + deep(100_000) + "}")
    before = snapshot(tmp_path)
    code, output = cli(capsys, "evaluate", "--track", "nlq", "--gt", files["gt"], "--pred", nested_windows)
    assert_refused(code, output, f"{nested_windows}: line 2", "nested")
    code, output = cli(capsys, "evaluate", "--track", "nlq", "--gt", files["gt"], "--pred", nested_single_line)
    assert_refused(code, output, str(nested_single_line), "nested")
    code, output = cli(capsys, "evaluate", "--track", "nlq", "--gt", files["gt"], "--pred", nested_submission)
    assert_refused(code, output, str(nested_submission), "nested")
    code, output = cli(capsys, "evaluate", "--track", "nlq", "--gt", nested_gt, "--pred", files["a"])
    assert_refused(code, output, str(nested_gt), "nested")
    code, output = cli(capsys, "validate", nested_submission, "--track", "nlq")
    assert code == 1 and "nested" in output and "Traceback" not in output and "internal error" not in output
    assert snapshot(tmp_path) == before


def test_integers_of_thousands_of_digits_are_refused(files, tmp_path, capsys):
    huge = "9" * 5000
    pred = tmp_path / "huge.jsonl"
    pred.write_text('{"query_id": "ann-1_0", "video_id": "clip-1", "windows": [[0, ' + huge + "]]}\n")
    gt = tmp_path / "huge_gt.json"
    gt.write_text(json.dumps(raw_gt()).replace("20.0", huge, 1))
    submission = tmp_path / "huge_submission.json"
    entry = '{"clip_uid": "clip-1", "annotation_uid": "ann-1", "query_idx": ' + huge + ', "predicted_times": [[1, 2]]}'
    submission.write_text('{"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": [' + entry + "]}")
    before = snapshot(tmp_path)
    code, output = cli(capsys, "evaluate", "--track", "nlq", "--gt", files["gt"], "--pred", pred)
    assert_refused(code, output, f"{pred}: line 1: 'windows'", "finite")
    code, output = cli(capsys, "evaluate", "--track", "nlq", "--gt", gt, "--pred", files["a"])
    assert_refused(code, output, str(gt), "clip_end_sec", "finite number")
    code, output = cli(capsys, "evaluate", "--track", "nlq", "--gt", files["gt"], "--pred", submission)
    assert_refused(code, output, f"{submission}: results[0].query_idx")
    code, output = cli(capsys, "validate", submission, "--track", "nlq")
    assert code == 1 and "query_idx" in output and "Traceback" not in output and "internal error" not in output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["jsonl", "submission"])
def test_booleans_are_not_times(files, tmp_path, capsys, kind):
    rows = prediction_rows()
    rows[1]["windows"][0] = [True, 40.0]  # read as [1.0, 40.0] before: a hit that is not one
    path = tmp_path / f"pred.{kind}"
    if kind == "jsonl":
        write_rows(path, rows)
        where = f"{path}: line 2: 'windows'"
    else:
        results = [{"clip_uid": r["video_id"], "annotation_uid": ANNOTATION, "query_idx": i,
                    "predicted_times": r["windows"]} for i, r in enumerate(rows)]
        path.write_text(json.dumps({"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": results}))
        where = f"{path}: results[1].predicted_times"
    before = snapshot(tmp_path)
    code, output = cli(capsys, "evaluate", "--track", "nlq", "--gt", files["gt"], "--pred", path)
    assert_refused(code, output, where, "true/false")
    code, output = cli(capsys, "submit", "--track", "nlq", "--pred", path, "--out", tmp_path / "sub.json")
    assert_refused(code, output, where, "true/false")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["evaluate", "validate", "submit"])
def test_ground_truth_that_is_not_utf8_is_refused(files, tmp_path, capsys, command):
    gt = tmp_path / "latin1_gt.json"
    gt.write_bytes(json.dumps(raw_gt()).replace("query 1?", "caf\u00e9?").encode("latin-1"))
    submission = tmp_path / "sub.json"
    code, output = cli(capsys, "submit", "--track", "nlq", "--pred", files["a"], "--out", submission)
    assert code == 0, output
    before = snapshot(tmp_path)
    arguments = {
        "evaluate": ["evaluate", "--track", "nlq", "--gt", gt, "--pred", files["a"]],
        "validate": ["validate", submission, "--track", "nlq", "--gt", gt],
        "submit": ["submit", "--track", "nlq", "--pred", files["a"], "--gt", gt, "--out", tmp_path / "new.json"],
    }[command]
    code, output = cli(capsys, *arguments)
    assert_refused(code, output, str(gt), "not UTF-8")
    assert snapshot(tmp_path) == before


def test_a_submission_without_results_is_named(files, tmp_path, capsys):
    path = tmp_path / "sub.json"
    path.write_text(json.dumps({"version": "1.0", "challenge": "ego4d_nlq_challenge", "result": []}, indent=2))
    before = snapshot(tmp_path)
    code, output = cli(capsys, "evaluate", "--track", "nlq", "--gt", files["gt"], "--pred", path)
    assert_refused(code, output, str(path), "without 'results'")
    assert "query_id" not in output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("lines", [3, 1])
def test_validate_given_a_predictions_jsonl_says_to_run_submit(files, tmp_path, capsys, lines):
    path = tmp_path / "pred.jsonl"
    write_rows(path, prediction_rows()[:lines])
    before = snapshot(tmp_path)
    code, output = cli(capsys, "validate", path, "--track", "nlq")
    assert_refused(code, output, str(path), "predictions jsonl", "osgnet-bench submit --track nlq_v2")
    assert snapshot(tmp_path) == before
