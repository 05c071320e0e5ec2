"""Parity with the reference OSGNet: the fixture's checkpoint, loaded through the converter, must
reproduce every recorded intermediate, the final windows, the losses and all gradient norms.

Forward order as the fixture was made: eval forward, then one train forward + backward.
Tolerances are the fixture README's.
"""

from __future__ import annotations

import pytest
import torch
import yaml

from trainers.config import parse_model_config
from trainers.model.checkpoint import convert_checkpoint, load_checkpoint_into
from trainers.model.inputs import GroundingSample
from trainers.model.osgnet import OSGNet

ATOL = RTOL = 1e-4


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def parity(reference_fixtures, tmp_path_factory):
    """Run the fixture once: eval outputs, then train losses and gradients."""
    fixture = torch.load(reference_fixtures / "osgnet_small_nlq.pt", weights_only=True)
    config = parse_model_config(yaml.safe_load(fixture["config_yaml"]), "osgnet_small_nlq.pt")
    folder = tmp_path_factory.mktemp("parity")
    official, ours = folder / "official.pth.tar", folder / "ours.pt"
    torch.save(fixture["checkpoint"], official)
    torch.manual_seed(7)
    model = OSGNet(config)
    convert_checkpoint(official, model, ours)
    epoch = load_checkpoint_into(model, ours)
    samples = [GroundingSample.from_reference(inputs) for inputs in fixture["inputs"]]

    model.eval()
    with torch.no_grad():
        encoded = model.encode(samples)
        results = model.predict(samples, encoded)
    model.train()
    train_encoded = model.encode(samples)
    losses = model.losses(samples, train_encoded)
    losses["final_loss"].backward()
    grads = {name: (0.0 if p.grad is None else p.grad.norm().item())
             for name, p in model.named_parameters()}
    return dict(expected=fixture["expected"], epoch=epoch, encoded=encoded, results=results,
                train=train_encoded, losses=losses, normalizer=float(model.loss_normalizer), grads=grads)


def assert_close(actual, expected, atol=ATOL, rtol=RTOL):
    torch.testing.assert_close(actual.float(), expected.float(), atol=atol, rtol=rtol)


def test_checkpoint_epoch_survives_conversion(parity):
    assert parity["epoch"] == 5


def test_text_and_video_encoders(parity):
    assert_close(parity["encoded"].text, parity["expected"]["eval_enc_txt"])
    assert_close(parity["encoded"].video, parity["expected"]["eval_enc_vid"])


def test_every_fpn_level_and_mask(parity):
    encoded, expected = parity["encoded"], parity["expected"]
    assert len(encoded.fpn_feats) == len(expected["eval_fpn_feats"]) == 7
    for ours, ref in zip(encoded.fpn_feats, expected["eval_fpn_feats"]):
        assert_close(ours, ref)
    for ours, ref in zip(encoded.fpn_masks, expected["eval_fpn_masks"]):
        assert torch.equal(ours, ref)


def test_eval_head_outputs(parity):
    encoded, expected = parity["encoded"], parity["expected"]
    for ours, ref in zip(encoded.cls_logits, expected["eval_cls_logits"]):
        assert_close(ours, ref)
    for ours, ref in zip(encoded.offsets, expected["eval_offsets"]):
        assert_close(ours, ref)


def test_top5_windows_and_scores(parity):
    for ours, ref in zip(parity["results"], parity["expected"]["eval_results"]):
        assert ours["video_id"] == ref["video_id"]
        assert ours["segments"].shape == ref["segments"].shape == (5, 2)
        torch.testing.assert_close(ours["segments"], ref["segments"], atol=1e-3, rtol=0)
        torch.testing.assert_close(ours["scores"], ref["scores"], atol=1e-5, rtol=0)


def test_train_losses_and_normalizer(parity):
    expected = parity["expected"]
    for name, value in expected["train_losses"].items():
        assert parity["losses"][name].item() == pytest.approx(value, rel=1e-4), name
    assert parity["normalizer"] == pytest.approx(expected["loss_normalizer_after"], rel=1e-4)


def test_train_head_outputs(parity):
    train, expected = parity["train"], parity["expected"]
    for ours, ref in zip(train.cls_logits, expected["train_cls_logits"]):
        assert_close(ours, ref)
    for ours, ref in zip(train.offsets, expected["train_offsets"]):
        assert_close(ours, ref)


def test_every_gradient_norm(parity):
    """rtol 1e-3; gradients the maths makes exactly zero (key biases before a softmax) are
    rounding noise around 1e-11 on both sides, hence the 1e-9 absolute floor."""
    expected = parity["expected"]["grad_norms"]
    assert set(parity["grads"]) == set(expected)
    mismatched = {name: (parity["grads"][name], ref) for name, ref in expected.items()
                  if abs(parity["grads"][name] - ref) > 1e-3 * abs(ref) + 1e-9}
    assert not mismatched
