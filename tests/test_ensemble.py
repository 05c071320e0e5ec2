"""Both ensemble methods: hand-made cases with known answers, and agreement with the per-query oracle."""

from __future__ import annotations

import numpy as np
import pytest

from osgnet_bench.errors import UserError
from osgnet_bench.predictions import Prediction
from submissions.centre_clusters import cluster_proposals
from submissions.ensemble import EnsembleConfig, ReferenceConfig, ensemble
from submissions.ensemble_loop import ensemble_query
from submissions.fusion import FusionConfig
from submissions.nms import cascade_nms
from submissions.stack import require_scores, stack_predictions

REFERENCE = EnsembleConfig(method="reference")
FUSION = EnsembleConfig(method="fusion")


def model(triples, clip="clip-1", annotation="ann-1", idx=0, scored=True):
    """One model's Prediction for one query from [start, end, score] triples."""
    array = np.asarray(triples, dtype=np.float64)
    return Prediction(clip, annotation, idx, array[:, :2].copy(), array[:, 2].copy() if scored else None, f"{clip}/{idx}")


def run(models, config, partial=False):
    """Ensemble one query answered by each of ``models`` (lists of triples)."""
    files = [[model(triples)] for triples in models]
    stack = stack_predictions(files, [f"m{i}.jsonl" for i in range(len(files))], config.windows_needed, partial)
    top = ensemble(stack, config)
    return top.windows[0].tolist(), top.scores[0].tolist(), int(top.distinct[0])


# ---------------------------------------------------------------- reference method, known answers


def test_reference_merges_top_windows_and_suppresses_overlaps():
    a = [[10, 20, 0.9], [30, 40, 0.8], [50, 60, 0.7], [70, 80, 0.6], [90, 100, 0.5]]
    b = [[11, 21, 0.85], [100, 110, 0.75], [31, 41, 0.4], [200, 210, 0.3], [300, 310, 0.2]]
    windows, scores, distinct = run([a, b], REFERENCE)
    # [11, 21] and [31, 41] overlap better windows by IoU 9/11 > 0.5; only top-4 of each model enter
    assert windows == [[10, 20], [30, 40], [100, 110], [50, 60], [70, 80]]
    assert scores == [0.9, 0.8, 0.75, 0.7, 0.6]
    assert distinct == 5


def test_reference_cascade_appends_later_thresholds_then_pads():
    a = [[0, 10, 0.9], [1, 11, 0.8]]
    b = [[0.5, 10.5, 0.7], [20, 30, 0.6]]
    windows, scores, distinct = run([a, b], REFERENCE)
    # NMS 0.5 and 0.7 keep [0, 10] and [20, 30]; at 0.9, [1, 11] (IoU 0.82 with [0, 10]) survives
    # and is appended after them, while [0.5, 10.5] (IoU 0.905) does not; then padding.
    assert windows == [[0, 10], [20, 30], [1, 11], [1, 11], [1, 11]]
    assert scores == [0.9, 0.6, 0.8, 0.8, 0.8]
    assert distinct == 3


def test_identical_inputs_reference_keeps_top_four_per_model():
    a = [[0, 10, 0.9], [20, 30, 0.8], [40, 50, 0.7], [60, 70, 0.6], [80, 90, 0.5]]
    windows, _, distinct = run([a, a, a], REFERENCE)
    assert windows == [[0, 10], [20, 30], [40, 50], [60, 70], [60, 70]]
    assert distinct == 4
    five = EnsembleConfig(method="reference", reference=ReferenceConfig(per_model=5))
    assert run([a, a, a], five)[0] == [row[:2] for row in a]


def test_identical_inputs_fusion_returns_the_input():
    a = [[0, 10, 0.9], [20, 30, 0.8], [40, 50, 0.7], [60, 70, 0.6], [80, 90, 0.5], [100, 110, 0.4]]
    windows, scores, distinct = run([a, a], FUSION)
    assert windows == [row[:2] for row in a[:5]]
    assert scores == pytest.approx([row[2] for row in a[:5]], abs=1e-15)
    assert distinct == 5


@pytest.mark.parametrize("config", [REFERENCE, FUSION], ids=["reference", "fusion"])
def test_one_file_keeps_its_own_ranking(config):
    # overlapping windows that any NMS would thin out, and more than 5 of them
    a = [[0, 10, 0.9], [1, 11, 0.8], [2, 12, 0.7], [50, 60, 0.65], [3, 13, 0.6], [70, 80, 0.5], [90, 95, 0.1]]
    windows, scores, distinct = run([a], config)
    assert windows == [row[:2] for row in a[:5]]
    assert scores == [row[2] for row in a[:5]]
    assert distinct == 5
    assert run([a[:2]], config)[0] == [[0, 10], [1, 11], [1, 11], [1, 11], [1, 11]]


# ---------------------------------------------------------------- centre clustering


def clusters(triples, gap=2.0):
    array = np.asarray([triples], dtype=np.float64)
    out = cluster_proposals(array[:, :, :2], array[:, :, 2], np.ones(array.shape[:2], dtype=bool), gap)
    return [
        [*out.windows[0, i].tolist(), float(out.scores[0, i]), float(out.totals[0, i])]
        for i in range(out.valid.shape[1])
        if out.valid[0, i]
    ]


def test_cluster_of_two_takes_the_better_scored_middle():
    # centres 15 and 16 (one cluster) and 45; the middle of two is the better scored one
    assert clusters([[10, 20, 0.5], [11, 21, 0.9], [40, 50, 0.6]]) == [[11, 21, 0.9, 1.4], [40, 50, 0.6, 0.6]]


def test_cluster_averages_the_middle_and_the_best():
    # centres 15, 16, 17: middle [11, 21] (0.3), best [10, 20] (0.9)
    result = clusters([[10, 20, 0.9], [11, 21, 0.3], [13, 21, 0.7]])
    assert result[0][:3] == pytest.approx([10.5, 20.5, 0.6])
    assert result[0][3] == pytest.approx(1.9)


def test_centres_exactly_the_gap_apart_are_separate_clusters():
    result = clusters([[10, 20, 0.5], [12, 22, 0.9]])
    assert result == [[12, 22, 0.9, 0.9], [10, 20, 0.5, 0.5]]  # ranked by total


def test_equal_centres_keep_only_the_last_proposal():
    assert clusters([[10, 20, 0.9], [12, 18, 0.5]]) == [[12, 18, 0.5, 0.5]]


def test_zero_length_duplicates_survive_one_nms_pass_as_in_the_reference():
    triples = np.asarray([[[5, 5, 0.9], [5, 5, 0.9], [1, 2, 0.1]]], dtype=np.float64)
    top = cascade_nms(triples[:, :, :2], triples[:, :, 2], np.ones((1, 3), dtype=bool), (0.5, 0.7, 0.9))
    assert top.windows[0].tolist() == [[5, 5], [5, 5], [1, 2], [1, 2], [1, 2]]
    assert int(top.distinct[0]) == 3


# ---------------------------------------------------------------- fusion, known answers


def test_fusion_fuses_overlaps_by_score_and_averages_over_models():
    a = [[10, 20, 0.8], [50, 60, 0.4]]
    b = [[12, 22, 0.4], [80, 90, 0.6]]
    windows, scores, distinct = run([a, b], FUSION)
    # [12, 22] joins [10, 20] (IoU 8/12): fused (0.8*10 + 0.4*12) / 1.2, score (0.8 + 0.4) / 2
    assert np.allclose(windows, [[32 / 3, 62 / 3], [80, 90], [50, 60], [50, 60], [50, 60]])
    assert scores == pytest.approx([0.6, 0.3, 0.2, 0.2, 0.2])
    assert distinct == 3


def test_fusion_weights_change_the_ranking():
    a = [[10, 20, 0.8], [50, 60, 0.4]]
    b = [[12, 22, 0.4], [80, 90, 0.6]]
    weighted = EnsembleConfig(method="fusion", fusion=FusionConfig(weights=(3.0, 1.0)))
    windows, scores, _ = run([a, b], weighted)
    assert np.allclose(windows[:3], [[72 / 7, 142 / 7], [50, 60], [80, 90]])
    assert scores[:3] == pytest.approx([0.7, 0.3, 0.15])


def test_fusion_refuses_bad_weights_and_scores():
    a = [[10, 20, 0.8]]
    with pytest.raises(UserError, match="2 weights for 3"):
        run([a, a, a], EnsembleConfig(method="fusion", fusion=FusionConfig(weights=(1.0, 2.0))))
    with pytest.raises(UserError, match="positive"):
        run([a, a], EnsembleConfig(method="fusion", fusion=FusionConfig(weights=(1.0, 0.0))))
    with pytest.raises(UserError, match=r"m1.jsonl: query .* has score -0.5 at rank 1; .* must be positive"):
        run([a, [[10, 20, -0.5]]], FUSION)


# ---------------------------------------------------------------- inputs


def test_files_are_joined_by_query_not_by_line_order():
    first = [model([[0, 10, 0.9]], idx=0), model([[50, 60, 0.9]], idx=1)]
    second = [model([[52, 62, 0.5]], idx=1), model([[1, 11, 0.5]], idx=0)]
    stack = stack_predictions([first, second], ["a", "b"], 5)
    assert [key[2] for key in stack.keys] == [0, 1]
    assert stack.windows[:, 1, 0].tolist() == [[1, 11], [52, 62]]


def test_different_query_sets_are_refused_with_counts_and_examples():
    first = [model([[0, 10, 0.9]], idx=i) for i in range(3)]
    second = [model([[0, 10, 0.9]], idx=i) for i in range(2)]
    with pytest.raises(UserError) as error:
        stack_predictions([first, second], ["a.jsonl", "b.jsonl"], 5)
    message = str(error.value)
    assert "a.jsonl has 3, b.jsonl has 2" in message
    assert "1 queries of a.jsonl are missing from b.jsonl" in message and "query_idx 2" in message
    assert "--allow-partial" in message


def test_allow_partial_ensembles_each_query_over_the_files_that_predict_it():
    first = [model([[0, 10, 0.9], [20, 30, 0.2]], idx=0), model([[1, 2, 0.9], [1.5, 2.5, 0.8]], idx=1)]
    second = [model([[0, 10, 0.9], [40, 50, 0.3]], idx=0)]
    stack = stack_predictions([first, second], ["a", "b"], 10, allow_partial=True)
    top = ensemble(stack, REFERENCE)
    assert top.windows[0].tolist() == [[0, 10], [40, 50], [20, 30], [20, 30], [20, 30]]
    assert top.windows[1].tolist() == [[1, 2], [1.5, 2.5], [1.5, 2.5], [1.5, 2.5], [1.5, 2.5]]  # only file a: its ranking


def test_duplicate_query_in_one_file_is_refused():
    with pytest.raises(UserError, match="second time"):
        stack_predictions([[model([[0, 1, 0.5]]), model([[2, 3, 0.5]])]], ["a"], 5)


def test_several_files_need_scores():
    files = [[model([[0, 10, 0.9]])], [model([[0, 10, 0.9]], scored=False)]]
    stack = stack_predictions(files, ["a", "b"], 5)
    with pytest.raises(UserError, match="no 'scores'"):
        require_scores(stack, files)


# ---------------------------------------------------------------- agreement with the oracle


def random_files(num_queries, num_models, seed, coarse):
    """Random ranked predictions; ``coarse`` draws small integers so ties and duplicates abound."""
    rng = np.random.default_rng(seed)
    files = []
    for m in range(num_models):
        predictions = []
        for q in range(num_queries):
            if rng.random() < 0.1 and m > 0:
                continue  # a query this model does not predict
            k = int(rng.integers(1, 9))
            if coarse:
                start = rng.integers(0, 12, k).astype(float)
                length = rng.integers(0, 5, k).astype(float)
                score = rng.integers(1, 4, k) / 4
            else:
                start = rng.uniform(0, 80, k)
                length = rng.exponential(6, k)
                score = rng.uniform(0.01, 1, k)
            order = np.argsort(-score, kind="stable")
            triples = np.stack([start, start + length, score], axis=1)[order]
            predictions.append(model(triples, clip=f"clip-{q % 5}", annotation=f"ann-{q}", idx=q % 3))
        files.append(predictions)
    return files


@pytest.mark.parametrize("coarse", [False, True], ids=["continuous", "coarse"])
@pytest.mark.parametrize(
    "config",
    [
        REFERENCE,
        EnsembleConfig(method="reference", reference=ReferenceConfig(per_model=6, cluster_top=2, cluster_gap=3.0)),
        FUSION,
        EnsembleConfig(method="fusion", fusion=FusionConfig(weights=(0.5, 2.0, 1.0), per_model=4, fuse_iou=0.3)),
    ],
    ids=["reference", "reference-wide", "fusion", "fusion-weighted"],
)
def test_vectorised_ensemble_equals_the_per_query_oracle(config, coarse):
    files = random_files(150, 3, seed=7 + coarse, coarse=coarse)
    stack = stack_predictions(files, ["a", "b", "c"], config.windows_needed, allow_partial=True)
    top = ensemble(stack, config)
    for row in range(len(stack.keys)):
        models = [
            [[*stack.windows[row, m, i].tolist(), float(stack.scores[row, m, i])] for i in range(int(stack.valid[row, m].sum()))]
            for m in range(3)
        ]
        expected = ensemble_query(models, config)
        got = [[*top.windows[row, i].tolist(), float(top.scores[row, i])] for i in range(5)]
        assert got == expected, f"query {stack.keys[row]}"
