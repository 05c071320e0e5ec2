"""The evaluator on the real annotation files (skipped when they are absent)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.cli import main
from osgnet_bench.errors import UserError
from osgnet_bench.metrics import evaluate, match_predictions, score_loop, score_vectorised, spec_for_track
from osgnet_bench.predictions import Prediction, write_predictions
from osgnet_bench.tracks import get_track

SKIP_EVERY = 50


def synthetic_predictions(records):
    """Deterministic predictions built from the GT, in four kinds that cycle over the queries:
    exact top-1; exact only at rank 2; top-1 with IoU 0.4; one reversed window. Every
    ``SKIP_EVERY``-th query is left out. Returns (predictions, count of each kind)."""
    predictions, kinds = [], [0, 0, 0, 0]
    for i, record in enumerate(r for r in records if r.has_text):
        if i % SKIP_EVERY == SKIP_EVERY - 1:
            continue
        start, end = record.windows[0]
        length = end - start
        far = [end + length + 5.0, end + 2 * length + 5.0]
        kind = i % 4
        windows = [
            [[start, end], far],
            [far, [start, end]],
            [[start, start + 0.4 * length], far],
            [[end, start]],
        ][kind]
        kinds[kind] += 1
        predictions.append(
            Prediction(record.video_id, record.annotation_uid, record.query_idx, np.asarray(windows))
        )
    return predictions, kinds


def expected_metrics(kinds):
    exact, second, partial, _ = kinds
    total = sum(kinds)
    return {
        "R1@0.3": 100.0 * (exact + partial) / total,
        "R1@0.5": 100.0 * exact / total,
        "R5@0.3": 100.0 * (exact + second + partial) / total,
        "R5@0.5": 100.0 * (exact + second) / total,
        "mIoU": 100.0 * (exact + 0.4 * partial) / total,
    }


def check_against_expectation(result, kinds):
    expected = expected_metrics(kinds)
    for key, value in expected.items():
        assert result.metrics[key] == pytest.approx(value, abs=1e-6), key
    assert result.num_evaluated == sum(kinds)
    assert result.num_missing == result.num_gt - sum(kinds)


def test_nlq_val_raw_and_jsonl_agree(shared_data):
    track = get_track("nlq")
    raw = load_annotations(shared_data / "nlq_v2" / "nlq_val.json", track)
    jsonl = load_annotations(shared_data / "nlq_v2" / "ego4d_nlq_val_v2_label_lemma.jsonl", track)
    predictions, kinds = synthetic_predictions(raw)
    from_raw = evaluate(raw, predictions, track)
    from_jsonl = evaluate(jsonl, predictions, track)
    assert from_raw.metrics == from_jsonl.metrics
    counts = (from_raw.num_gt, from_raw.num_missing)
    assert counts == (from_jsonl.num_gt, from_jsonl.num_missing) == (4552, 4552 // SKIP_EVERY)
    check_against_expectation(from_raw, kinds)
    metrics = from_raw.metrics
    assert metrics["rank_metric"] == pytest.approx((metrics["R1@0.3"] + metrics["R1@0.5"]) / 2)


def test_nlq_val_loop_equals_vectorised(shared_data):
    track = get_track("nlq")
    records = load_annotations(shared_data / "nlq_v2" / "nlq_val.json", track)
    predictions, _ = synthetic_predictions(records)
    matched = match_predictions(records, predictions, "gt", "pred")
    spec = spec_for_track(track, thresholds=[0.1, 0.3, 0.5, 0.7], topk=[1, 2, 5])
    assert score_vectorised(matched.pred_windows, matched.gt_windows, spec, chunk=1000) == score_loop(
        matched.pred_windows, matched.gt_windows, spec
    )


def test_nlq_test_file_has_nothing_to_score_against(shared_data):
    track = get_track("nlq")
    val = load_annotations(shared_data / "nlq_v2" / "nlq_val.json", track)
    test = load_annotations(shared_data / "nlq_v2" / "nlq_test_unannotated.json", track)
    predictions, _ = synthetic_predictions(val)
    with pytest.raises(UserError, match="does not contain"):
        evaluate(test, predictions, track)


def test_goalstep_release_and_jsonl_agree(shared_data):
    track = get_track("goalstep")
    release = load_annotations(shared_data / "goalstep" / "goalstep_valid.json", track)
    jsonl = load_annotations(shared_data / "goalstep" / "ego4d_goal_step_val_v2.jsonl", track)
    predictions, kinds = synthetic_predictions(jsonl)
    from_release = evaluate(release, predictions, track)
    from_jsonl = evaluate(jsonl, predictions, track)
    assert from_release.metrics == from_jsonl.metrics
    assert from_jsonl.num_gt == 7696
    check_against_expectation(from_jsonl, kinds)
    assert from_jsonl.metrics["rank_metric"] == from_jsonl.metrics["R1@0.3"]


def test_tacos_test_json_and_jsonl_agree(shared_data):
    track = get_track("tacos")
    combined = load_annotations(shared_data / "tacos" / "tacos.json", track, split="test")
    jsonl = load_annotations(shared_data / "tacos" / "test.jsonl", track)
    predictions, kinds = synthetic_predictions(jsonl)
    from_combined = evaluate(combined, predictions, track)
    from_jsonl = evaluate(jsonl, predictions, track)
    assert from_combined.metrics == from_jsonl.metrics
    assert from_jsonl.num_gt == 4001
    check_against_expectation(from_jsonl, kinds)
    exact, _, partial, _ = kinds
    assert from_jsonl.metrics["R1@0.1"] == pytest.approx(100.0 * (exact + partial) / sum(kinds))
    assert from_jsonl.metrics["R1@0.7"] == from_jsonl.metrics["R1@0.5"]
    assert from_jsonl.metrics["rank_metric"] == from_jsonl.metrics["R1@0.5"]


def test_cli_scores_a_tacos_split(shared_data, tmp_path, capsys):
    track = get_track("tacos")
    predictions, kinds = synthetic_predictions(load_annotations(shared_data / "tacos" / "test.jsonl", track))
    write_predictions(tmp_path / "pred.jsonl", predictions)
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--track", "tacos", "--gt", str(shared_data / "tacos" / "tacos.json"), "--split", "test",
              "--pred", str(tmp_path / "pred.jsonl"), "--format", "json"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0
    report = json.loads(out)
    counts = (report["num_gt"], report["num_evaluated"], report["num_missing"])
    assert counts == (4001, sum(kinds), 4001 - sum(kinds))
    assert report["metrics"]["R1@0.5"] == pytest.approx(expected_metrics(kinds)["R1@0.5"])
    assert f"warning: {4001 - sum(kinds)} of 4001 ground-truth queries have no prediction" in err
