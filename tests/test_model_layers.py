"""The model's building blocks against independent, loop-level definitions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from trainers.model.attention import ObjectSlotAttention, banded_attention
from trainers.model.batching import pad_objects, pad_sequences
from trainers.model.bimamba import BiMamba
from trainers.model.layers import LayerNorm, MaskedConv1D, sinusoid_table


def test_banded_attention_matches_a_loop():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 24, 8) for _ in range(3))
    lengths = [24, 13]
    valid = torch.arange(24)[None, :] < torch.tensor(lengths)[:, None]
    out = banded_attention(q, k, v, valid, radius=4)
    for b, length in enumerate(lengths):
        for i in range(24):
            if i >= length:
                assert torch.all(out[b, :, i] == 0)
                continue
            keys = [j for j in range(i - 4, i + 5) if 0 <= j < length]
            weights = torch.softmax(q[b, :, i, None, :].mul(k[b, :, keys, :]).sum(-1), dim=-1)
            expected = (weights[:, :, None] * v[b, :, keys, :]).sum(1)
            torch.testing.assert_close(out[b, :, i], expected, atol=1e-5, rtol=1e-5)


def test_masked_conv_stride_picks_even_steps():
    conv = MaskedConv1D(3, 5, 3, stride=2, groups=1, bias=False)
    x = torch.randn(1, 3, 8)
    mask = torch.tensor([[[1, 1, 1, 1, 1, 0, 0, 0]]], dtype=torch.bool)
    out, out_mask = conv(x, mask)
    assert out_mask.tolist() == [[[True, True, True, False]]]
    assert torch.all(out[..., 3] == 0) and torch.equal(out[..., :3], conv.conv(x)[..., :3])


def test_layer_norm_over_channels_and_slots():
    x = torch.randn(2, 3, 6, 5)
    ln = LayerNorm(6, dim=2)
    expected = F.layer_norm(x.transpose(2, 3), (6,)).transpose(2, 3)
    torch.testing.assert_close(ln(x), expected, atol=1e-5, rtol=1e-5)
    assert ln.weight.shape == (1, 1, 6, 1) and LayerNorm(6).weight.shape == (1, 6, 1)


def test_sinusoid_table_formula():
    table = sinusoid_table(10, 8)
    assert table.shape == (1, 8, 10)
    assert math.isclose(table[0, 0, 3].item(), math.sin(3), rel_tol=1e-6)
    assert math.isclose(table[0, 1, 3].item(), math.cos(3), rel_tol=1e-6)
    assert math.isclose(table[0, 5, 7].item(), math.cos(7 / 10000 ** (4 / 8)), rel_tol=1e-6)


def test_bimamba_ignores_padding_and_sees_both_directions():
    torch.manual_seed(1)
    mamba = BiMamba(16)
    x = torch.randn(1, 10, 16)
    alone = mamba(x, torch.ones(1, 10, dtype=torch.bool))
    padded = torch.cat([x, torch.randn(1, 6, 16)], dim=1)
    other = torch.randn(1, 16, 16)
    mask = torch.arange(16)[None, :] < torch.tensor([[10], [16]])
    both = mamba(torch.cat([padded, other]), mask)
    torch.testing.assert_close(both[0, :10], alone[0], atol=1e-5, rtol=1e-5)
    assert torch.all(both[0, 10:] == 0)
    later_changed = x.clone()
    later_changed[0, 9] += 1.0
    first_step = mamba(later_changed, torch.ones(1, 10, dtype=torch.bool))[0, 0]
    assert not torch.allclose(first_step, alone[0, 0])


def test_object_slots_are_b_major_time_series():
    d = 4
    steps = [torch.zeros(0, d), torch.ones(2, d), torch.full((1, d), 2.0)]
    objects, mask = pad_objects([steps, None], length=6, dim=d)
    assert objects.shape == (4, d, 6) and mask.shape == (4, 1, 6)
    assert mask[:, 0].tolist() == [[False, True, True, False, False, False],
                                   [False, True, False, False, False, False],
                                   [False] * 6, [False] * 6]
    assert torch.all(objects[0, :, 2] == 2.0) and torch.all(objects[1, :, 1] == 1.0)


def test_slot_attention_without_objects_gives_projection_bias():
    torch.manual_seed(2)
    attention = ObjectSlotAttention(8, 2)
    x, mask = torch.randn(1, 8, 3), torch.ones(1, 1, 3, dtype=torch.bool)
    objects = torch.randn(2, 8, 3)
    object_mask = torch.tensor([[[True, False, False]], [[True, True, False]]])
    out, _ = attention(x, mask, objects, object_mask)
    torch.testing.assert_close(out[0, :, 2], attention.proj.bias)
    assert not torch.allclose(out[0, :, 1], attention.proj.bias)


def test_pad_sequences_masks_the_tail():
    batched, mask = pad_sequences([torch.ones(2, 3), torch.ones(2, 5)], length=8)
    assert batched.shape == (2, 2, 8) and batched[0, :, 3:].abs().sum() == 0
    assert mask.sum(-1).flatten().tolist() == [3, 5]
