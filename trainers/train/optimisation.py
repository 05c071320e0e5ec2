"""Optimisation, as the reference does it (pipeline.md §4.3, §4.4, §4.6): AdamW with its
weight-decay split, linear warm-up then cosine stepped per iteration, and the EMA of the weights.

**Decay split.** A parameter is decayed iff it is the ``weight`` of a Linear, Conv1d, Embedding or
MultiheadAttention module (``in_proj_weight`` included). Everything else (biases, norm weights,
Mamba's ``A_log`` / ``D``, learned scales) is not. One classifier serves every split, which fixes
the reference's broken ``backbone_lr_weight`` path (pipeline.md §8.1 item 14). The settings are the
run config's ``opt:`` section (:class:`trainers.config.OptimConfig`).

**Schedule.** Closed form of the reference's schedule, with ``k`` scheduler steps taken so far,
warm-up length ``W`` and total length ``M`` (both in iterations), base lr ``b`` and floor ``eta_min``:

* ``k == 0``: 0 (the very first update uses lr 0, as in the reference);
* ``0 < k < W``: ``b * k / (W - 1)``;
* ``k >= W``: ``eta_min + (b - eta_min) * (1 + cos(pi * (k - W) / (M - W))) / 2``.

**EMA.** After every optimiser step each floating-point ``state_dict`` entry becomes
``e <- decay * e + (1 - decay) * m``; integer buffers are copied. Entries are matched by name on
the unwrapped model (no ``module.`` prefix games).
"""

from __future__ import annotations

import copy
import math
from typing import Generic, TypeVar

import torch
from torch import nn

from trainers.config import OptimConfig

ModuleT = TypeVar("ModuleT", bound=nn.Module)
DECAYED_MODULES = (nn.Linear, nn.Conv1d, nn.Embedding, nn.MultiheadAttention)

BETAS = (0.9, 0.999)
EPS = 1e-8


def decay_parameter_names(model: nn.Module) -> set[str]:
    """Names of the parameters that get weight decay."""
    names = set()
    for module_name, module in model.named_modules():
        if not isinstance(module, DECAYED_MODULES):
            continue
        for param_name, _ in module.named_parameters(recurse=False):
            if param_name.endswith("weight"):
                names.add(f"{module_name}.{param_name}" if module_name else param_name)
    return names


def is_head_parameter(name: str) -> bool:
    """The reference's "head" test for ``backbone_lr_weight``: the name mentions head or decoder."""
    return "head" in name or "decoder" in name


def parameter_groups(model: nn.Module, cfg: OptimConfig, lr_scale: float = 1.0) -> list[dict]:
    """Optimiser groups, each sorted by name: decay / no-decay, split by head / backbone when
    ``backbone_lr_weight != 1`` (backbone groups get ``lr * backbone_lr_weight``); every lr is
    ``opt.learning_rate * lr_scale`` (the world size when ``trainer.scale_lr``) times that weight."""
    decay = decay_parameter_names(model)
    named = sorted((n, p) for n, p in model.named_parameters() if p.requires_grad)
    split_backbone = cfg.backbone_lr_weight != 1.0
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, param in named:
        is_backbone = split_backbone and not is_head_parameter(name)
        groups.setdefault((name in decay, is_backbone), []).append(param)
    result = []
    for (decayed, is_backbone), params in sorted(groups.items(), key=lambda item: (not item[0][0], item[0][1])):
        lr = cfg.learning_rate * lr_scale * (cfg.backbone_lr_weight if is_backbone else 1.0)
        result.append(
            {
                "params": params,
                "weight_decay": cfg.weight_decay if decayed else 0.0,
                "lr": lr,
                "initial_lr": lr,
            }
        )
    return result


def make_optimizer(model: nn.Module, cfg: OptimConfig, lr_scale: float = 1.0) -> torch.optim.AdamW:
    """AdamW (betas 0.9/0.999, eps 1e-8) over :func:`parameter_groups`."""
    return torch.optim.AdamW(
        parameter_groups(model, cfg, lr_scale), lr=cfg.learning_rate * lr_scale, betas=BETAS, eps=EPS
    )


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int, base_lr: float, eta_min: float) -> float:
    """The learning rate after ``step`` scheduler steps (see the module docstring)."""
    if step == 0 and warmup_steps > 0:
        return 0.0
    if step < warmup_steps:
        return base_lr * step / max(warmup_steps - 1, 1)
    span = max(total_steps - warmup_steps, 1)
    progress = min(step - warmup_steps, span) / span
    return eta_min + (base_lr - eta_min) * (1.0 + math.cos(math.pi * progress)) / 2.0


class WarmupCosineSchedule:
    """Sets each group's lr from its ``initial_lr``; ``step()`` after every ``optimizer.step()``.

    Its state is one integer, so resuming restores the exact lr sequence.
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, eta_min: float = 1e-8
    ) -> None:
        self.optimizer = optimizer
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.eta_min = eta_min
        self.steps_taken = 0
        self._apply()

    def step(self) -> None:
        """Advance one iteration and update every group's lr."""
        self.steps_taken += 1
        self._apply()

    def current_lrs(self) -> list[float]:
        """The lr of every parameter group now."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {
            "steps_taken": self.steps_taken,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "eta_min": self.eta_min,
        }

    def load_state_dict(self, state: dict) -> None:
        self.steps_taken = int(state["steps_taken"])
        self._apply()

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = warmup_cosine_factor(
                self.steps_taken, self.warmup_steps, self.total_steps, group["initial_lr"], self.eta_min
            )


class ModelEma(Generic[ModuleT]):
    """Holds an eval-mode copy of ``model`` whose weights trail the training weights."""

    def __init__(self, model: ModuleT, decay: float = 0.999) -> None:
        self.decay = decay
        self.module: ModuleT = copy.deepcopy(model).eval()
        for param in self.module.parameters():
            param.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Blend ``model``'s current weights into the average."""
        current = model.state_dict()
        for name, ema_value in self.module.state_dict().items():
            value = current[name].detach()
            if ema_value.dtype.is_floating_point:
                ema_value.mul_(self.decay).add_(value.to(ema_value.device), alpha=1.0 - self.decay)
            else:
                ema_value.copy_(value)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)
