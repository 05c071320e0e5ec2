"""Label assignment (model.md §3.1): centre sampling, regression ranges, shortest-GT choice."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.model.assign import assign_batch, assign_video, smooth_labels
from trainers.model.points import PointGenerator

OSGNET_STRIDES = [1, 2, 4, 8, 16, 32, 64]

def osgnet_points(max_seq_len: int = 64) -> torch.Tensor:
    """All points of a 64-step video on OSGNet's 7 levels, concatenated: [127, 4]."""
    generator = PointGenerator(max_seq_len, OSGNET_STRIDES)
    return torch.cat(generator([max_seq_len // 2**level for level in range(7)]))


def positives(points, cls_targets, reg_targets):
    """{(stride, t): (left, right)} of the positive points."""
    rows = torch.nonzero(cls_targets[:, 0] > 0).flatten().tolist()
    return {(points[r, 3].item(), points[r, 0].item()): tuple(reg_targets[r].tolist())
            for r in rows}


def test_single_gt_by_hand():
    # GT [10, 20], centre 15, radius 1.5: stride 1 window (13.5, 16.5) has t = 14..16 but their
    # farthest boundary (≥ 5) exceeds level 0's range [0, 4]; stride 2 window (12, 18) gives
    # t = 14, 16; stride 4 window (10, 20) gives t = 12, 16; stride 8 t = 16 is out of [8, 32].
    points = osgnet_points()
    cls_targets, reg_targets = assign_video(points, torch.tensor([[10.0, 20.0]]))
    assert cls_targets.shape == (127, 1) and reg_targets.shape == (127, 2)
    assert positives(points, cls_targets, reg_targets) == {
        (2.0, 14.0): (2.0, 3.0), (2.0, 16.0): (3.0, 2.0),
        (4.0, 12.0): (0.5, 2.0), (4.0, 16.0): (1.5, 1.0),
    }


def test_centre_window_is_strict_and_range_inclusive():
    # GT [0, 4] at stride 1: window (0.5, 3.5) -> t = 1, 2, 3, farthest 3, 2, 3 within [0, 4].
    # At stride 2 the window is clipped to the GT (0, 4) -> t = 2 with farthest 2 = lo, kept.
    points = osgnet_points()
    cls_targets, reg_targets = assign_video(points, torch.tensor([[0.0, 4.0]]))
    assert set(positives(points, cls_targets, reg_targets)) == {
        (1.0, 1.0), (1.0, 2.0), (1.0, 3.0), (2.0, 2.0)}


def test_shortest_gt_wins_and_equal_lengths_share_classes():
    points = osgnet_points()
    nested = torch.tensor([[0.0, 40.0], [14.0, 26.0]])
    cls_targets, reg_targets = assign_video(points, nested)
    t16 = torch.nonzero((points[:, 3] == 4) & (points[:, 0] == 20)).item()
    assert cls_targets[t16, 0] == 1
    assert reg_targets[t16].tolist() == [(20 - 14) / 4, (26 - 20) / 4]

    # lengths 10 and 10.0005 are within 1e-3: where both match, both classes are set; the longer
    # one alone also matches stride 2 t = 18 and stride 4 t = 20 (strictly inside its window)
    almost_same = torch.tensor([[10.0, 20.0], [10.0, 20.0005]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    cls_targets, _ = assign_video(points, almost_same, labels)
    assert torch.equal(cls_targets.sum(0), torch.tensor([4.0, 6.0]))
    assert torch.all(cls_targets[cls_targets[:, 0] > 0, 1] == 1)


def test_no_gt_gives_all_negatives_instead_of_crashing():
    points = osgnet_points()
    cls_targets, reg_targets = assign_video(points, torch.zeros((0, 2), dtype=torch.float64))
    assert cls_targets.shape == (127, 1) and not cls_targets.any()
    assert reg_targets.shape == (127, 2)


def test_too_short_gt_has_no_positive():
    points = osgnet_points()
    cls_targets, _ = assign_video(points, torch.tensor([[10.2, 10.8]]))
    assert not cls_targets.any()


def test_batch_stacks_samples_and_keeps_float64():
    generator = PointGenerator(64, OSGNET_STRIDES)
    level_pts = generator([64 // 2**level for level in range(7)])
    segments = [torch.tensor([[10.0, 20.0]], dtype=torch.float64),
                torch.zeros((0, 2), dtype=torch.float64)]
    cls_targets, reg_targets = assign_batch(level_pts, segments)
    assert cls_targets.shape == (2, 127, 1) and reg_targets.shape == (2, 127, 2)
    assert cls_targets.dtype == torch.float64
    assert cls_targets[0].sum() == 4 and cls_targets[1].sum() == 0


def test_smoothing_gives_095_and_005_for_one_class():
    smoothed = smooth_labels(torch.tensor([[1.0], [0.0]]), 0.1)
    assert torch.allclose(smoothed, torch.tensor([[0.95], [0.05]]))
    assert torch.allclose(smooth_labels(torch.tensor([[1.0, 0.0]]), 0.3),
                          torch.tensor([[0.8, 0.1]]))


def test_fixture_segments_give_the_reference_positive_count(reference_fixtures):
    fixture = torch.load(reference_fixtures / "osgnet_small_nlq.pt", weights_only=True)
    generator = PointGenerator(1024, OSGNET_STRIDES)
    level_pts = generator([1024 // 2**level for level in range(7)])
    cls_targets, _ = assign_batch(level_pts, [s["segments"] for s in fixture["inputs"]])
    # the reference's normaliser went 200 -> 181.2 = 0.9·200 + 0.1·12 positives
    assert cls_targets.sum().item() == 12


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 60), st.floats(0.5, 40)), min_size=1, max_size=4))
def test_positive_targets_rebuild_a_matching_gt(windows):
    points = osgnet_points()
    gt = torch.tensor([[s, s + length] for s, length in windows], dtype=torch.float64)
    cls_targets, reg_targets = assign_video(points, gt)
    for row in torch.nonzero(cls_targets[:, 0] > 0).flatten():
        t, lo, hi, stride = points[row].double().tolist()
        left, right = reg_targets[row].tolist()
        start, end = t - left * stride, t + right * stride
        matches = torch.isclose(gt, torch.tensor([start, end], dtype=torch.float64)).all(1)
        assert matches.any()
        assert left > 0 and right > 0
        assert lo <= max(left, right) * stride <= hi
        chosen_len = end - start
        centre_ok = [abs(t - (a + b) / 2) < 1.5 * stride
                     and lo <= max(t - a, b - t) <= hi and a < t < b for a, b in gt.tolist()]
        shortest = min(b - a for (a, b), ok in zip(gt.tolist(), centre_ok) if ok)
        assert abs(shortest - chosen_len) < 1e-6
