"""1-D NMS and soft-NMS in plain PyTorch, step for step the reference's C++ CPU kernels.

Both work on [N, 2] (start, end) segments and [N] scores in the segments' dtype (float32 for
parity: the C++ kernels are float32). The IoU of two segments uses lengths + 1e-6:
inter / (len_a + 1e-6 + len_b + 1e-6 − inter).

Hard NMS (``nms_1d_cpu``) visits candidates in the order of ``scores.sort(0, descending)`` on the
CPU, torch's default sort, which is not stable: beyond 16 candidates, equal scores come out in an
order that is neither input order nor its reverse. Which tied windows survive depends on that
order, so ``nms_1d`` sorts the same way (on the CPU, whatever the scores' device).

Soft-NMS (``softnms_1d_cpu``) keeps a working array; round i swaps the highest remaining score
(first one on ties) into slot i, multiplies every later score by the decay weight of its IoU with
the selected segment, and removes each one that falls below ``min_score`` by moving the last
element into its slot. Each round here is one vectorised pass that reproduces exactly that array
order, so ties resolve as in C++.
"""

from __future__ import annotations

from typing import Literal

import torch

LENGTH_EPS = 1e-6

SoftNMSMethod = Literal["hard", "linear", "gaussian"]
SOFT_NMS_METHODS: tuple[SoftNMSMethod, ...] = ("hard", "linear", "gaussian")


def segment_iou(
    segment: torch.Tensor, length: torch.Tensor, others: torch.Tensor, other_lengths: torch.Tensor
) -> torch.Tensor:
    """IoU of one segment [2] (its length + eps: []) with others [K, 2] (lengths + eps: [K])."""
    intersection = (torch.minimum(segment[1], others[:, 1]) - torch.maximum(segment[0], others[:, 0])).clamp(min=0)
    return intersection / (length + other_lengths - intersection)


def nms_1d(
    segments: torch.Tensor, scores: torch.Tensor, iou_threshold: float, min_score: float = 0.0, max_num: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Greedy NMS: visit segments by descending score (ties in the order of torch's default CPU
    sort, as the reference kernel), drop any later one with IoU ≥ threshold.

    With ``min_score`` > 0 segments scoring ≤ min_score are removed first; ``max_num`` > 0 keeps
    only the first ``max_num`` survivors. Returns (segments [K, 2], scores [K], indices [K]) of the
    survivors in descending score order, indices into the input.
    """
    indices = torch.arange(segments.shape[0], device=segments.device)
    if min_score > 0:
        keep = scores > min_score
        segments, scores, indices = segments[keep], scores[keep], indices[keep]
    order = scores.cpu().sort(descending=True).indices.to(scores.device)  # the kernel's (unstable) sort
    segments, scores, indices = segments[order], scores[order], indices[order]
    lengths = segments[:, 1] - segments[:, 0] + LENGTH_EPS
    alive = torch.ones(segments.shape[0], dtype=torch.bool, device=segments.device)
    kept: list[int] = []
    for i in range(segments.shape[0]):
        if not alive[i]:
            continue
        kept.append(i)
        if len(kept) == max_num:
            break
        iou = segment_iou(segments[i], lengths[i], segments[i + 1 :], lengths[i + 1 :])
        alive[i + 1 :] &= iou < iou_threshold
    chosen = torch.tensor(kept, dtype=torch.long, device=segments.device)
    return segments[chosen], scores[chosen], indices[chosen]


def soft_nms_1d(
    segments: torch.Tensor,
    scores: torch.Tensor,
    sigma: float = 0.75,
    min_score: float = 0.001,
    iou_threshold: float = 0.1,
    method: SoftNMSMethod = "gaussian",
    max_num: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Soft-NMS; returns (segments [K, 2], decayed scores [K], input indices [K]) in selection
    order, which is non-increasing in score.

    Decay weight of a later segment with IoU o against the selected one:
    gaussian exp(−o²/σ) (``iou_threshold`` unused); linear 1 − o if o ≥ threshold else 1;
    hard 0 if o ≥ threshold else 1. A segment whose decayed score is < ``min_score`` is removed
    (the first selection never is). ``max_num`` > 0 stops after that many selections, which gives
    the same first ``max_num`` results as running to the end.
    """
    if method not in SOFT_NMS_METHODS:
        raise ValueError(f"unknown soft-NMS method {method!r}; use one of {SOFT_NMS_METHODS}")
    starts = segments[:, 0].clone()
    ends = segments[:, 1].clone()
    scores = scores.clone()
    lengths = ends - starts + LENGTH_EPS
    indices = torch.arange(segments.shape[0], device=segments.device)
    columns = [starts, ends, scores, lengths, indices]
    count = segments.shape[0]
    rounds = count if max_num <= 0 else min(count, max_num)
    i = 0
    while i < count and i < rounds:
        best = i + int(torch.argmax(scores[i:count]))
        for column in columns:
            column[[i, best]] = column[[best, i]]
        rest = slice(i + 1, count)
        iou = segment_iou(
            torch.stack((starts[i], ends[i])), lengths[i], torch.stack((starts[rest], ends[rest]), dim=1), lengths[rest]
        )
        scores[rest] *= _decay_weight(iou, method, sigma, iou_threshold)
        dropped = scores[rest] < min_score
        order = _swap_remove_order(dropped)
        for column in columns:
            column[i + 1 : i + 1 + order.shape[0]] = column[rest][order]
        count = i + 1 + order.shape[0]
        i += 1
    kept = slice(0, min(count, rounds))
    return torch.stack((starts[kept], ends[kept]), dim=1), scores[kept], indices[kept]


def _decay_weight(iou: torch.Tensor, method: SoftNMSMethod, sigma: float, iou_threshold: float) -> torch.Tensor:
    """Score multiplier of each IoU value for the given soft-NMS method."""
    if method == "gaussian":
        return torch.exp(-(iou * iou) / sigma)
    overlapping = iou >= iou_threshold
    if method == "linear":
        return torch.where(overlapping, 1 - iou, torch.ones_like(iou))
    return (~overlapping).to(iou.dtype)


def _swap_remove_order(dropped: torch.Tensor) -> torch.Tensor:
    """Where the survivors end up when the C++ loop removes elements by swapping in the last one.

    dropped: [K] bool over the tail of the working array. The loop scans forward; each dropped
    slot receives the current last element (which is dropped too if it fails). So survivors in
    front stay put, and the j-th dropped slot among the first #survivors is filled by the j-th
    survivor counted from the end. Returns the tail positions in their new order, [#survivors].
    """
    num_kept = int((~dropped).sum())
    order = torch.arange(num_kept, device=dropped.device)
    holes = torch.nonzero(dropped[:num_kept]).flatten()
    movers = torch.nonzero(~dropped[num_kept:]).flatten().flip(0) + num_kept
    order[holes] = movers
    return order
