"""Linear warm-up then cosine annealing, stepped once per iteration (pipeline.md §4.4).

Closed form of the reference's schedule, with ``k`` scheduler steps taken so far, warm-up length
``W`` and total length ``M`` (both in iterations), base lr ``b`` and floor ``eta_min``:

* ``k == 0``: 0 (the very first update uses lr 0, as in the reference);
* ``0 < k < W``: ``b * k / (W - 1)``;
* ``k >= W``: ``eta_min + (b - eta_min) * (1 + cos(pi * (k - W) / (M - W))) / 2``.
"""

from __future__ import annotations

import math

import torch


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

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int,
                 eta_min: float = 1e-8) -> None:
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
        return {"steps_taken": self.steps_taken, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps, "eta_min": self.eta_min}

    def load_state_dict(self, state: dict) -> None:
        self.steps_taken = int(state["steps_taken"])
        self._apply()

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = warmup_cosine_factor(
                self.steps_taken, self.warmup_steps, self.total_steps, group["initial_lr"], self.eta_min
            )
