"""``osgnet-bench evaluate`` end to end on eval.md §6's tiny example, in every input format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from osgnet_bench.cli import main

# (clip, annotation, GT windows of each language query; None = textless entry)
TINY_GT = {
    ("clip-1", "ann-1"): [(10, 20), (30, 40), (50, 60), None, (100, 110)],
    ("clip-2", "ann-2"): [(5, 15), (200, 230), (300, 310)],
}
FILLER = [[0, 1], [2, 3], [4, 5], [6, 7]]
# 6 of the 7 text queries; ("clip-2", "ann-2", 2) and the textless entry are left out.
TINY_PRED = {
    ("clip-1", "ann-1", 0): [[10, 20], *FILLER],  # exact match
    ("clip-1", "ann-1", 1): [[30, 34], *FILLER],  # IoU 0.4 at rank 1
    ("clip-1", "ann-1", 2): [[0, 5], [100, 120], [50, 60], [70, 90], [200, 201]],  # hit only at rank 3
    ("clip-1", "ann-1", 4): [[100, 105], *FILLER],  # IoU exactly 0.5
    ("clip-2", "ann-2", 0): [[100, 110], [5, 15]],  # only 2 windows
    ("clip-2", "ann-2", 1): [[230, 200], *FILLER],  # a reversed window
}
EXPECTED = {"R1@0.3": 50.00, "R1@0.5": 16.67, "R5@0.3": 83.33, "R5@0.5": 50.00, "mIoU": 31.67}


def write_raw_gt(path):
    clips = []
    for (clip, annotation), windows in TINY_GT.items():
        queries = []
        for i, window in enumerate(windows):
            entry = {"clip_start_sec": 70.0, "clip_end_sec": 80.0} if window is None else {
                "clip_start_sec": float(window[0]), "clip_end_sec": float(window[1]), "query": f"query {i}?"}
            queries.append(entry)
        clips.append({
            "clip_uid": clip, "video_start_sec": 0.0, "video_end_sec": 480.0, "clip_start_sec": 0.0,
            "clip_end_sec": 480.0, "annotations": [{"annotation_uid": annotation, "language_queries": queries}],
        })
    videos = [{"video_uid": "vid-A", "split": "val", "clips": clips}]
    path.write_text(json.dumps({"version": "2.0", "videos": videos}))
    return path


def write_jsonl_gt(path):
    rows = [
        {"query": f"query {i}?", "query_id": f"{annotation}_{i}", "duration": 480.0, "video_id": clip,
         "query_type": "nlq", "timestamps": [list(window)]}
        for (clip, annotation), windows in TINY_GT.items()
        for i, window in enumerate(windows)
        if window is not None
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return path


def write_jsonl_pred(path):
    rows = [{"query_id": f"{a}_{i}", "video_id": c, "windows": w, "scores": list(range(len(w), 0, -1))}
            for (c, a, i), w in TINY_PRED.items()]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


def write_submission(path):
    results = [{"clip_uid": c, "annotation_uid": a, "query_idx": i, "predicted_times": [[s, e, 0.5] for s, e in w]}
               for (c, a, i), w in TINY_PRED.items()]
    header = {"version": "1.0", "challenge": "ego4d_nlq_challenge"}
    path.write_text(json.dumps({**header, "results": results}, indent=2))
    return path


@pytest.fixture
def tiny(tmp_path):
    return {
        "raw": write_raw_gt(tmp_path / "gt.json"),
        "jsonl": write_jsonl_gt(tmp_path / "gt.jsonl"),
        "pred": write_jsonl_pred(tmp_path / "pred.jsonl"),
        "submission": write_submission(tmp_path / "submission.json"),
    }


def tiny_args(tiny):
    return ["--track", "nlq", "--gt", tiny["raw"], "--pred", tiny["pred"]]


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", *map(str, args)])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.mark.parametrize("gt", ["raw", "jsonl"])
@pytest.mark.parametrize("pred", ["pred", "submission"])
def test_tiny_example_matches_the_official_evaluator(tiny, capsys, gt, pred):
    code, out, err = run(capsys, "--track", "nlq", "--gt", tiny[gt], "--pred", tiny[pred], "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["track"] == "nlq_v2"
    assert {k: round(v, 2) for k, v in report["metrics"].items() if k != "rank_metric"} == EXPECTED
    assert report["metrics"]["rank_metric"] == pytest.approx((50.0 + 100 / 6) / 2)
    assert list(report["metrics"]) == ["R1@0.3", "R1@0.5", "R5@0.3", "R5@0.5", "mIoU", "rank_metric"]
    assert (report["num_evaluated"], report["num_missing"], report["num_gt"]) == (6, 1, 7)
    assert "warning: 1 of 7 ground-truth queries have no prediction" in err
    assert "(clip 'clip-2', annotation 'ann-2', query_idx 2)" in err


def test_table_names_the_ranking_metric_and_counts(tiny, capsys):
    code, out, _ = run(capsys, *tiny_args(tiny))
    assert code == 0
    for text in ("50.00", "16.67", "83.33", "31.67", "33.33"):
        assert text in out
    assert "track nlq_v2; ranking metric rank_metric = mean(R1@0.3, R1@0.5); IoU rule: IoU > t" in out
    assert "n = 6 queries evaluated; 1 of 7 ground-truth queries missing" in out


def test_markdown_and_csv(tiny, capsys):
    _, markdown, _ = run(capsys, *tiny_args(tiny), "--format", "markdown")
    header, rule, row, blank, footer = markdown.strip().splitlines()[:5]
    assert header.split()[:2] == ["|", "R1@0.3"] and rule.startswith("|--") and " 16.67 |" in row
    assert blank == "" and footer.startswith("track nlq_v2; ")
    _, text, _ = run(capsys, *tiny_args(tiny), "--format", "csv")
    (parsed,) = list(csv.DictReader(io.StringIO(text)))
    assert float(parsed["R5@0.3"]) == pytest.approx(500 / 6)
    counts = (parsed["ranked_by"], parsed["evaluated"], parsed["missing"], parsed["gt"])
    assert counts == ("mean(R1@0.3, R1@0.5)", "6", "1", "7")


def test_iou_rule_ge_counts_the_tie(tiny, capsys):
    _, out, _ = run(capsys, *tiny_args(tiny), "--format", "json", "--iou-rule", "ge")
    assert round(json.loads(out)["metrics"]["R1@0.5"], 2) == 33.33


def test_extra_thresholds_and_k(tiny, capsys):
    _, out, _ = run(capsys, "--track", "nlq", "--gt", tiny["raw"], "--pred", tiny["submission"], "--format", "json",
                    "--thresholds", "0.3, 0.5,0.7", "--topk", "1,3,5")
    metrics = json.loads(out)["metrics"]
    assert list(metrics)[:4] == ["R1@0.3", "R1@0.5", "R1@0.7", "R3@0.3"]
    assert round(metrics["R3@0.3"], 2) == 83.33 and round(metrics["R1@0.7"], 2) == 16.67


def test_submission_header_is_not_checked_by_evaluate(tiny, tmp_path, capsys):
    data = json.loads(tiny["submission"].read_text())
    data.update(version=1.0, challenge="ego4d_goalstep_challenge")
    other = tmp_path / "other_header.json"
    other.write_text(json.dumps(data))
    code, out, _ = run(capsys, "--track", "nlq", "--gt", tiny["raw"], "--pred", other, "--format", "json")
    assert code == 0 and round(json.loads(out)["metrics"]["R5@0.3"], 2) == 83.33


def test_strict_refuses_missing_queries(tiny, capsys):
    code, out, err = run(capsys, "--track", "nlq", "--gt", tiny["jsonl"], "--pred", tiny["pred"], "--strict")
    assert code == 1 and out == ""
    assert "1 of the 7 queries" in err and "Traceback" not in err


def test_errors_are_one_clean_paragraph(tiny, tmp_path, capsys):
    duplicated = tmp_path / "dup.jsonl"
    duplicated.write_text(tiny["pred"].read_text() * 2)
    code, _, err = run(capsys, "--track", "nlq", "--gt", tiny["raw"], "--pred", duplicated)
    assert code == 1 and "6 queries are predicted more than once (6 extra entries)" in err
    assert f"The first one is at {duplicated}: line 1 and {duplicated}: line 7." in err
    code, _, err = run(capsys, "--track", "nlq", "--gt", tmp_path / "absent.json", "--pred", tiny["pred"])
    assert code == 1 and "absent.json: no such file" in err
    code, _, err = run(capsys, *tiny_args(tiny), "--topk", "1,five")
    assert code == 1 and "--topk: expected comma-separated int values" in err
    code, _, err = run(capsys, *tiny_args(tiny), "--thresholds", "0.7")
    assert code == 1 and "needs R1@0.3, R1@0.5" in err
    code, _, _ = run(capsys, "--track", "bogus", "--gt", tiny["raw"], "--pred", tiny["pred"])
    assert code == 2


def test_unannotated_ground_truth_is_refused(tiny, tmp_path, capsys):
    data = json.loads(tiny["raw"].read_text())
    for clip in data["videos"][0]["clips"]:
        for query in clip["annotations"][0]["language_queries"]:
            query.pop("clip_start_sec"), query.pop("clip_end_sec")
    test_file = tmp_path / "test_unannotated.json"
    test_file.write_text(json.dumps(data))
    code, _, err = run(capsys, "--track", "nlq", "--gt", test_file, "--pred", tiny["pred"])
    assert code == 1 and "has no ground-truth windows" in err
