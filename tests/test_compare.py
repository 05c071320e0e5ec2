"""``osgnet-bench compare``: metrics per run, best marks, deltas, breakdowns, every format, the plot."""

from __future__ import annotations

import csv
import io
import json
import sys

import pytest

from osgnet_bench.breakdown import length_bucket, length_labels
from osgnet_bench.cli import main
from osgnet_bench.runs import is_checkpoint, run_names

# (clip, annotation) -> [(GT window, template)]; lengths 1, 4, 20, 90 and 7 seconds
GT = {
    ("clip-1", "ann-1"): [((10, 11), "T1"), ((20, 24), "T1"), ((40, 60), "T2"), ((100, 190), "T2")],
    ("clip-2", "ann-2"): [((5, 12), None)],
}
RUN_A = {  # R1 3/5 hits, R5 4/5, top-1 IoUs 1, 0, 1, 0, 1
    ("clip-1", "ann-1", 0): [[10, 11]],
    ("clip-1", "ann-1", 1): [[0, 2], [20, 24]],
    ("clip-1", "ann-1", 2): [[40, 60]],
    ("clip-1", "ann-1", 3): [[0, 5]],
    ("clip-2", "ann-2", 0): [[5, 12]],
}
RUN_B = {  # 4 queries predicted, 3 hits
    ("clip-1", "ann-1", 0): [[0, 1]],
    ("clip-1", "ann-1", 1): [[20, 24]],
    ("clip-1", "ann-1", 2): [[40, 60]],
    ("clip-1", "ann-1", 3): [[100, 190]],
}


def write_raw_gt(path, with_templates=True):
    clips = []
    for (clip, annotation), queries in GT.items():
        entries = []
        for i, ((start, end), template) in enumerate(queries):
            entry = {"clip_start_sec": float(start), "clip_end_sec": float(end), "query": f"query {i}?"}
            if template and with_templates:
                entry["template"] = template
            entries.append(entry)
        clips.append({"clip_uid": clip, "video_start_sec": 0.0, "video_end_sec": 300.0, "clip_start_sec": 0.0,
                      "clip_end_sec": 300.0, "annotations": [{"annotation_uid": annotation, "language_queries": entries}]})
    path.write_text(json.dumps({"version": "2.0", "videos": [{"video_uid": "video-A", "clips": clips}]}))
    return str(path)


def write_run(path, windows_by_key):
    rows = [{"query_id": f"{a}_{i}", "video_id": c, "windows": w, "scores": [1.0] * len(w)} for (c, a, i), w in windows_by_key.items()]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return str(path)


def write_submission(path, windows_by_key):
    results = [{"clip_uid": c, "annotation_uid": a, "query_idx": i, "predicted_times": w} for (c, a, i), w in windows_by_key.items()]
    path.write_text(json.dumps({"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": results}))
    return str(path)


@pytest.fixture
def paths(tmp_path):
    return {
        "gt": write_raw_gt(tmp_path / "gt.json"),
        "gt_plain": write_raw_gt(tmp_path / "gt_plain.json", with_templates=False),
        "a": write_run(tmp_path / "run_a.jsonl", RUN_A),
        "b": write_run(tmp_path / "run_b.jsonl", RUN_B),
        "c": write_submission(tmp_path / "sub_c.json", RUN_A),
    }


def compare(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--track", "nlq", *map(str, args)])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_json_has_every_metric_delta_best_and_breakdown(paths, capsys):
    code, out, err = compare(capsys, "--gt", paths["gt"], paths["a"], paths["b"], paths["c"], "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["baseline"] == "run_a"
    a, b, c = report["runs"]
    assert (a["run"], b["run"], c["run"]) == ("run_a", "run_b", "sub_c")
    assert a["metrics"] == pytest.approx({"R1@0.3": 60, "R1@0.5": 60, "R5@0.3": 80, "R5@0.5": 80, "mIoU": 60, "rank_metric": 60})
    assert b["metrics"] == pytest.approx({"R1@0.3": 75, "R1@0.5": 75, "R5@0.3": 75, "R5@0.5": 75, "mIoU": 75, "rank_metric": 75})
    assert c["metrics"] == a["metrics"]  # the same windows as an EvalAI submission
    assert b["delta"] == pytest.approx({"R1@0.3": 15, "R1@0.5": 15, "R5@0.3": -5, "R5@0.5": -5, "mIoU": 15, "rank_metric": 15})
    assert b["best"] == ["R1@0.3", "R1@0.5", "mIoU", "rank_metric"]
    assert a["best"] == c["best"] == ["R5@0.3", "R5@0.5"]
    assert (b["evaluated"], b["missing"], b["gt"]) == (4, 1, 5)
    assert a["recall_curve"]["R1@0.9"] == pytest.approx(60) and a["recall_curve"]["R5@0.1"] == pytest.approx(80)

    templates = {g["group"]: g for g in report["breakdowns"]["template"]["groups"]}
    assert list(templates) == ["T1", "T2", "(no template)"]
    assert templates["T1"]["values"] == {"run_a": 50, "run_b": 50, "sub_c": 50}
    assert templates["T1"]["best"] == ["run_a", "run_b", "sub_c"]
    assert templates["T2"]["values"]["run_b"] == 100 and templates["T2"]["best"] == ["run_b"]
    assert templates["(no template)"]["values"]["run_b"] is None and templates["(no template)"]["queries"] == 1

    lengths = {g["group"]: (g["queries"], g["values"]["run_a"], g["values"]["run_b"]) for g in report["breakdowns"]["length"]["groups"]}
    assert lengths == {"<2s": (1, 100, 0), "2-5s": (1, 0, 100), "5-10s": (1, 100, None), "10-30s": (1, 100, 100),
                       "30-60s": (0, None, None), ">=60s": (1, 0, 100)}


def test_table_marks_best_values_and_deltas(paths, capsys):
    code, out, _ = compare(capsys, "--gt", paths["gt"], paths["a"], paths["b"])
    assert code == 0
    lines = out.splitlines()
    header = lines[0].split()
    assert header[:6] == ["run", "R1@0.3", "R1@0.5", "R5@0.3", "R5@0.5", "mIoU"]
    row_a = next(line for line in lines if line.startswith("run_a (baseline)"))
    row_b = next(line for line in lines if line.startswith("run_b "))
    assert row_a.split()[2:7] == ["60.00", "60.00", "80.00*", "80.00*", "60.00"]
    assert "75.00* (+15.00)" in row_b and "75.00 (-5.00)" in row_b
    assert "Per query template (mean(R1@0.3, R1@0.5)):" in out and "Per ground-truth window length" in out
    t2 = next(line for line in lines if line.startswith("T2 "))
    assert t2.split() == ["T2", "2", "50.00", "100.00*", "(+50.00)"]


def test_markdown_and_baseline_choice(paths, capsys):
    code, out, _ = compare(capsys, "--gt", paths["gt"], paths["a"], paths["b"], "--format", "markdown", "--baseline", "run_b")
    assert code == 0
    header, rule, first, second = out.splitlines()[:4]
    assert header.startswith("| run") and rule.startswith("|--")
    assert first.startswith("| run_a ") and "| 60.00 (-15.00) " in first and "| 80.00* (+5.00) " in first
    assert second.startswith("| run_b (baseline)")


def test_csv_is_tidy_with_full_precision(paths, capsys):
    code, out, _ = compare(capsys, "--gt", paths["gt"], paths["a"], paths["b"], "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["section", "group", "queries", "run", "metric", "value", "delta", "best"]
    overall = {(r["run"], r["metric"]): r for r in rows if r["section"] == "overall"}
    assert float(overall[("run_b", "R1@0.3")]["value"]) == 75.0
    assert float(overall[("run_b", "R5@0.5")]["delta"]) == -5.0
    assert overall[("run_b", "R1@0.3")]["best"] == "True" and overall[("run_a", "R1@0.3")]["best"] == "False"
    assert float(overall[("run_a", "mIoU")]["value"]) == pytest.approx(60.0)
    lengths = {(r["group"], r["run"]): r for r in rows if r["section"] == "length"}
    assert lengths[("5-10s", "run_b")]["value"] == "" and lengths[("30-60s", "run_a")]["queries"] == "0"
    assert float(lengths[(">=60s", "run_b")]["delta"]) == 100.0


def test_breakdown_metric_option(paths, capsys):
    code, out, _ = compare(capsys, "--gt", paths["gt"], paths["a"], "--format", "json", "--breakdown-metric", "R5@0.5",
                           "--length-edges", "5,50")
    assert code == 0
    report = json.loads(out)
    assert report["breakdowns"]["length"]["metric"] == "R5@0.5"
    lengths = {g["group"]: g["values"]["run_a"] for g in report["breakdowns"]["length"]["groups"]}
    assert lengths == {"<5s": 100, "5-50s": 100, ">=50s": 0}


def test_jsonl_or_templateless_gt_has_no_template_breakdown(paths, capsys):
    code, out, _ = compare(capsys, "--gt", paths["gt_plain"], paths["a"], "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert list(report["breakdowns"]) == ["length"]
    assert "no per-template breakdown" in report["notes"][0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--baseline", "nope"], "--baseline 'nope' is not one of the runs"),
        (["--breakdown-metric", "R9@0.3"], "is not computed"),
        (["--length-edges", "5,2"], "increasing"),
    ],
)
def test_bad_options_are_named(paths, capsys, extra, message):
    code, out, err = compare(capsys, "--gt", paths["gt"], paths["a"], *extra)
    assert code == 1 and out == "" and message in err


def test_plot_is_written(paths, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "curves.png"
    code, _, err = compare(capsys, "--gt", paths["gt"], paths["a"], paths["b"], "--plot", plot)
    assert code == 0 and f"wrote {plot}" in err
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 5000


def test_plot_without_matplotlib_says_how_to_install(paths, capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    plot = tmp_path / "curves.png"
    code, _, err = compare(capsys, "--gt", paths["gt"], paths["a"], "--plot", plot)
    assert code == 1 and "osgnet-bench[plot]" in err and not plot.exists()


def test_checkpoint_runs_need_a_config(paths, capsys, tmp_path):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"not a checkpoint")
    code, _, err = compare(capsys, "--gt", paths["gt"], paths["a"], checkpoint)
    assert code == 1 and "--config" in err


def test_run_names_and_checkpoint_detection():
    assert run_names(["x/a.jsonl", "y/b.json"]) == ["a", "b"]
    assert run_names(["x/a.jsonl", "y/a.json"]) == ["x/a.jsonl", "y/a.json"]
    assert run_names(["best_official.pth.tar", "last.pt", "v1.2.jsonl"]) == ["best_official", "last", "v1.2"]
    assert [is_checkpoint(p) for p in ("m.pt", "m.PTH", "m.tar", "m.jsonl")] == [True, True, True, False]


def test_length_buckets():
    assert length_labels([2, 5, 10]) == ["<2s", "2-5s", "5-10s", ">=10s"]
    assert [length_bucket(x, [2, 5, 10]) for x in (0, 1.99, 2, 4.5, 10, 500)] == [0, 0, 1, 1, 3, 3]


def test_checkpoint_run_goes_through_inference(paths, capsys, tmp_path):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"not a checkpoint")
    config = tmp_path / "config.yaml"
    config.write_text("{}\n")
    code, _, err = compare(capsys, "--gt", paths["gt"], checkpoint, "--config", config)
    assert code == 1 and f"{checkpoint}: inference failed (osgnet-bench infer exited with" in err


def test_real_nlq_val_templates(shared_data, capsys, tmp_path):
    from osgnet_bench.annotations.load import load_annotations
    from osgnet_bench.tracks import get_track

    gt = shared_data / "nlq_v2" / "nlq_val.json"
    records = [r for r in load_annotations(gt, get_track("nlq")) if r.has_text]
    run = write_run(tmp_path / "exact.jsonl", {r.key: [list(r.windows[0])] for r in records})
    code, out, err = compare(capsys, "--gt", gt, run, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["runs"][0]["metrics"]["R1@0.5"] == pytest.approx(100.0)
    groups = report["breakdowns"]["template"]["groups"]
    assert len(groups) == 14 and groups[-1]["group"] == "(no template)"
    assert groups[0] == {"group": "Objects: Where is object X before / after event Y?", "queries": 750,
                         "values": {"exact": pytest.approx(100.0)}, "best": ["exact"]}
    assert sum(g["queries"] for g in groups) == 4552
    assert sum(g["queries"] for g in report["breakdowns"]["length"]["groups"]) == 4552
