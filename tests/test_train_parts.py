"""Optimiser split, learning-rate schedule, EMA and training-state checkpoints."""

import math

import pytest
import torch
from torch import nn

from osgnet_bench.errors import UserError
from trainers.config import OptimConfig
from trainers.data.loader import without_worker_tracebacks
from trainers.train.checkpoints import (
    export_official,
    load_training_state,
    restore_rng_state,
    rng_state,
    save_training_state,
)
from trainers.train.optimisation import (
    ModelEma,
    WarmupCosineSchedule,
    decay_parameter_names,
    make_optimizer,
    warmup_cosine_factor,
)


class Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.conv = nn.Conv1d(4, 4, 3)
        self.norm = nn.LayerNorm(4)
        self.attn = nn.MultiheadAttention(4, 2)
        self.A_log = nn.Parameter(torch.zeros(4, 2))
        self.head = nn.Linear(4, 1)
        self.register_buffer("count", torch.zeros((), dtype=torch.long))


def test_decay_split_matches_reference_rules():
    names = decay_parameter_names(Toy())
    assert names == {"proj.weight", "conv.weight", "attn.in_proj_weight", "attn.out_proj.weight", "head.weight"}


def test_optimizer_groups_are_exhaustive_and_disjoint():
    model = Toy()
    opt = make_optimizer(model, OptimConfig(learning_rate=1e-3, weight_decay=0.05))
    ids = [id(p) for g in opt.param_groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]


def test_backbone_lr_weight_splits_head_and_backbone():
    opt = make_optimizer(Toy(), OptimConfig(learning_rate=1e-3, backbone_lr_weight=0.1))
    lrs = sorted(round(g["initial_lr"], 12) for g in opt.param_groups)
    assert lrs == [1e-4, 1e-4, 1e-3, 1e-3]


def test_schedule_closed_form():
    b, w, m = 4e-4, 10, 30
    assert warmup_cosine_factor(0, w, m, b, 1e-8) == 0.0
    assert warmup_cosine_factor(3, w, m, b, 1e-8) == pytest.approx(b * 3 / 9)
    assert warmup_cosine_factor(9, w, m, b, 1e-8) == pytest.approx(b)
    assert warmup_cosine_factor(10, w, m, b, 1e-8) == pytest.approx(b)
    mid = warmup_cosine_factor(20, w, m, b, 1e-8)
    assert mid == pytest.approx(1e-8 + (b - 1e-8) * (1 + math.cos(math.pi * 0.5)) / 2)
    assert warmup_cosine_factor(30, w, m, b, 1e-8) == pytest.approx(1e-8)


def test_schedule_resume_restores_lr():
    model = Toy()
    opt = make_optimizer(model, OptimConfig(learning_rate=1e-3))
    sched = WarmupCosineSchedule(opt, 5, 20)
    for _ in range(7):
        sched.step()
    fresh = WarmupCosineSchedule(make_optimizer(model, OptimConfig(learning_rate=1e-3)), 5, 20)
    fresh.load_state_dict(sched.state_dict())
    assert fresh.current_lrs() == sched.current_lrs()
    assert sched.current_lrs()[0] == pytest.approx(warmup_cosine_factor(7, 5, 20, 1e-3, 1e-8))


def test_ema_update_blends_and_copies_integer_buffers():
    model = Toy()
    ema = ModelEma(model, decay=0.9)
    before = ema.module.proj.weight.clone()
    with torch.no_grad():
        model.proj.weight.add_(1.0)
        model.count.fill_(5)
    ema.update(model)
    assert torch.allclose(ema.module.proj.weight, before * 0.9 + model.proj.weight * 0.1)
    assert int(ema.module.count) == 5
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_training_state_round_trip_and_rng(tmp_path):
    model = Toy()
    state = rng_state()
    first = torch.rand(3)
    restore_rng_state(state)
    assert torch.equal(torch.rand(3), first)
    path = tmp_path / "last.pt"
    optimizer = make_optimizer(model, OptimConfig())
    save_training_state(path, {"model": model.state_dict(), "ema": model.state_dict(), "epoch": 3, "rng": [state],
                               "optimizer": optimizer.state_dict(), "schedule": {"steps_taken": 0},
                               "progress": {"epoch": 3}})
    loaded = load_training_state(path)
    assert loaded["epoch"] == 3
    assert torch.equal(loaded["model"]["proj.weight"], model.proj.weight)
    assert not list(tmp_path.glob(".*.tmp"))


def test_official_export_layout(tmp_path):
    model = Toy()
    export_official(tmp_path / "model_official.pth.tar", 4, model.state_dict(), track="nlq_v2")
    data = torch.load(tmp_path / "model_official.pth.tar", weights_only=True)
    # the reference's layout, plus what the reference's loader ignores
    assert set(data) == {"epoch", "state_dict", "checksum", "track"} and data["epoch"] == 4
    assert set(data["state_dict"]) == set(model.state_dict())


def test_loading_a_foreign_file_is_a_clear_error(tmp_path):
    from osgnet_bench.errors import UserError

    torch.save({"epoch": 1, "state_dict": {}}, tmp_path / "x.pt")
    with pytest.raises(UserError, match="not an osgnet-bench training-state"):
        load_training_state(tmp_path / "x.pt")


class _FailingDataset(torch.utils.data.Dataset):
    """Raises the way a damaged store does, from inside a DataLoader worker process."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        if index == 2:
            raise UserError("video-feature store /data/v.lmdb: key 'abc' holds no readable array.")
        return index


def test_worker_user_error_reaches_the_user_without_a_traceback():
    loader = torch.utils.data.DataLoader(_FailingDataset(), batch_size=1, num_workers=1)
    seen = []
    with pytest.raises(UserError) as caught:
        for batch in without_worker_tracebacks(loader):
            seen.append(int(batch))
    assert seen == [0, 1]
    assert str(caught.value) == "video-feature store /data/v.lmdb: key 'abc' holds no readable array."
    with pytest.raises(UserError) as raw:  # what torch alone would show
        list(torch.utils.data.DataLoader(_FailingDataset(), batch_size=1, num_workers=1))
    assert "Traceback" in str(raw.value)
