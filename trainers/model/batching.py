"""Padding a list of ``GroundingSample`` into batched, masked tensors (reference model.md 1.2).
Padding is zeros at the end; masks are bool, True = valid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from trainers.model.inputs import GroundingSample


@dataclass
class Batch:
    """video ``[B, D_vid, T0]``, text ``[B, D_txt, L]``, objects ``[B*O, D_obj, T0]`` (b-major; None
    when no sample carries ``object_feats``), each with a ``[N, 1, length]`` mask."""

    video: torch.Tensor
    video_mask: torch.Tensor
    text: torch.Tensor
    text_mask: torch.Tensor
    objects: torch.Tensor | None
    object_mask: torch.Tensor | None


def pad_sequences(feats: list[torch.Tensor], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``[D, T_i]`` tensors -> ``[N, D, length]`` (default: the longest T_i) and mask ``[N, 1, length]``."""
    lengths = torch.tensor([f.shape[-1] for f in feats])
    length = int(lengths.max()) if length is None else length
    batched = feats[0].new_zeros((len(feats), feats[0].shape[0], length))
    for row, feat in zip(batched, feats, strict=True):
        row[:, : feat.shape[-1]] = feat
    return batched, (torch.arange(length)[None, :] < lengths[:, None]).unsqueeze(1)


def pad_objects(
    per_sample: Sequence[Sequence[torch.Tensor | None] | None], length: int, dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Object embeddings per sample and step (``[n_t, dim]``, or None / ``n_t = 0`` for none) ->
    slots ``[B*O, dim, length]`` and mask ``[B*O, 1, length]``, O = max(1, most objects in a step).

    Slot o of sample b is its own time series: the o-th object of every step.
    """
    counts = torch.zeros((len(per_sample), length), dtype=torch.long)
    for b, steps in enumerate(per_sample):
        for t, objects in enumerate(steps or []):
            counts[b, t] = 0 if objects is None else objects.shape[0]
    num_slots = max(1, int(counts.max()))
    slots = torch.zeros((len(per_sample), length, num_slots, dim))
    for b, steps in enumerate(per_sample):
        for t, objects in enumerate(steps or []):
            if objects is not None and objects.shape[0]:
                slots[b, t, : objects.shape[0]] = objects.float()
    mask = torch.arange(num_slots)[None, None, :] < counts[:, :, None]  # [B, T, O]
    return (slots.permute(0, 2, 3, 1).reshape(-1, dim, length), mask.permute(0, 2, 1).reshape(-1, 1, length))


def collate(
    samples: list[GroundingSample], padded_length: int, object_dim: int, device: torch.device | str = "cpu"
) -> Batch:
    """Batch the model inputs of ``samples`` with the video padded to ``padded_length`` (T0)."""
    video, video_mask = pad_sequences([s.feats for s in samples], padded_length)
    text, text_mask = pad_sequences([s.query_feats for s in samples])
    objects = object_mask = None
    if any(s.object_feats is not None for s in samples):
        objects, object_mask = pad_objects([s.object_feats for s in samples], padded_length, object_dim)
        objects, object_mask = objects.to(device), object_mask.to(device)
    return Batch(video.to(device), video_mask.to(device), text.to(device), text_mask.to(device), objects, object_mask)
