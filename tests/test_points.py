"""Point generator: per-level grid positions, regression ranges and strides (model.md §2.6)."""

import math

import pytest
import torch

from trainers.model.points import OSGNET_REGRESSION_RANGES, PointGenerator, level_points

OSGNET_STRIDES = [1, 2, 4, 8, 16, 32, 64]


def test_level_rows_are_position_range_stride():
    points = level_points(4, 8, (8, 32))
    expected = torch.tensor([[0, 8, 32, 8], [8, 8, 32, 8], [16, 8, 32, 8], [24, 8, 32, 8]],
                            dtype=torch.float32)
    assert points.dtype == torch.float32
    assert torch.equal(points, expected)


def test_generator_slices_each_level_to_its_length():
    generator = PointGenerator(1024, OSGNET_STRIDES)
    lengths = [1024 // 2**level for level in range(7)]
    points = generator(lengths)
    assert [p.shape for p in points] == [torch.Size([n, 4]) for n in lengths]
    for level, (level_pts, (lo, hi)) in enumerate(zip(points, OSGNET_REGRESSION_RANGES)):
        stride = 2**level
        positions = torch.arange(lengths[level], dtype=torch.float32) * stride
        assert torch.equal(level_pts[:, 0], positions)
        assert torch.all(level_pts[:, 1] == lo) and torch.all(level_pts[:, 2] == hi)
        assert torch.all(level_pts[:, 3] == stride)
    assert points[6][-1].tolist() == [960.0, 64.0, 10000.0, 64.0]


def test_buffers_are_reference_sized_and_not_saved():
    generator = PointGenerator(1024, OSGNET_STRIDES)
    assert generator.state_dict() == {}
    buffers = dict(generator.named_buffers())
    for level in range(7):
        assert buffers[f"points_{level}"].shape[0] == math.ceil(4 * 1024 / 2**level)
    assert PointGenerator(1000, [1, 3], [(0, 4), (2, 8)]).points_1.shape[0] == math.ceil(4000 / 3)


def test_longer_than_buffer_is_generated_not_refused():
    generator = PointGenerator(8, [1, 2], [(0, 4), (2, 8)], buffer_len_factor=1.0)
    long_points = generator([40, 20])
    assert torch.equal(long_points[0], level_points(40, 1, (0, 4)))
    assert torch.equal(long_points[1], level_points(20, 2, (2, 8)))


def test_bad_level_counts_are_refused():
    with pytest.raises(ValueError, match="regression ranges"):
        PointGenerator(64, [1, 2, 4], [(0, 4), (2, 8)])
    with pytest.raises(ValueError, match="level lengths"):
        PointGenerator(64, [1, 2], [(0, 4), (2, 8)])([8])
