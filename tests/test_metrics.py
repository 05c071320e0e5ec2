"""Official Ego4D metric rules, edge cases of eval.md §1.3, GoalStep multi-GT and TACoS thresholds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from osgnet_bench.metrics import MetricSpec, evaluate, score_loop, score_vectorised, spec_for_track
from osgnet_bench.metrics.iou import interval_iou, iou_matrix
from osgnet_bench.metrics.padding import pad_windows
from osgnet_bench.predictions import Prediction
from osgnet_bench.tracks import get_track

NLQ = get_track("nlq")


def record(idx, windows, clip="clip", annotation="ann", query="where?"):
    return QueryRecord(
        video_id=clip,
        annotation_uid=annotation,
        query_idx=idx,
        query=query,
        duration=60.0,
        windows=None if windows is None else tuple(tuple(w) for w in windows),
        query_type="nlq",
    )


def prediction(idx, windows, clip="clip", annotation="ann"):
    return Prediction(clip, annotation, idx, np.asarray(windows, dtype=np.float64).reshape(-1, 2))


def score_one(gt_windows, pred_windows, track=NLQ, **spec_options):
    """Metrics of a single query through the public ``evaluate``."""
    spec = spec_for_track(track, **spec_options)
    result = evaluate([record(0, gt_windows)], [prediction(0, pred_windows)], track, spec)
    return result.metrics


def test_iou_uses_the_hull_and_no_clipping():
    pred = np.array([[[0.0, 10.0], [5.0, 15.0], [20.0, 30.0], [12.0, 8.0]]])
    gt = np.array([[[0.0, 10.0], [10.0, 20.0]]])
    ious = iou_matrix(pred, gt)
    assert ious.shape == (1, 4, 2)
    assert ious[0].tolist() == [[1.0, 0.0], [1 / 3, 1 / 3], [0.0, 0.0], [0.0, 0.0]]
    assert interval_iou((0.0, 5.0), (0.0, 10.0)) == 0.5
    assert interval_iou((55.0, 60.0), (55.0, 60.3)) == pytest.approx(5.0 / 5.3)


def test_zero_length_pairs_give_iou_zero_not_nan():
    assert interval_iou((3.0, 3.0), (3.0, 3.0)) == 0.0
    assert interval_iou((5.0, 1.0), (4.0, 2.0)) == 0.0
    ious = iou_matrix(np.array([[3.0, 3.0], [5.0, 1.0]]), np.array([[3.0, 3.0]]))
    assert ious.tolist() == [[0.0], [0.0]]


def test_padding_packs_rows_in_order():
    padded, mask = pad_windows([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])])
    assert padded.shape == (2, 3, 2)
    assert mask.tolist() == [[True, False, False], [True, True, True]]
    assert padded[1, 2].tolist() == [7.0, 8.0] and padded[0, 1].tolist() == [0.0, 0.0]
    from_pairs, pairs_mask = pad_windows([((1.0, 2.0),), ((3.0, 4.0), (5.0, 6.0), (7.0, 8.0))])
    assert np.array_equal(from_pairs, padded) and np.array_equal(pairs_mask, mask)
    cut, cut_mask = pad_windows([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])], 2)
    assert cut.tolist() == [[[1.0, 2.0], [0.0, 0.0]], [[3.0, 4.0], [5.0, 6.0]]]
    assert cut_mask.tolist() == [[True, False], [True, True]]
    tricky, tricky_mask = pad_windows([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]] * 9)], max_width=5)
    assert tricky_mask.sum() == 6 and tricky[0, 1:].tolist() == [[0.0, 0.0]] * 4
    full, full_mask = pad_windows([((1.0, 2.0),), ((3.0, 4.0),)])
    assert full.tolist() == [[[1.0, 2.0]], [[3.0, 4.0]]] and full_mask.all()


def test_exact_match_scores_everything():
    metrics = score_one([[10, 20]], [[10, 20]])
    assert metrics == dict.fromkeys(["R1@0.3", "R1@0.5", "R5@0.3", "R5@0.5", "mIoU", "rank_metric"], 100.0)


def test_iou_equal_to_threshold_is_not_a_hit_unless_ge():
    strict = score_one([[0, 10]], [[0, 5]])
    assert strict["R1@0.5"] == 0.0 and strict["R1@0.3"] == 100.0 and strict["mIoU"] == 50.0
    assert strict["rank_metric"] == 50.0
    inclusive = score_one([[0, 10]], [[0, 5]], iou_rule="ge")
    assert inclusive["R1@0.5"] == 100.0


def test_fewer_windows_than_k_is_fine_and_more_than_k_are_ignored():
    fewer = score_one([[10, 20]], [[50, 60], [10, 20]])
    assert fewer["R1@0.5"] == 0.0 and fewer["R5@0.5"] == 100.0
    sixth_only = [[50, 51]] * 5 + [[10, 20]]
    more = score_one([[10, 20]], sixth_only)
    assert more["R5@0.5"] == 0.0
    assert score_one([[10, 20]], sixth_only, topk=[1, 5, 6])["R6@0.5"] == 100.0


def test_reversed_window_scores_zero():
    assert score_one([[10, 20]], [[20, 10]])["R5@0.3"] == 0.0
    assert score_one([[10, 20]], [[20, 10]])["mIoU"] == 0.0


def test_windows_outside_the_clip_are_used_as_given():
    past_end = score_one([[55.0, 60.3]], [[55.0, 60.3]])
    assert past_end["mIoU"] == 100.0
    clipped = score_one([[55.0, 60.3]], [[55.0, 60.0]])
    assert round(clipped["mIoU"], 2) == 94.34
    negative = score_one([[-2.0, 4.0]], [[-2.0, 4.0]])
    assert negative["R1@0.5"] == 100.0


def test_zero_length_gt_is_never_recalled_and_mIoU_stays_finite():
    for pred in ([[3.0, 3.0]], [[2.0, 4.0]]):
        metrics = score_one([[3.0, 3.0]], pred)
        assert metrics["R5@0.3"] == 0.0
        assert metrics["mIoU"] == 0.0 and not math.isnan(metrics["mIoU"])


def test_mean_is_over_evaluated_queries_and_missing_are_reported():
    records = [record(0, [[0, 10]]), record(1, [[20, 30]]), record(2, [[40, 50]]), record(3, [[0, 1]], query="")]
    result = evaluate(records, [prediction(0, [[0, 10]]), prediction(2, [[0, 1]])], NLQ)
    assert result.metrics["R1@0.5"] == 50.0
    assert (result.num_evaluated, result.num_missing, result.num_gt) == (2, 1, 3)
    assert result.missing == (("clip", "ann", 1),)
    expected = r"1 of the 3 queries .* have no prediction, e.g. \(clip 'clip', annotation 'ann', query_idx 1\)"
    with pytest.raises(UserError, match=expected):
        evaluate(records, [prediction(0, [[0, 10]]), prediction(2, [[0, 1]])], NLQ, strict=True)


def test_textless_entry_counts_in_query_idx():
    records = [record(0, [[0, 10]]), record(1, [[0, 1]], query=""), record(2, [[20, 30]])]
    result = evaluate(records, [prediction(2, [[20, 30]])], NLQ)
    assert result.metrics["R1@0.5"] == 100.0
    assert (result.num_gt, result.num_missing) == (2, 1)


def test_duplicate_predictions_are_refused_with_counts():
    records = [record(0, [[0, 10]]), record(1, [[20, 30]])]
    entries = [(0, [[0, 10]]), (0, [[0, 10]]), (0, [[1, 2]]), (1, [[0, 1]]), (1, [[0, 1]])]
    predictions = [prediction(idx, windows) for idx, windows in entries]
    with pytest.raises(UserError) as info:
        evaluate(records, predictions, NLQ, pred_source="pred.jsonl")
    message = str(info.value)
    assert "pred.jsonl: 2 queries are predicted more than once (3 extra entries)" in message
    assert "query_idx 0" in message and "query_idx 1" in message


def test_unknown_queries_are_refused_with_examples():
    records = [record(0, [[0, 10]])]
    expected = (
        r"2 predictions are for queries that gt.json does not contain, e.g. "
        r"\(clip 'clip', annotation 'ann', query_idx 5\), \(clip 'other', annotation 'x', query_idx 0\)"
    )
    predictions = [prediction(5, [[0, 1]]), prediction(0, [[0, 1]], clip="other", annotation="x")]
    with pytest.raises(UserError, match=expected):
        evaluate(records, predictions, NLQ, gt_source="gt.json")


def test_query_under_the_wrong_clip_gets_a_hint():
    with pytest.raises(UserError, match=r"1 of them exist under another clip.*to clip 'clip', not 'wrong'"):
        evaluate([record(0, [[0, 10]])], [prediction(0, [[0, 1]], clip="wrong")], NLQ)


def test_unannotated_ground_truth_is_refused():
    with pytest.raises(UserError, match="has no ground-truth windows"):
        evaluate([record(0, None)], [prediction(0, [[0, 1]])], NLQ, gt_source="test.json")


def test_goalstep_any_gt_window_matches_and_mIoU_averages_top3():
    goalstep = get_track("goalstep")
    metrics = score_one([[0, 10], [20, 30], [40, 50], [0, 5]], [[0, 10]], track=goalstep)
    assert metrics["R1@0.5"] == 100.0
    assert metrics["mIoU"] == 50.0
    assert metrics["rank_metric"] == metrics["R1@0.3"]
    second_gt = score_one([[0, 10], [100, 110]], [[50, 60], [101, 110]], track=goalstep)
    assert (second_gt["R1@0.5"], second_gt["R5@0.5"], second_gt["mIoU"]) == (0.0, 100.0, 0.0)


def test_tacos_thresholds_and_ranking():
    tacos = get_track("tacos")
    metrics = score_one([[0, 10]], [[0, 6]], track=tacos)
    assert list(metrics) == [
        "R1@0.1", "R1@0.3", "R1@0.5", "R1@0.7", "R5@0.1", "R5@0.3", "R5@0.5", "R5@0.7", "mIoU", "rank_metric",
    ]
    assert [metrics[f"R1@{t}"] for t in ("0.1", "0.3", "0.5", "0.7")] == [100.0, 100.0, 100.0, 0.0]
    assert metrics["rank_metric"] == metrics["R1@0.5"] == 100.0
    assert metrics["mIoU"] == pytest.approx(60.0)


def test_spec_overrides_and_checks():
    spec = spec_for_track(NLQ, thresholds=[0.3, 0.5, 0.7, 0.3], topk=[1, 5, 10])
    assert spec.thresholds == (0.3, 0.5, 0.7) and spec.topk == (1, 5, 10) and spec.iou_rule == "gt"
    assert spec.recall_keys[:3] == ["R1@0.3", "R1@0.5", "R1@0.7"]
    with pytest.raises(UserError, match=r"ranking metric mean\(R1@0.3, R1@0.5\) needs R1@0.3"):
        spec_for_track(NLQ, thresholds=[0.5])
    with pytest.raises(UserError, match="IoU thresholds must be numbers in"):
        spec_for_track(NLQ, thresholds=[0.3, 0.5, 1.5])
    with pytest.raises(UserError, match="top-k values must be positive"):
        spec_for_track(NLQ, topk=[0, 1])


def test_evaluate_refuses_a_spec_without_the_ranking_keys():
    with pytest.raises(UserError, match=r"needs R1@0.5"):
        evaluate([record(0, [[0, 10]])], [prediction(0, [[0, 10]])], NLQ, MetricSpec((0.3,), (1, 5)))


def test_loop_and_vectorised_agree_on_hand_cases():
    spec = spec_for_track(NLQ)
    pred = [np.array([[0.0, 10.0]]), np.array([[20.0, 10.0], [3.0, 3.0]]), np.array([[0.0, 5.0]] * 7)]
    gt = [np.array([[0.0, 10.0]]), np.array([[3.0, 3.0]]), np.array([[0.0, 10.0], [1.0, 4.0]])]
    assert score_vectorised(pred, gt, spec, chunk=2) == score_loop(pred, gt, spec)
