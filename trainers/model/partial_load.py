"""Start a model from another model's weights: load every tensor that both have with the same
shape, keep the rest at its fresh initialisation, and say exactly which is which.

This is the pretrain -> finetune step (pipeline.md §4.11): a narration-pretrained checkpoint has
no object attention / gate in its ObjectMamba blocks and no VTM heads, so those start fresh in the
finetune model. The reference loads with ``strict=False`` and prints nothing; here the report
lists, grouped by module, the tensors that were

* loaded (present in both with the same shape),
* skipped (only in the checkpoint, or in both with different shapes; shapes are printed),
* initialised fresh (only in the model),
* reset (training bookkeeping that never carries over: the loss normaliser restarts at its
  configured value, as the reference's python float did).

A checkpoint that shares no tensor with the model is a ``UserError``: it is certainly the wrong file.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import torch

from osgnet_bench.errors import UserError
from trainers.model.checkpoint import absent_from_official, read_checkpoint
from trainers.model.osgnet import OSGNet

LOADED, UNEXPECTED, MIS_SHAPED, INITIALISED, RESET = "loaded", "unexpected", "mis_shaped", "initialised", "reset"
MAX_SHAPE_PAIRS = 3
HEADINGS = {
    LOADED: "loaded from the checkpoint",
    MIS_SHAPED: "skipped, shape differs (checkpoint -> model; the model keeps its fresh init)",
    UNEXPECTED: "skipped, not in this model",
    INITIALISED: "initialised fresh, not in the checkpoint",
    RESET: "reset to the starting value (training bookkeeping)",
}


@dataclass
class PartialLoadReport:
    """Which state-dict entries were loaded, skipped or left fresh. ``shapes`` maps every name
    to ``(checkpoint shape or None, model shape or None)``."""

    source: str
    kind: str
    epoch: int | None
    status: dict[str, str] = field(default_factory=dict)  # name -> one of the five statuses
    shapes: dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]] = field(default_factory=dict)

    def names(self, status: str) -> list[str]:
        """The entries with ``status``, in state-dict order."""
        return [name for name, s in self.status.items() if s == status]

    @property
    def loaded_values(self) -> int:
        return sum(_numel(self.shapes[name][1]) for name in self.names(LOADED))

    @property
    def model_values(self) -> int:
        """Values of the model's state that a checkpoint can provide (reset entries excluded)."""
        return sum(_numel(self.shapes[name][1]) for name, s in self.status.items() if s not in (UNEXPECTED, RESET))

    def counts(self) -> dict[str, int]:
        """Number of tensors per status (JSON-ready)."""
        return {status: len(self.names(status)) for status in HEADINGS}

    def render(self) -> str:
        """The human-readable report: a headline, then one line per module group and status."""
        model_tensors = sum(1 for s in self.status.values() if s not in (UNEXPECTED, RESET))
        epoch = f", epoch {self.epoch}" if self.epoch is not None else ""
        lines = [
            f"init from {self.source} ({self.kind} checkpoint{epoch}): {len(self.names(LOADED))} of "
            f"{model_tensors} model tensors loaded ({self.loaded_values:,} of {self.model_values:,} values)"
        ]
        for status, heading in HEADINGS.items():
            names = self.names(status)
            if not names:
                continue
            lines.append(f"  {heading}: {_tensors(len(names))}")
            for prefix, members in group_by_module(names, self.status).items():
                lines.append("    " + self._group_line(status, prefix, members))
        return "\n".join(lines)

    def _group_line(self, status: str, prefix: str, members: list[str]) -> str:
        side = 0 if status == UNEXPECTED else 1
        values = sum(_numel(self.shapes[name][side]) for name in members)
        line = f"{prefix:<44} {_tensors(len(members)):>12} {values:>12,} values"
        if status == MIS_SHAPED:
            pairs = sorted({f"{self.shapes[n][0]} -> {self.shapes[n][1]}" for n in members})
            more = f" and {len(pairs) - MAX_SHAPE_PAIRS} more" if len(pairs) > MAX_SHAPE_PAIRS else ""
            line += "  " + ", ".join(pairs[:MAX_SHAPE_PAIRS]) + more
        return line


def match_state(
    model_state: dict[str, torch.Tensor],
    checkpoint: dict[str, torch.Tensor],
    reset: set[str],
    source: str,
    kind: str = "official",
    epoch: int | None = None,
) -> PartialLoadReport:
    """Classify every name of ``model_state`` and ``checkpoint`` (no tensor is copied)."""
    report = PartialLoadReport(source, kind, epoch)
    for name, tensor in model_state.items():
        saved = checkpoint.get(name)
        report.shapes[name] = (None if saved is None else tuple(saved.shape), tuple(tensor.shape))
        if name in reset:
            report.status[name] = RESET
        elif saved is None:
            report.status[name] = INITIALISED
        elif saved.shape != tensor.shape:
            report.status[name] = MIS_SHAPED
        else:
            report.status[name] = LOADED
    for name, saved in checkpoint.items():
        if name not in model_state:
            report.shapes[name] = (tuple(saved.shape), None)
            report.status[name] = UNEXPECTED
    if not report.names(LOADED):
        raise UserError(
            f"{source}: no tensor of this checkpoint matches the model (by name and shape); "
            "it was trained for another architecture. Check --init and --config."
        )
    return report


def check_matching(model: OSGNet, path: str | os.PathLike) -> PartialLoadReport:
    """The report of loading ``path`` into ``model`` (which may be on the meta device), without loading."""
    state, epoch, kind = read_checkpoint(path)
    return match_state(model.state_dict(), state, set(absent_from_official(model)), str(path), kind, epoch)


def load_matching(model: OSGNet, path: str | os.PathLike) -> PartialLoadReport:
    """Copy every tensor of ``path`` that ``model`` has with the same shape into ``model``; returns
    the report (print ``report.render()``)."""
    state, epoch, kind = read_checkpoint(path)
    own = model.state_dict()
    report = match_state(own, state, set(absent_from_official(model)), str(path), kind, epoch)
    with torch.no_grad():
        for name in report.names(LOADED):
            own[name].copy_(state[name])
    return report


def group_by_module(names: list[str], status: dict[str, str]) -> dict[str, list[str]]:
    """Compress ``names`` (all of one status) into module prefixes, block indices written ``*``.

    Each name goes under the shortest prefix all of whose entries (over every status) share its
    status: ``video_encoder.1.*.obj_attn`` when the object attention of all four blocks is new,
    ``shot_aggregator`` when the whole module is. Where even the full name is mixed across block
    indices, the exact name is used.
    """
    patterns = {name: _pattern(name) for name in status}
    statuses_under: dict[tuple[str, ...], set[str]] = {}
    for other, parts in patterns.items():
        for depth in range(1, len(parts) + 1):
            statuses_under.setdefault(parts[:depth], set()).add(status[other])
    groups: dict[str, list[str]] = {}
    for name in names:
        parts = patterns[name]
        uniform = [depth for depth in range(1, len(parts) + 1) if len(statuses_under[parts[:depth]]) == 1]
        prefix = ".".join(parts[: uniform[0]]) if uniform else name
        groups.setdefault(prefix, []).append(name)
    return groups


def _pattern(name: str) -> tuple[str, ...]:
    """Indices become ``*``, except the stage index right after the top-level module
    (``video_encoder.0`` is the stem, ``video_encoder.1`` the blocks)."""
    return tuple("*" if part.isdigit() and i != 1 else part for i, part in enumerate(name.split(".")))


def _tensors(count: int) -> str:
    return f"{count} tensor" if count == 1 else f"{count} tensors"


def _numel(shape: tuple[int, ...] | None) -> int:
    return 0 if shape is None else math.prod(shape)
