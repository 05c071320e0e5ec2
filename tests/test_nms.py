"""1-D NMS and soft-NMS against a line-by-line Python port of the reference's C++ CPU kernels."""

import math
import random

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from trainers.model.nms import _swap_remove_order, nms_1d, soft_nms_1d

F32 = np.float32
METHOD_CODES = {"hard": 0, "linear": 1, "gaussian": 2}


def cpp_soft_nms(segments, scores, iou_threshold, sigma, min_score, method):
    """Oracle: softnms_1d_cpu in float32 scalars. Returns (dets [(x1, x2, score)], inds)."""
    x1 = [F32(a) for a, _ in segments]
    x2 = [F32(b) for _, b in segments]
    sc = [F32(s) for s in scores]
    areas = [F32(b - a) + F32(1e-6) for a, b in zip(x1, x2)]
    inds = list(range(len(segments)))
    dets = []
    nsegs = len(segments)
    i = 0
    while i < nsegs:
        max_score, max_pos = sc[i], i
        for pos in range(i + 1, nsegs):
            if max_score < sc[pos]:
                max_score, max_pos = sc[pos], pos
        ix1, ix2, iscore = x1[max_pos], x2[max_pos], sc[max_pos]
        iarea, iind = areas[max_pos], inds[max_pos]
        dets.append((ix1, ix2, iscore))
        for arr in (x1, x2, sc, areas, inds):
            arr[max_pos] = arr[i]
        x1[i], x2[i], sc[i], areas[i], inds[i] = ix1, ix2, iscore, iarea, iind
        pos = i + 1
        while pos < nsegs:
            inter = max(F32(0.0), min(ix2, x2[pos]) - max(ix1, x1[pos]))
            ovr = inter / (iarea + areas[pos] - inter)
            weight = F32(1.0)
            if method == 0 and ovr >= F32(iou_threshold):
                weight = F32(0.0)
            elif method == 1 and ovr >= F32(iou_threshold):
                weight = F32(1.0) - ovr
            elif method == 2:
                weight = np.exp(-(ovr * ovr) / F32(sigma))
            sc[pos] = sc[pos] * weight
            if sc[pos] < F32(min_score):
                for arr in (x1, x2, sc, areas, inds):
                    arr[pos] = arr[nsegs - 1]
                nsegs -= 1
                pos -= 1
            pos += 1
        i += 1
    return dets[:nsegs], inds[:nsegs]


def kernel_order(scores):
    """The visiting order of nms_1d_cpu: ``scores.sort(0, /*descending=*/true)`` on the CPU, i.e.
    torch's default sort, which is not stable (ties leave input order beyond 16 candidates)."""
    return torch.tensor(scores, dtype=torch.float32).sort(descending=True).indices.tolist()


def cpp_nms(segments, scores, iou_threshold, order=None):
    """Oracle: nms_1d_cpu in float32 scalars, visiting candidates in ``order`` (default: the
    kernel's). Returns kept inds."""
    x1 = [F32(a) for a, _ in segments]
    x2 = [F32(b) for _, b in segments]
    areas = [F32(b - a) + F32(1e-6) for a, b in zip(x1, x2)]
    order = kernel_order(scores) if order is None else order
    select = [True] * len(order)
    for _i, i in enumerate(order):
        if not select[_i]:
            continue
        for _j in range(_i + 1, len(order)):
            if not select[_j]:
                continue
            j = order[_j]
            inter = max(F32(0.0), min(x2[i], x2[j]) - max(x1[i], x1[j]))
            if inter / (areas[i] + areas[j] - inter) >= F32(iou_threshold):
                select[_j] = False
    return [i for _i, i in enumerate(order) if select[_i]]


def random_case(rng: random.Random, tied: bool):
    """Segments and float32 scores; ``tied`` draws from a few values so ties are common."""
    n = rng.randint(1, 40)
    if tied:
        starts = [float(rng.randint(0, 12)) for _ in range(n)]
        segs = [(s, s + rng.randint(0, 6)) for s in starts]
        scores = [rng.choice([0.125, 0.25, 0.5, 0.75, 1.0]) for _ in range(n)]
    else:
        starts = [rng.uniform(0, 50) for _ in range(n)]
        segs = [(s, s + rng.uniform(0, 15)) for s in starts]
        scores = [rng.uniform(0, 1) for _ in range(n)]
    segs32 = torch.tensor(segs, dtype=torch.float32)
    scores32 = torch.tensor(scores, dtype=torch.float32)
    return segs32, scores32


@pytest.mark.parametrize("method", ["gaussian", "linear", "hard"])
@pytest.mark.parametrize("tied", [False, True])
def test_soft_nms_matches_cpp_port(method, tied):
    rng = random.Random(f"{method}-{tied}")
    for _ in range(40):
        segs, scores = random_case(rng, tied)
        sigma = rng.choice([0.3, 0.75, 2.0])
        threshold = rng.choice([0.1, 0.5, 0.9])
        min_score = rng.choice([0.001, 0.1, 0.4])
        dets, inds = cpp_soft_nms(segs.tolist(), scores.tolist(), threshold, sigma, min_score,
                                  METHOD_CODES[method])
        out_segs, out_scores, out_inds = soft_nms_1d(segs, scores, sigma=sigma, min_score=min_score,
                                                     iou_threshold=threshold, method=method)
        assert out_inds.tolist() == inds
        expected = torch.tensor([[a, b, s] for a, b, s in dets], dtype=torch.float32).reshape(-1, 3)
        assert torch.equal(out_segs, expected[:, :2])
        assert torch.allclose(out_scores, expected[:, 2], rtol=1e-6, atol=0)


def test_soft_nms_max_num_is_a_prefix_of_the_full_run():
    rng = random.Random(3)
    for _ in range(30):
        segs, scores = random_case(rng, tied=rng.random() < 0.5)
        full = soft_nms_1d(segs, scores)
        capped = soft_nms_1d(segs, scores, max_num=5)
        for a, b in zip(full, capped):
            assert torch.equal(a[:5], b)


def test_soft_nms_by_hand():
    segs = torch.tensor([[0.0, 10.0], [0.0, 10.0], [20.0, 30.0], [5.0, 15.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.0005])
    out_segs, out_scores, out_inds = soft_nms_1d(segs, scores, sigma=0.75, min_score=0.001)
    # the duplicate decays by exp(−1/0.75) (IoU 1 up to the 1e-6 length padding); the disjoint
    # segment keeps its score; the low one is dropped; the order is by decayed score
    assert out_inds.tolist() == [0, 2, 1]
    assert out_scores.tolist() == pytest.approx([0.9, 0.7, 0.8 * math.exp(-1 / 0.75)], rel=1e-5)
    assert torch.equal(out_segs, segs[[0, 2, 1]])
    lone_low = soft_nms_1d(torch.tensor([[0.0, 1.0]]), torch.tensor([1e-5]))
    assert lone_low[2].tolist() == [0]       # the first pick is never dropped
    nothing = soft_nms_1d(torch.zeros((0, 2)), torch.zeros(0))
    assert nothing[0].shape == (0, 2) and nothing[2].numel() == 0


def test_soft_nms_rejects_unknown_method():
    with pytest.raises(ValueError, match="soft-NMS method"):
        soft_nms_1d(torch.tensor([[0.0, 1.0]]), torch.tensor([0.5]), method="cubic")


@pytest.mark.parametrize("tied", [False, True])
def test_hard_nms_matches_cpp_port(tied):
    rng = random.Random(f"nms-{tied}")
    for _ in range(60):
        segs, scores = random_case(rng, tied)
        threshold = rng.choice([0.1, 0.3, 0.7])
        kept = cpp_nms(segs.tolist(), scores.tolist(), threshold)
        out_segs, out_scores, out_inds = nms_1d(segs, scores, threshold)
        assert out_inds.tolist() == kept
        assert torch.equal(out_segs, segs[kept]) and torch.equal(out_scores, scores[kept])
        capped = nms_1d(segs, scores, threshold, max_num=3)[2]
        assert capped.tolist() == kept[:3]


def test_hard_nms_breaks_ties_like_the_kernel_sort_not_a_stable_one():
    """20 equal scores on a chain of windows where each overlaps its neighbours: which ones survive
    depends on the visiting order, and torch's default sort differs from a stable one here."""
    n = 20
    segs = torch.tensor([[float(i), i + 1.5] for i in range(n)])
    scores = torch.full((n,), 0.5)
    stable = scores.sort(descending=True, stable=True).indices.tolist()
    unstable = kernel_order(scores.tolist())
    assert stable == list(range(n)) and unstable != stable
    kernel_kept = cpp_nms(segs.tolist(), scores.tolist(), 0.1, order=unstable)
    stable_kept = cpp_nms(segs.tolist(), scores.tolist(), 0.1, order=stable)
    assert stable_kept == list(range(0, n, 2)) and sorted(kernel_kept) != sorted(stable_kept)
    out_segs, _, out_inds = nms_1d(segs, scores, iou_threshold=0.1)
    assert out_inds.tolist() == kernel_kept and torch.equal(out_segs, segs[kernel_kept])
    assert nms_1d(segs, scores, iou_threshold=0.1, max_num=4)[2].tolist() == kernel_kept[:4]


def test_hard_nms_filters_by_min_score_first():
    segs = torch.tensor([[0.0, 10.0], [1.0, 10.0], [30.0, 40.0]])
    scores = torch.tensor([0.05, 0.9, 0.5])
    _, out_scores, out_inds = nms_1d(segs, scores, iou_threshold=0.5, min_score=0.1)
    assert out_inds.tolist() == [1, 2]
    assert out_scores.tolist() == pytest.approx([0.9, 0.5])


def sequential_swap_remove(dropped):
    """The C++ loop's removal on its own: returns the surviving original positions in order."""
    array = list(range(len(dropped)))
    pos, n = 0, len(array)
    while pos < n:
        if dropped[array[pos]]:
            array[pos] = array[n - 1]
            n -= 1
        else:
            pos += 1
    return array[:n]


@given(st.lists(st.booleans(), max_size=40))
def test_swap_remove_order_matches_the_loop(dropped):
    order = _swap_remove_order(torch.tensor(dropped, dtype=torch.bool))
    assert order.tolist() == sequential_swap_remove(dropped)
