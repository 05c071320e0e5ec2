"""AdamW with the reference's weight-decay split (pipeline.md §4.3).

A parameter is decayed iff it is the ``weight`` of a Linear, Conv1d, Embedding or
MultiheadAttention module (``in_proj_weight`` included). Everything else (biases, norm weights,
Mamba's ``A_log`` / ``D``, learned scales) is not. One classifier serves every split, which fixes
the reference's broken ``backbone_lr_weight`` path (pipeline.md §8.1 item 14).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

DECAYED_MODULES = (nn.Linear, nn.Conv1d, nn.Embedding, nn.MultiheadAttention)


@dataclass(frozen=True)
class OptimConfig:
    """The ``opt:`` section of a config (only the keys the optimiser reads)."""

    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    backbone_lr_weight: float = 1.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8


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


def parameter_groups(model: nn.Module, cfg: OptimConfig) -> list[dict]:
    """Optimiser groups, each sorted by name: decay / no-decay, split by head / backbone when
    ``backbone_lr_weight != 1`` (backbone groups get ``lr * backbone_lr_weight``)."""
    decay = decay_parameter_names(model)
    named = sorted((n, p) for n, p in model.named_parameters() if p.requires_grad)
    split_backbone = cfg.backbone_lr_weight != 1.0
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, param in named:
        is_backbone = split_backbone and not is_head_parameter(name)
        groups.setdefault((name in decay, is_backbone), []).append(param)
    result = []
    for (decayed, is_backbone), params in sorted(groups.items(), key=lambda item: (not item[0][0], item[0][1])):
        lr = cfg.learning_rate * (cfg.backbone_lr_weight if is_backbone else 1.0)
        result.append({
            "params": params,
            "weight_decay": cfg.weight_decay if decayed else 0.0,
            "lr": lr,
            "initial_lr": lr,
        })
    return result


def make_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW over :func:`parameter_groups`."""
    return torch.optim.AdamW(parameter_groups(model, cfg), lr=cfg.learning_rate, betas=cfg.betas, eps=cfg.eps)
