"""``osgnet-bench submit`` end to end: ensembling files into a validated EvalAI submission."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from osgnet_bench.cli import main
from osgnet_bench.predictions import read_predictions

# a raw NLQ test file: clip-1 lasts 100 s, clip-2 50 s; query ann-1/1 has no text
TEST_FILE = {
    "version": "1",
    "videos": [
        {
            "video_uid": "video-A",
            "clips": [
                {"clip_uid": "clip-1", "video_start_sec": 0.0, "video_end_sec": 100.0, "clip_start_sec": 0.0, "clip_end_sec": 100.0,
                 "annotations": [{"annotation_uid": "ann-1", "language_queries": [{"query": "where is the cup?"}, {"query": ""}, {"query": "what did I cut?"}]}]},
                {"clip_uid": "clip-2", "video_start_sec": 0.0, "video_end_sec": 50.0, "clip_start_sec": 0.0, "clip_end_sec": 50.0,
                 "annotations": [{"annotation_uid": "ann-2", "language_queries": [{"query": "who did I meet?"}]}]},
            ],
        }
    ],
}
KEYS = [("clip-1", "ann-1", 0), ("clip-1", "ann-1", 2), ("clip-2", "ann-2", 0)]


def write_preds(path, windows_by_key, scored=True):
    rows = []
    for (clip, annotation, idx), triples in windows_by_key.items():
        row = {"query_id": f"{annotation}_{idx}", "video_id": clip, "windows": [t[:2] for t in triples]}
        if scored:
            row["scores"] = [t[2] for t in triples]
        rows.append(json.dumps(row))
    path.write_text("\n".join(rows) + "\n")
    return str(path)


@pytest.fixture
def files(tmp_path):
    test_file = tmp_path / "nlq_test.json"
    test_file.write_text(json.dumps(TEST_FILE))
    a = {
        KEYS[0]: [[10, 20, 0.9], [30, 40, 0.8], [50, 60, 0.7], [70, 80, 0.6], [90, 100, 0.5], [1, 2, 0.1]],
        KEYS[1]: [[5, 6, 0.9]],
        KEYS[2]: [[40, 60, 0.9], [0, 5, 0.3]],  # ends past the 50 s clip
    }
    b = {
        KEYS[2]: [[41, 61, 0.8], [10, 12, 0.7]],
        KEYS[0]: [[11, 21, 0.85], [100, 110, 0.75], [31, 41, 0.4], [200, 210, 0.3]],
        KEYS[1]: [[5, 6, 0.5], [7, 9, 0.4]],
    }
    return {
        "test": str(test_file),
        "a": write_preds(tmp_path / "a.jsonl", a),
        "b": write_preds(tmp_path / "b.jsonl", b),
        "partial": write_preds(tmp_path / "partial.jsonl", {KEYS[0]: a[KEYS[0]]}),
        "unscored": write_preds(tmp_path / "unscored.jsonl", b, scored=False),
        "out": tmp_path / "sub.json",
    }


def submit(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(["submit", *map(str, args)])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def entries(path):
    data = json.loads(path.read_text())
    return data, {(e["clip_uid"], e["annotation_uid"], e["query_idx"]): e["predicted_times"] for e in data["results"]}


def test_two_files_reference_method(files, capsys):
    code, out, err = submit(capsys, "--track", "nlq", "--pred", files["a"], "--pred", files["b"], "--gt", files["test"], "--out", files["out"])
    assert code == 0, err
    data, by_key = entries(files["out"])
    assert (data["version"], data["challenge"]) == ("1.0", "ego4d_nlq_challenge")
    assert [(e["clip_uid"], e["annotation_uid"], e["query_idx"]) for e in data["results"]] == KEYS  # test-file order
    assert by_key[KEYS[0]] == [[10, 20], [30, 40], [100, 100], [50, 60], [70, 80]]  # [100, 110] clipped to the clip
    assert by_key[KEYS[1]] == [[5, 6], [7, 9], [7, 9], [7, 9], [7, 9]]
    assert by_key[KEYS[2]][0] == [40, 50]
    assert "3 queries x 5 windows" in out and "reference ensemble of 2 files" in out
    assert f"evalai challenge <challenge_id> phase <phase_id> submit --file {files['out']} --large" in out


def test_one_file_keeps_its_ranking_and_fills_ids(files, capsys):
    code, out, _ = submit(capsys, "--track", "nlq", "--pred", files["a"], "--out", files["out"], "--challenge-id", "1629", "--phase-id", "3300")
    assert code == 0
    _, by_key = entries(files["out"])
    assert by_key[KEYS[0]] == [[10, 20], [30, 40], [50, 60], [70, 80], [90, 100]]
    assert by_key[KEYS[2]] == [[40, 60], [0, 5], [0, 5], [0, 5], [0, 5]]  # no test file: no clipping
    assert "evalai challenge 1629 phase 3300 submit" in out and "one file, its own ranking" in out


def test_fusion_with_weights_and_scored_predictions_out(files, capsys, tmp_path):
    scored = tmp_path / "ensembled.jsonl"
    code, _, err = submit(capsys, "--track", "nlq", "--method", "fusion", "--weights", "1,3", "--pred", files["a"], "--pred", files["b"],
                          "--out", files["out"], "--pred-out", scored)
    assert code == 0, err
    _, by_key = entries(files["out"])
    predictions = {p.key: p for p in read_predictions(scored)}
    # query ann-1/2: b's [5, 6] (c = 1.5) fuses with a's [5, 6] (c = 0.9); b's [7, 9] stands alone
    assert by_key[KEYS[1]][:2] == [[5, 6], [7, 9]]
    assert predictions[KEYS[1]].scores[:2].tolist() == pytest.approx([(0.9 + 1.5) / 4, 1.2 / 4])
    assert predictions[KEYS[0]].windows.tolist() == by_key[KEYS[0]]


def test_missing_query_is_refused_and_nothing_is_written(files, capsys):
    code, out, err = submit(capsys, "--track", "nlq", "--pred", files["partial"], "--gt", files["test"], "--out", files["out"])
    assert code == 1 and out == ""
    assert "nothing was written" in err and "missing-query 2" in err
    assert not files["out"].exists()


def test_different_coverage_needs_allow_partial(files, capsys):
    code, _, err = submit(capsys, "--track", "nlq", "--pred", files["a"], "--pred", files["partial"], "--out", files["out"])
    assert code == 1 and "has 3" in err and "has 1" in err and "--allow-partial" in err
    assert not files["out"].exists()
    code, _, err = submit(capsys, "--track", "nlq", "--pred", files["a"], "--pred", files["partial"], "--out", files["out"], "--allow-partial")
    assert code == 0, err
    _, by_key = entries(files["out"])
    assert by_key[KEYS[2]] == [[40, 60], [0, 5], [0, 5], [0, 5], [0, 5]]  # only a predicts it: a's ranking


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "fusion", "--weights", "1"], "1 weights for 2"),
        (["--weights", "1,2"], "only applies to --method fusion"),
        (["--nms-thresholds", "0.5,1.5"], "must lie in [0, 1]"),
    ],
)
def test_bad_options_are_named(files, capsys, extra, message):
    code, _, err = submit(capsys, "--track", "nlq", "--pred", files["a"], "--pred", files["b"], "--out", files["out"], *extra)
    assert code == 1 and message in err and "Traceback" not in err
    assert not files["out"].exists()


def test_files_without_scores_cannot_be_ensembled(files, capsys):
    code, _, err = submit(capsys, "--track", "nlq", "--pred", files["a"], "--pred", files["unscored"], "--out", files["out"])
    assert code == 1 and "no 'scores'" in err


def test_goalstep_uses_its_challenge_and_tacos_needs_one(files, capsys):
    code, _, _ = submit(capsys, "--track", "goalstep", "--pred", files["a"], "--out", files["out"])
    assert code == 0 and json.loads(files["out"].read_text())["challenge"] == "ego4d_goalstep_challenge"
    code, _, err = submit(capsys, "--track", "tacos", "--pred", files["a"], "--out", files["out"])
    assert code == 1 and "--challenge" in err


def test_python_dash_m_runs_the_cli():
    completed = subprocess.run([sys.executable, "-m", "osgnet_bench", "submit", "--help"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0 and "--allow-partial" in completed.stdout


def test_real_nlq_test_file_is_fully_covered(shared_data, capsys, tmp_path):
    from osgnet_bench.annotations.load import load_annotations
    from osgnet_bench.tracks import get_track

    test_file = shared_data / "nlq_v2" / "nlq_test_unannotated.json"
    queries = [r for r in load_annotations(test_file, get_track("nlq")) if r.has_text]
    rows = {r.key: [[1.0 + i, 3.0 + i, 0.9 - 0.1 * i] for i in range(6)] for r in queries}
    first = write_preds(tmp_path / "a.jsonl", rows)
    second = write_preds(tmp_path / "b.jsonl", {key: [[t[0] + 0.5, t[1] + 0.5, t[2]] for t in w] for key, w in rows.items()})
    out = tmp_path / "submission.json"
    code, stdout, err = submit(capsys, "--track", "nlq", "--pred", first, "--pred", second, "--gt", test_file, "--out", out)
    assert code == 0, err
    results = json.loads(out.read_text())["results"]
    assert len(results) == len(queries) == 4004
    assert all(len(entry["predicted_times"]) == 5 for entry in results)
    assert "4004 queries x 5 windows" in stdout
