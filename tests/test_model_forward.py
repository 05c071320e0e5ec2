"""Whole-model behaviour on a tiny config: eval predictions, training losses and gradients, the
loss normaliser, padding invariance, and the documented quirk switches."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tiny_model import tiny_config_document

from trainers.config import parse_model_config
from trainers.model.inputs import GroundingSample
from trainers.model.osgnet import OSGNet

VIDEO_DIM, TEXT_DIM, OBJECT_DIM, MAX_SEQ_LEN = 24, 12, 16, 1024


def make_sample(length: int, seed: int, num_queries: int = 3) -> GroundingSample:
    """One query of a synthetic video with every field the model reads."""
    g = torch.Generator().manual_seed(seed)
    objects = [torch.randn(int(torch.randint(0, 3, (1,), generator=g)), OBJECT_DIM, generator=g)
               for _ in range(length)]
    segments = [torch.tensor([[s, s + 10.0 + 7 * i]], dtype=torch.float64)
                for i, s in enumerate(torch.linspace(5, length - 60, num_queries).tolist())]
    cuts = torch.tensor([0.0, length * 0.3, length * 0.55, length * 0.8, length])
    shots = torch.stack([torch.cat([cuts[:-1], cuts[-1:]]), torch.cat([cuts[1:], torch.tensor([MAX_SEQ_LEN])])])
    return GroundingSample(
        video_id=f"vid{seed}", query_id=f"q{seed}", feats=torch.randn(VIDEO_DIM, length, generator=g),
        query_feats=torch.randn(TEXT_DIM, 5 + seed % 4, generator=g), object_feats=objects,
        segments=segments[0], one_hot_labels=torch.ones(1, 1, dtype=torch.int64),
        video_query_feats=[torch.randn(TEXT_DIM, 4 + i, generator=g) for i in range(num_queries)],
        video_segments=segments, shots=shots, fps=30.0, duration=length * 16 / 30,
        feat_stride=16.0, feat_num_frames=16.0,
    )


def build(path_pdrop: float = 0.0, **quirks: bool) -> OSGNet:
    document = tiny_config_document(video_dim=VIDEO_DIM, text_dim=TEXT_DIM, object_dim=OBJECT_DIM,
                                    max_seq_len=MAX_SEQ_LEN, path_pdrop=path_pdrop)
    document["model"]["quirks"] = quirks
    torch.manual_seed(0)
    return OSGNet(parse_model_config(document, "tiny"))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def samples():
    return [make_sample(300, 1), make_sample(700, 2)]


@pytest.fixture(scope="module")
def trained_step(samples):
    """One training forward + backward with drop-path on (all layer-scale parameters exist)."""
    model = build(path_pdrop=0.1)
    model.train()
    losses = model(samples)
    losses["final_loss"].backward()
    return model, losses


def test_eval_predictions(samples):
    model = build().eval()
    predictions = model(samples)
    assert [p["video_id"] for p in predictions] == ["vid1", "vid2"]
    for prediction, sample in zip(predictions, samples):
        segments, scores = prediction["segments"], prediction["scores"]
        assert segments.shape == (5, 2) and scores.shape == (5,)
        assert torch.all(scores[:-1] >= scores[1:])
        assert torch.all(segments >= 0) and torch.all(segments <= sample.duration)
        assert torch.all(segments[:, 1] >= segments[:, 0])


def test_training_losses_and_gradients(trained_step):
    model, losses = trained_step
    assert set(losses) == {"final_loss", "cls_loss", "reg_loss", "vtm_loss"}
    assert all(torch.isfinite(v) for v in losses.values())
    expected = losses["cls_loss"] + losses["reg_loss"] + 1.5 * losses["vtm_loss"]
    torch.testing.assert_close(losses["final_loss"], expected)
    without_gradient = sorted(n for n, p in model.named_parameters() if p.grad is None)
    assert without_gradient == ["obj_encoder.1.0.drop_path_attn.scale"]  # unused in the reference (B3)


def test_loss_normalizer_updates_only_in_gradient_steps(trained_step, samples):
    model, _ = trained_step
    after_step = float(model.loss_normalizer)
    assert after_step != 200.0 and 180.0 < after_step < 200.0
    with torch.no_grad():
        model(samples)
    assert float(model.loss_normalizer) == after_step


def test_empty_shots_and_queries_without_windows(samples):
    """Zero-length shots are dropped (the reference crashed, B5); no shot at all gives a zero
    VTM loss; a sample without GT windows only has negatives."""
    model = build().train()
    empty_shots = torch.tensor([[0.0, 0.0, 300.0], [0.0, 0.5, MAX_SEQ_LEN]])
    no_window = dataclasses.replace(samples[0], segments=torch.zeros(0, 2, dtype=torch.float64),
                                    one_hot_labels=torch.zeros(0, 1, dtype=torch.int64), shots=empty_shots)
    losses = model([no_window, samples[1]])
    assert torch.isfinite(losses["final_loss"]) and losses["vtm_loss"] > 0
    losses = model([no_window, dataclasses.replace(samples[1], shots=empty_shots)])
    assert losses["vtm_loss"] == 0 and torch.isfinite(losses["final_loss"])
    losses["final_loss"].backward()

def test_batching_does_not_change_a_sample(samples):
    model = build().eval()
    with torch.no_grad():
        alone = model.encode(samples[:1])
        together = model.encode(samples)
    assert alone.video.shape[-1] == 512 and together.video.shape[-1] == 1024
    for level, (a, b) in enumerate(zip(alone.cls_logits, together.cls_logits)):
        valid = int(alone.fpn_masks[level][0, 0].sum())
        torch.testing.assert_close(a[0, :valid], b[0, :valid], atol=1e-4, rtol=1e-4)


def test_videos_longer_than_max_seq_len_interpolate_the_position_table(samples):
    """GoalStep validation videos exceed max_seq_len; the reference interpolated its position
    table at inference (and would crash in training, which we also allow)."""
    document = tiny_config_document(video_dim=VIDEO_DIM, text_dim=TEXT_DIM, object_dim=OBJECT_DIM,
                                    max_seq_len=256)
    model = OSGNet(parse_model_config(document, "short"))
    assert model.pos_embd.shape[-1] == 256
    model.eval()
    predictions = model(samples[1:])
    assert predictions[0]["segments"].shape == (5, 2)
    model.train()
    assert torch.isfinite(model(samples[1:])["final_loss"])

def test_half_clip_offset_quirk_shifts_times(samples):
    shifted, plain = build().eval(), build(half_clip_time_offset=False).eval()
    with torch.no_grad():
        on, off = shifted(samples[:1])[0]["segments"], plain(samples[:1])[0]["segments"]
    duration = samples[0].duration
    inside = (on > 0) & (on < duration) & (off > 0) & (off < duration)
    assert inside.any()
    torch.testing.assert_close(on[inside] - off[inside], torch.full_like(on[inside], 0.5 * 16 / 30),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("padded", [True, False])
def test_qformer_fc_padding_quirk(samples, padded):
    """With the reference padding the aggregator conv's first two taps never see a query (B1)."""
    model = build(qformer_fc_padding=padded).train()
    model(samples)["final_loss"].backward()
    taps = model.shot_aggregator.fc.convs[0].conv.weight.grad.abs().sum(dim=(0, 1))
    assert taps.shape == (5,)
    assert (taps[:2].sum() == 0) == padded
    assert taps[2:].sum() > 0

