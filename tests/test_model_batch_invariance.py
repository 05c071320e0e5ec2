"""Padding and batching: with ``quirks.padding_reaches_convs`` off a sample's outputs do not depend
on what it is batched with; with the reference default they do (documented quirk)."""

import pytest
import torch
from tiny_model import tiny_config_document

from trainers.config import parse_model_config
from trainers.model.inputs import GroundingSample
from trainers.model.osgnet import OSGNet

SHORT_STEPS, SHORT_TOKENS = 200, 6
FULL_STEPS = 512  # exactly the padded length of a batch of its own
LONG_STEPS, LONG_TOKENS = 900, 9


def make_sample(steps: int, tokens: int, seed: int) -> GroundingSample:
    g = torch.Generator().manual_seed(seed)
    return GroundingSample(
        video_id=f"v{seed}", query_id=f"q{seed}_0",
        feats=torch.randn(24, steps, generator=g),
        query_feats=torch.randn(12, tokens, generator=g),
        object_feats=[torch.randn(2, 16, generator=g) if t % 3 == 0 else None for t in range(steps)],
        fps=30.0, duration=steps * 16 / 30, feat_stride=16.0, feat_num_frames=16.0,
    )


def relative(x: torch.Tensor, y: torch.Tensor) -> float:
    return float((x - y).abs().max() / y.abs().max())


def perturbed_model(padding_reaches_convs: bool) -> OSGNet:
    """The tiny model with every parameter moved off its initial value (no zero LayerNorm bias,
    like a trained model), in eval mode."""
    document = tiny_config_document()
    document["model"]["quirks"] = {"padding_reaches_convs": padding_reaches_convs}
    torch.manual_seed(0)
    model = OSGNet(parse_model_config(document, "tiny")).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return model


def assert_encodings_match(model: OSGNet, sample: GroundingSample, steps: int, tokens: int) -> None:
    """Text, level-0 video and every FPN level of ``sample`` alone vs batched with a longer one."""
    long = make_sample(LONG_STEPS, LONG_TOKENS, 2)
    alone, batched = model.encode([sample]), model.encode([sample, long])
    assert alone.video.shape[-1] == 512 and batched.video.shape[-1] == 1024
    assert relative(batched.text[0, :, :tokens], alone.text[0, :, :tokens]) < 1e-5
    assert relative(batched.video[0, :, :steps], alone.video[0, :, :steps]) < 1e-5
    assert len(alone.fpn_feats) == len(batched.fpn_feats) == 7
    for level, (a, b) in enumerate(zip(alone.fpn_feats, batched.fpn_feats)):
        valid = -(-steps // 2 ** level)
        assert relative(b[0, :, :valid], a[0, :, :valid]) < 1e-5, level


@torch.no_grad()
def test_short_sample_outputs_do_not_depend_on_the_batch_without_the_quirk(one_thread):
    model = perturbed_model(padding_reaches_convs=False)
    short = make_sample(SHORT_STEPS, SHORT_TOKENS, 1)
    assert_encodings_match(model, short, SHORT_STEPS, SHORT_TOKENS)
    first, second = model([short])[0], model([short, make_sample(LONG_STEPS, LONG_TOKENS, 2)])[0]
    assert first["segments"].shape[0] == 5
    assert torch.allclose(first["segments"], second["segments"], atol=1e-4)
    assert torch.allclose(first["scores"], second["scores"], rtol=1e-4, atol=1e-7)


@torch.no_grad()
def test_full_length_sample_encodings_do_not_depend_on_the_batch_without_the_quirk(one_thread):
    """A sample filling its own padded length: alone the stem and q/k/v convs read their zero
    border past the last step, batched they read padded steps."""
    model = perturbed_model(padding_reaches_convs=False)
    full = make_sample(FULL_STEPS, LONG_TOKENS, 3)
    assert_encodings_match(model, full, FULL_STEPS, LONG_TOKENS)
    long = make_sample(LONG_STEPS, LONG_TOKENS, 2)
    alone, batched = model.encode([full]), model.encode([full, long])
    for level, (a, b) in enumerate(zip(alone.cls_logits, batched.cls_logits)):
        valid = -(-FULL_STEPS // 2 ** level)
        assert relative(b[0, :valid], a[0, :valid]) < 1e-5, level
    first, second = model([full])[0], model([full, long])[0]
    assert torch.allclose(first["segments"], second["segments"], atol=1e-4)
    assert torch.allclose(first["scores"], second["scores"], rtol=1e-4, atol=1e-7)


@torch.no_grad()
def test_reference_default_lets_padding_reach_the_convs(one_thread):
    model = perturbed_model(padding_reaches_convs=True)
    short, long = make_sample(SHORT_STEPS, SHORT_TOKENS, 1), make_sample(LONG_STEPS, LONG_TOKENS, 2)
    alone, batched = model.encode([short]), model.encode([short, long])
    assert relative(batched.text[0, :, :SHORT_TOKENS], alone.text[0, :, :SHORT_TOKENS]) > 1e-3
    full = make_sample(FULL_STEPS, LONG_TOKENS, 3)
    alone, batched = model.encode([full]), model.encode([full, long])
    assert relative(batched.video[0, :, :FULL_STEPS], alone.video[0, :, :FULL_STEPS]) > 1e-3


@pytest.mark.parametrize("stride, window", [(1, -1), (2, 9)])
def test_conv_attention_ignores_padded_content_only_when_masking_inputs(stride, window):
    """Valid outputs of ConvAttention with garbage at the padded steps (7 of 16 valid, odd so the
    stride-2 conv reaches step 7): unchanged with ``mask_input``, changed without."""
    from trainers.model.attention import ConvAttention

    torch.manual_seed(0)
    mask = (torch.arange(16) < 7).view(1, 1, 16)
    x = torch.randn(1, 8, 16) * mask
    garbage = x + torch.randn(1, 8, 16) * ~mask
    valid = -(-7 // stride)
    for mask_input, expect_equal in ((True, True), (False, False)):
        attention = ConvAttention(8, 2, stride, window, mask_input=mask_input).eval()
        with torch.no_grad():
            clean, _ = attention(x, mask)
            dirty, _ = attention(garbage, mask)
        assert torch.allclose(clean[..., :valid], dirty[..., :valid], atol=1e-6) == expect_equal
