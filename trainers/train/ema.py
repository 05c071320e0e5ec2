"""Exponential moving average of a model's weights (pipeline.md §4.6).

After every optimiser step each floating-point ``state_dict`` entry becomes
``e <- decay * e + (1 - decay) * m``; integer buffers are copied. Entries are matched by name on
the unwrapped model (no ``module.`` prefix games).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEma:
    """Holds an eval-mode copy of ``model`` whose weights trail the training weights."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
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
