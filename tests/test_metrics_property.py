"""Property tests: the vectorised evaluator equals the per-query loop on arbitrary inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from osgnet_bench.metrics import MetricSpec, score_loop, score_vectorised

# A coarse grid makes ties at thresholds, zero-length and reversed windows common.
GRID_TIMES = st.sampled_from([0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0])
ANY_TIMES = st.floats(min_value=-5.0, max_value=50.0, allow_nan=False, allow_infinity=False)
TIMES = st.one_of(GRID_TIMES, ANY_TIMES)
WINDOW = st.tuples(TIMES, TIMES)


PRED_WINDOWS = st.lists(WINDOW, min_size=1, max_size=12).map(lambda w: np.asarray(w, dtype=np.float64))
GT_WINDOWS = st.lists(WINDOW, min_size=1, max_size=4).map(tuple)  # as annotation records hold them
QUERIES = st.lists(st.tuples(PRED_WINDOWS, GT_WINDOWS), min_size=1, max_size=40)
SPECS = st.builds(
    MetricSpec,
    thresholds=st.lists(
        st.sampled_from([0.0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 1.0]), min_size=1, max_size=4, unique=True
    ).map(tuple),
    topk=st.lists(st.integers(min_value=1, max_value=15), min_size=1, max_size=4, unique=True).map(tuple),
    iou_rule=st.sampled_from(["gt", "ge"]),
)


@settings(max_examples=200, deadline=None)
@given(queries=QUERIES, spec=SPECS, chunk=st.integers(min_value=1, max_value=64))
def test_vectorised_equals_loop(queries, spec, chunk):
    pred = [p for p, _ in queries]
    gt = [g for _, g in queries]
    assert score_vectorised(pred, gt, spec, chunk=chunk) == score_loop(pred, gt, spec)


@settings(max_examples=60, deadline=None)
@given(queries=QUERIES)
def test_recall_grows_with_k_and_falls_with_threshold(queries):
    spec = MetricSpec(thresholds=(0.1, 0.3, 0.5, 0.7), topk=(1, 3, 5, 10))
    scores = score_vectorised([p for p, _ in queries], [g for _, g in queries], spec)
    table = np.array([[scores.recall[f"R{k}@{t}"] for t in spec.thresholds] for k in spec.topk])
    assert (np.diff(table, axis=0) >= 0).all()
    assert (np.diff(table, axis=1) <= 0).all()
    assert 0.0 <= scores.miou <= 100.0
    assert scores.miou <= scores.recall["R1@0.1"] + 10.0 + 1e-9
