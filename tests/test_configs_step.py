"""Every shipped config builds its full-size model and trains one step (forward, backward,
update) on tiny synthetic inputs of the config's widths: 24 feature steps, padded to the
shortest legal length (512), one query with objects and shots where the config uses them.

The GoalStep and TACoS InternVideo configs build the NLQ v2 finetune network exactly (only the
sequence cap, frame rate and VTM loss weight differ, none of which changes a module), so one
step of that network stands for the three; ``test_same_network`` checks the equality."""

from __future__ import annotations

from pathlib import Path

import dataclasses

import pytest
import torch

from trainers.config import load_model_config
from trainers.model.config import ModelConfig
from trainers.model.inputs import GroundingSample
from trainers.model.osgnet import OSGNet

pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SAME_NETWORK_AS_NLQ_V2 = ("goalstep/internvideo_finetune.yaml", "tacos/internvideo_finetune.yaml")
NETWORKS = sorted(str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob("*.yaml")
                  if str(p.relative_to(CONFIGS)) not in SAME_NETWORK_AS_NLQ_V2)
LENGTH = 24
# parameters without a gradient in every training step: the object encoder's attention output
# replaces its input, so its drop_path_attn scale is unused (model.md section 7)
ALWAYS_UNUSED = ".drop_path_attn.scale"


def tiny_sample(config: ModelConfig, generator: torch.Generator) -> GroundingSample:
    """One query over LENGTH feature steps, with what this config's model reads."""
    segments = torch.tensor([[4.0, 12.0]], dtype=torch.float64)
    sample = GroundingSample(
        video_id="v0", query_id="q0_0", fps=30.0, duration=LENGTH * 16 / 30, feat_stride=16.0, feat_num_frames=16.0,
        feats=torch.randn(config.video_stem.in_dim, LENGTH, generator=generator),
        query_feats=torch.randn(config.text_stem.in_dim, 6, generator=generator),
        segments=segments, one_hot_labels=torch.ones(1, 1, dtype=torch.int64),
    )
    if config.object_branch:
        sample = dataclasses.replace(sample, object_feats=[
            torch.randn(t % 3, config.object_stem.in_dim, generator=generator) for t in range(LENGTH)])
    if config.use_vtm:
        other_query = torch.randn(config.text_stem.in_dim, 4, generator=generator)
        sample = dataclasses.replace(
            sample, video_query_feats=[sample.query_feats, other_query],
            video_segments=[segments, torch.tensor([[14.0, 20.0]], dtype=torch.float64)],
            shots=torch.tensor([[0.0, 10.0, LENGTH], [10.0, LENGTH, config.max_seq_len]]))
    return sample


@pytest.mark.parametrize("name", SAME_NETWORK_AS_NLQ_V2)
def test_same_network(name):
    def network(config: ModelConfig) -> ModelConfig:
        return dataclasses.replace(config, max_seq_len=0, vtm_loss_weight=0.0)

    assert network(load_model_config(CONFIGS / name)) == network(
        load_model_config(CONFIGS / "nlq_v2/internvideo_finetune.yaml"))


@pytest.mark.parametrize("name", NETWORKS)
def test_full_size_model_trains_a_step(name, one_thread):
    config = load_model_config(CONFIGS / name)
    torch.manual_seed(0)
    model = OSGNet(config).train()
    sample = tiny_sample(config, torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith("nlq_cls_head")}

    losses = model([sample])
    losses["final_loss"].backward()
    optimizer.step()

    assert set(losses) == ({"final_loss", "cls_loss", "reg_loss"} | ({"vtm_loss"} if config.use_vtm else set()))
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["reg_loss"] > 0 and losses["cls_loss"] > 0
    without_grad = {n for n, p in model.named_parameters() if p.grad is None}
    if config.object_branch:
        assert without_grad == {n for n in without_grad if n.startswith("obj_encoder.1.") and n.endswith(ALWAYS_UNUSED)}
        assert len(without_grad) == config.num_object_blocks
    else:  # narration pre-training never runs the object encoder (the reference builds it unused too)
        assert without_grad == {n for n, _ in model.named_parameters() if n.startswith("obj_encoder.")}
        assert not any("obj_attn" in n or "gate_mlp" in n for n, _ in model.named_parameters())
    assert all(not torch.equal(p, before[n]) for n, p in model.named_parameters() if n in before)
