"""Focal, DIoU, the NLQ loss with its EMA normaliser, VTM labels and InfoNCE (model.md §3)."""

import math

import pytest
import torch
import torch.nn.functional as F

from trainers.model.assign import assign_batch
from trainers.model.losses import (diou_loss_1d, infonce_loss, nlq_losses, shot_spans,
                                   sigmoid_focal_loss, update_normalizer, vtm_labels, vtm_loss)
from trainers.model.points import PointGenerator

OSGNET_STRIDES = [1, 2, 4, 8, 16, 32, 64]

def test_focal_loss_by_hand():
    logits = torch.tensor([0.0, 0.0, 2.0])
    targets = torch.tensor([1.0, 0.0, 0.95])
    loss = sigmoid_focal_loss(logits, targets)
    log2 = math.log(2)
    assert loss[0].item() == pytest.approx(0.25 * 0.25 * log2, rel=1e-6)
    assert loss[1].item() == pytest.approx(0.75 * 0.25 * log2, rel=1e-6)
    p = 1 / (1 + math.exp(-2.0))
    y = 0.95
    bce = -(y * math.log(p) + (1 - y) * math.log(1 - p))
    p_t = p * y + (1 - p) * (1 - y)
    alpha_t = 0.25 * y + 0.75 * (1 - y)
    assert loss[2].item() == pytest.approx(alpha_t * bce * (1 - p_t) ** 2, rel=1e-5)


def test_focal_loss_without_focusing_or_alpha_is_bce():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(0))
    targets = torch.rand(50, generator=torch.Generator().manual_seed(1))
    plain = sigmoid_focal_loss(logits, targets, alpha=-1, gamma=0.0)
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    assert torch.allclose(plain, bce)


def test_diou_by_hand():
    pred = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 2.0], [0.0, 0.0]])
    target = torch.tensor([[1.0, 1.0], [2.0, 2.0], [2.0, 0.0], [0.0, 0.0]])
    # same window -> 0; nested same centre -> 1 - 2/4; disjoint mirrored: IoU 0, ρ = 2, c = 4;
    # empty vs empty: IoU 0/eps = 0, ρ = 0 -> 1 (no NaN)
    assert torch.allclose(diou_loss_1d(pred, target), torch.tensor([0.0, 0.5, 1.25, 1.0]))


def test_normalizer_ema():
    assert update_normalizer(200.0, 12) == pytest.approx(181.2)
    assert update_normalizer(200.0, 0) == pytest.approx(180.1)
    assert update_normalizer(100.0, 40, momentum=0.5) == pytest.approx(70.0)


def grids(lengths=(8, 4)):
    points = PointGenerator(8, [1, 2], [(0, 4), (2, 8)])(list(lengths))
    return points


def test_nlq_loss_sums_over_valid_points_and_divides_by_updated_normalizer():
    points = grids()
    cls_targets, reg_targets = assign_batch(points, [torch.tensor([[2.0, 5.0]])])
    num_pos = int(cls_targets.sum())
    assert num_pos > 0
    cls_logits = [torch.zeros(1, 8, 1), torch.zeros(1, 4, 1)]
    offsets = [torch.ones(1, 8, 2), torch.ones(1, 4, 2)]
    masks = [torch.tensor([[True] * 6 + [False] * 2]), torch.tensor([[True] * 3 + [False]])]
    losses = nlq_losses(cls_logits, offsets, masks, cls_targets, reg_targets, normalizer=10.0)
    assert losses.normalizer == pytest.approx(0.9 * 10 + 0.1 * num_pos)
    valid = torch.cat(masks, 1)[0]
    smoothed = cls_targets[0, valid, 0] * 0.9 + 0.05
    expected_cls = (sigmoid_focal_loss(torch.zeros(int(valid.sum())), smoothed).sum()
                    / losses.normalizer)
    assert losses.cls.item() == pytest.approx(expected_cls.item(), rel=1e-6)
    positive = valid & (cls_targets[0, :, 0] > 0)
    expected_reg = diou_loss_1d(torch.ones(int(positive.sum()), 2),
                                reg_targets[0, positive]).sum() / losses.normalizer
    assert losses.reg.item() == pytest.approx(expected_reg.item(), rel=1e-6)
    assert losses.total.item() == pytest.approx(losses.cls.item() + losses.reg.item())


def test_nlq_loss_without_positives_keeps_a_gradient_path():
    points = grids()
    cls_targets, reg_targets = assign_batch(points, [torch.zeros((0, 2))])
    offsets = [torch.ones(1, 8, 2, requires_grad=True), torch.ones(1, 4, 2, requires_grad=True)]
    logits = [torch.zeros(1, 8, 1, requires_grad=True), torch.zeros(1, 4, 1, requires_grad=True)]
    masks = [torch.ones(1, 8, dtype=torch.bool), torch.ones(1, 4, dtype=torch.bool)]
    losses = nlq_losses(logits, offsets, masks, cls_targets, reg_targets, normalizer=200.0,
                        reg_weight=2.0)
    assert losses.num_positives == 0 and losses.reg.item() == 0.0
    assert losses.normalizer == pytest.approx(180.1)
    losses.total.backward()
    assert offsets[0].grad is not None and torch.all(offsets[0].grad == 0)
    assert logits[0].grad.abs().sum() > 0


def test_fixture_losses_and_normalizer_match_the_reference(reference_fixtures):
    fixture = torch.load(reference_fixtures / "osgnet_small_nlq.pt", weights_only=True)
    expected = fixture["expected"]
    generator = PointGenerator(1024, OSGNET_STRIDES)
    points = generator([x.shape[1] for x in expected["train_cls_logits"]])
    cls_targets, reg_targets = assign_batch(points, [s["segments"] for s in fixture["inputs"]])
    masks = [m.squeeze(1) for m in expected["eval_fpn_masks"]]
    losses = nlq_losses(expected["train_cls_logits"], expected["train_offsets"], masks,
                        cls_targets, reg_targets, normalizer=200.0)
    reference = expected["train_losses"]
    assert losses.normalizer == pytest.approx(expected["loss_normalizer_after"], rel=1e-4)
    assert losses.cls.item() == pytest.approx(reference["cls_loss"], rel=1e-4)
    assert losses.reg.item() == pytest.approx(reference["reg_loss"], rel=1e-4)
    final = losses.total.item() + 1.5 * reference["vtm_loss"]
    assert final == pytest.approx(reference["final_loss"], rel=1e-4)


def test_shot_spans_truncate_drop_padding_and_empty_shots():
    shots = torch.tensor([[0.0, 3.7, 4.2, 9.0, 12.0], [3.7, 4.2, 9.0, 12.0, 1024.0]])
    # int(): [0,3], [3,4], [4,9], [9,12]; the last column is the padding shot
    assert shot_spans(shots).tolist() == [[0, 3], [3, 4], [4, 9], [9, 12]]
    empty_inside = torch.tensor([[0.0, 3.2, 3.9, 12.0], [3.2, 3.9, 12.0, 1024.0]])
    assert shot_spans(empty_inside).tolist() == [[0, 3], [3, 12]]
    assert shot_spans(empty_inside).dtype == torch.int64


def test_vtm_labels_are_block_diagonal_overlaps():
    spans = [torch.tensor([[0, 10], [10, 20], [20, 30]]), torch.tensor([[0, 5], [5, 40]])]
    texts = [
        [torch.tensor([[12.0, 15.0]]), torch.tensor([[9.5, 20.0], [29.0, 31.0]])],
        [torch.tensor([[5.0, 5.5]])],
    ]
    labels = vtm_labels(spans, texts)
    assert labels.dtype == torch.bool
    assert labels.int().tolist() == [
        [0, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [0, 0, 0, 0, 1],
    ]
    # touching at a boundary is no overlap
    assert not vtm_labels([torch.tensor([[0, 10]])], [[torch.tensor([[10.0, 12.0]])]]).any()


def test_infonce_by_hand():
    similarity = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    labels = torch.eye(2, dtype=torch.bool)
    # each row and column: −log softmax = log(1 + e^{−1/τ}); loss = 2·that with τ = 1
    assert infonce_loss(similarity, labels, temperature=1.0).item() == pytest.approx(
        2 * math.log(1 + math.exp(-1.0)), rel=1e-6)
    # a text matching every shot: its row term is log 1 = 0; columns are unchanged
    both = torch.tensor([[True, True], [False, False]])
    column_term = -(math.log(math.exp(1) / (math.exp(1) + 1)) + math.log(1 / (1 + math.exp(1)))) / 2
    assert infonce_loss(similarity, both, temperature=1.0).item() == pytest.approx(column_term,
                                                                                   rel=1e-6)


def test_infonce_without_positives_is_zero_not_nan():
    similarity = torch.randn(3, 4, requires_grad=True)
    loss = infonce_loss(similarity, torch.zeros(3, 4, dtype=torch.bool), temperature=0.05)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(similarity.grad == 0)


def test_vtm_loss_divides_by_normalizer_and_world_size():
    similarity = torch.tensor([[0.3, -0.2, 0.1], [0.0, 0.5, -0.4]])
    labels = torch.tensor([[True, False, False], [False, True, True]])
    base = infonce_loss(similarity, labels, temperature=0.05).item()
    assert base > 0
    assert vtm_loss(similarity, labels, normalizer=181.2, temperature=0.05, world_size=2).item() == pytest.approx(
        base / 181.2 / 2, rel=1e-6)
