"""Inference post-processing: candidates per level, soft-NMS, grid -> seconds (model.md §4)."""

import pytest
import torch

from trainers.model.decode import (DecodeConfig, Detections, VideoTiming, decode_batch,
                                   grid_to_seconds, level_candidates, select_windows)
from trainers.model.points import PointGenerator, level_points

OSGNET_STRIDES = [1, 2, 4, 8, 16, 32, 64]
NLQ_TIMING = VideoTiming(fps=30.0, duration=100.0, feat_stride=16.0, feat_num_frames=16.0)


def logit(p: float) -> float:
    return float(torch.logit(torch.tensor(p, dtype=torch.float64)))


def test_grid_to_seconds_with_and_without_the_half_clip_offset():
    grid = torch.tensor([[0.0, 30.0], [-3.0, 300.0]])
    legacy = grid_to_seconds(grid, NLQ_TIMING)
    assert torch.allclose(legacy, torch.tensor([[8 / 30, 16.0 + 8 / 30], [0.0, 100.0]]))
    fixed = grid_to_seconds(grid, NLQ_TIMING, half_clip_offset=False)
    assert torch.allclose(fixed, torch.tensor([[0.0, 16.0], [0.0, 100.0]]))


def test_level_candidates_threshold_max_topk_and_duration():
    points = level_points(6, 2, (2, 8))
    mask = torch.tensor([True, True, True, True, True, False])
    logits = torch.tensor([[logit(0.0005)], [logit(0.3)], [logit(0.6)], [logit(0.002)],
                           [logit(0.0002)], [logit(0.99)]])
    offsets = torch.tensor([[1.0, 1.0], [0.5, 0.25], [1.0, 2.0], [0.0, 0.0], [1.0, 1.0],
                            [3.0, 3.0]])
    config = DecodeConfig()
    found = level_candidates(points, mask, logits, offsets, config)
    # the masked point (p 0.99) and the two below 0.001 are gone; the zero-length window at t=6
    # is dropped by duration_thresh; best first; windows are t ∓ offset·stride
    assert found.scores.tolist() == pytest.approx([0.6, 0.3])
    assert found.segments.tolist() == [[2.0, 8.0], [1.0, 2.5]]
    assert found.labels.tolist() == [0, 0]

    top1 = level_candidates(points, mask, logits, offsets, DecodeConfig(pre_nms_topk=1))
    assert top1.segments.tolist() == [[2.0, 8.0]]
    # everything below the threshold: the level's best point still survives
    low = torch.full((6, 1), logit(0.0001))
    low[3] = logit(0.0004)
    kept = level_candidates(points, mask, low, offsets, config)
    assert kept.scores.tolist() == pytest.approx([0.0004])
    assert kept.segments.tolist() == [[6.0, 6.0]]


def test_select_windows_caps_and_sorts_per_class():
    candidates = Detections(
        segments=torch.tensor([[0.0, 10.0], [0.0, 10.0], [20.0, 30.0], [40.0, 50.0]]),
        scores=torch.tensor([0.9, 0.85, 0.5, 0.7]),
        labels=torch.tensor([0, 1, 0, 0]),
    )
    chosen = select_windows(candidates, DecodeConfig(max_seg_num=3))
    # class 1 is suppressed only by its own class, so its duplicate window keeps 0.85
    assert chosen.scores.tolist() == pytest.approx([0.9, 0.85, 0.7])
    assert chosen.labels.tolist() == [0, 1, 0]
    hard = select_windows(candidates, DecodeConfig(soft_nms=False, iou_threshold=0.5))
    assert hard.scores.tolist() == pytest.approx([0.9, 0.85, 0.7, 0.5])


def test_decode_batch_shapes_and_never_empty():
    generator = PointGenerator(64, OSGNET_STRIDES)
    lengths = [64 // 2**level for level in range(7)]
    points = generator(lengths)
    rng = torch.Generator().manual_seed(0)
    logits = [torch.randn(2, n, 1, generator=rng) - 8 for n in lengths]
    offsets = [torch.rand(2, n, 2, generator=rng) * 3 for n in lengths]
    masks = [torch.ones(2, n, dtype=torch.bool) for n in lengths]
    results = decode_batch(points, masks, logits, offsets, [NLQ_TIMING, NLQ_TIMING])
    assert len(results) == 2
    for result in results:
        assert 1 <= result.segments.shape[0] <= 5
        assert torch.all(result.scores[:-1] >= result.scores[1:])
        assert torch.all((result.segments >= 0) & (result.segments <= NLQ_TIMING.duration))


def test_empty_level_and_no_candidates_do_not_crash():
    empty = level_candidates(torch.zeros((0, 4)), torch.zeros(0, dtype=torch.bool),
                             torch.zeros((0, 1)), torch.zeros((0, 2)), DecodeConfig())
    assert empty.segments.shape == (0, 2) and empty.scores.shape == (0,)
    assert select_windows(empty, DecodeConfig()).segments.shape == (0, 2)


def test_fixture_eval_outputs_decode_to_reference_windows(reference_fixtures):
    fixture = torch.load(reference_fixtures / "osgnet_small_nlq.pt", weights_only=True)
    expected = fixture["expected"]
    generator = PointGenerator(1024, OSGNET_STRIDES)
    points = generator([x.shape[1] for x in expected["eval_cls_logits"]])
    masks = [m.squeeze(1) for m in expected["eval_fpn_masks"]]
    timings = [VideoTiming(s["fps"], s["duration"], s["feat_stride"], s["feat_num_frames"])
               for s in fixture["inputs"]]
    results = decode_batch(points, masks, expected["eval_cls_logits"], expected["eval_offsets"],
                           timings)
    for result, reference in zip(results, expected["eval_results"]):
        assert result.segments.shape == reference["segments"].shape
        assert torch.allclose(result.segments, reference["segments"].float(), atol=1e-3, rtol=0)
        assert torch.allclose(result.scores, reference["scores"].float(), atol=1e-5, rtol=0)
    unshifted = decode_batch(points, masks, expected["eval_cls_logits"], expected["eval_offsets"],
                             timings, DecodeConfig(half_clip_offset=False))
    shift = results[0].segments - unshifted[0].segments
    inside = (results[0].segments > 8 / 30) & (results[0].segments < timings[0].duration)
    assert torch.allclose(shift[inside], torch.tensor(8 / 30), atol=1e-4)
