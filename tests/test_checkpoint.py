"""Checkpoint conversion and strict loading: official wrappers, DDP prefixes, our format, the
training-state format, and one readable error for every mismatch."""

from __future__ import annotations

import pytest
import torch
import yaml
from tiny_model import tiny_config_document

from osgnet_bench.cli import main
from osgnet_bench.errors import UserError
from trainers.config import parse_model_config
from trainers.model.checkpoint import MODEL_FORMAT, TRAIN_STATE_FORMAT, load_checkpoint_into, read_checkpoint
from trainers.model.osgnet import OSGNet


@pytest.fixture(scope="module")
def config():
    return parse_model_config(tiny_config_document(), "tiny")


@pytest.fixture()
def config_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_document()))
    return path


def official_state(model: OSGNet) -> dict[str, torch.Tensor]:
    """What the reference saves: parameters only (no loss normaliser), randomised so a load is
    visible."""
    return {name: torch.randn_like(p) for name, p in model.named_parameters()}


def assert_loaded(model: OSGNet, state: dict[str, torch.Tensor]) -> None:
    for name, p in model.named_parameters():
        assert torch.equal(p.detach(), state[name]), name


def test_convert_official_through_cli(config, config_file, tmp_path, capsys):
    source = OSGNet(config)
    state = official_state(source)
    torch.save({"epoch": 3, "state_dict": state}, tmp_path / "official.pth.tar")
    out = tmp_path / "ours.pt"
    with pytest.raises(SystemExit) as exit_info:
        main(["convert-checkpoint", str(tmp_path / "official.pth.tar"), "--config", str(config_file),
              "--out", str(out)])
    assert exit_info.value.code == 0
    assert "(epoch 4)" in capsys.readouterr().out  # the file records the 0-based index 3
    saved = torch.load(out, weights_only=True)
    assert saved["format"] == MODEL_FORMAT and saved["epoch"] == 3
    assert float(saved["state_dict"]["loss_normalizer"]) == 200.0
    target = OSGNet(config)
    assert load_checkpoint_into(target, out) == 3
    assert_loaded(target, state)


def test_ddp_prefix_and_ema_preferred(config, tmp_path):
    model = OSGNet(config)
    weights, ema = official_state(model), official_state(model)
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in weights.items()},
                "state_dict_ema": {f"module.{k}": v for k, v in ema.items()}}, tmp_path / "ddp.pth.tar")
    load_checkpoint_into(model, tmp_path / "ddp.pth.tar")
    assert_loaded(model, ema)


def test_training_state_prefers_ema_and_keeps_normalizer(config, tmp_path):
    model = OSGNet(config)
    ema = {**official_state(model), "loss_normalizer": torch.tensor(37.5, dtype=torch.float64)}
    torch.save({"format": TRAIN_STATE_FORMAT, "epoch": 2, "model": model.state_dict(), "ema": ema},
               tmp_path / "last.pt")
    state, epoch, kind = read_checkpoint(tmp_path / "last.pt")
    assert (epoch, kind) == (2, "train-state")
    load_checkpoint_into(model, tmp_path / "last.pt")
    assert float(model.loss_normalizer) == 37.5
    assert_loaded(model, state)


def test_every_mismatch_in_one_error(config, tmp_path):
    model = OSGNet(config)
    state = official_state(model)
    del state["nlq_cls_head.cls_head.conv.bias"]
    state["video_encoder.1.0.extra.weight"] = torch.zeros(3)
    state["text_encoder.0.0.convs.0.conv.weight"] = torch.zeros(1, 1, 1)
    torch.save({"epoch": 0, "state_dict": state}, tmp_path / "bad.pth.tar")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UserError) as error:
        load_checkpoint_into(model, tmp_path / "bad.pth.tar")
    message = str(error.value)
    assert "1 missing: nlq_cls_head.cls_head.conv.bias" in message
    assert "1 unexpected: video_encoder.1.0.extra.weight" in message
    assert "1 wrong shape: text_encoder.0.0.convs.0.conv.weight (checkpoint (1, 1, 1)" in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_config_of_another_size_is_rejected(config_file, tmp_path, capsys):
    wide = OSGNet(parse_model_config(tiny_config_document(width=64), "wide"))
    torch.save({"epoch": 0, "state_dict": official_state(wide)}, tmp_path / "wide.pth.tar")
    out = tmp_path / "never.pt"
    with pytest.raises(SystemExit) as exit_info:
        main(["convert-checkpoint", str(tmp_path / "wide.pth.tar"), "--config", str(config_file),
              "--out", str(out)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "wrong shape" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_unreadable_files(tmp_path, content):
    path = tmp_path / "file.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match="file.pt"):
        read_checkpoint(path)


def test_file_without_state_dict(tmp_path):
    torch.save({"epoch": 1, "optimizer": {"lr": 0.1}}, tmp_path / "opt.pt")
    with pytest.raises(UserError, match="no state dict found"):
        read_checkpoint(tmp_path / "opt.pt")


def test_pickled_objects_are_refused_with_a_plain_reason(tmp_path):
    import argparse

    torch.save({"epoch": 1, "state_dict": {}, "args": argparse.Namespace(lr=0.1)}, tmp_path / "objects.pt")
    with pytest.raises(UserError, match="objects.pt: not a readable PyTorch checkpoint .*not unpickled for safety"):
        read_checkpoint(tmp_path / "objects.pt")
