"""OSGNet's training losses (model.md §3.2-3.3): focal + 1-D DIoU for grounding, InfoNCE for VTM.

The loss normaliser is an exponential moving average of the number of positive points. It is
explicit state: ``nlq_losses`` takes the current value and returns the updated one, and the caller
decides whether to keep it (the reference also updated it in its no-grad validation-loss pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainers.model.assign import smooth_labels


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Element-wise sigmoid focal loss (RetinaNet), computed in float32; same shape as logits.

    FL = BCE(z, y)·(1 − p_t)^γ·α_t with p = σ(z), p_t = p·y + (1 − p)(1 − y) and
    α_t = α·y + (1 − α)(1 − y) (α < 0 disables the α weighting). Targets may be soft.
    """
    logits, targets = logits.float(), targets.float()
    p = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = bce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def diou_loss_1d(pred_offsets: torch.Tensor, target_offsets: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Distance-IoU loss of windows around a common point, in float32: [N, 2], [N, 2] -> [N].

    Offsets are non-negative (left, right) distances from the point. With l/r for prediction p
    and target g: IoU = (min(l_p, l_g) + min(r_p, r_g)) / max(l_p + r_p + l_g + r_g − inter, eps),
    c = max(l_p, l_g) + max(r_p, r_g), ρ = ½((r_p − l_p) − (r_g − l_g)),
    loss = 1 − IoU + (ρ / max(c, eps))².
    """
    pred_offsets, target_offsets = pred_offsets.float(), target_offsets.float()
    lp, rp = pred_offsets[:, 0], pred_offsets[:, 1]
    lg, rg = target_offsets[:, 0], target_offsets[:, 1]
    intersection = torch.minimum(lp, lg) + torch.minimum(rp, rg)
    union = (lp + rp) + (lg + rg) - intersection
    iou = intersection / union.clamp(min=eps)
    enclosing = torch.maximum(lp, lg) + torch.maximum(rp, rg)
    centre_distance = 0.5 * (rp - lp - rg + lg)
    return 1.0 - iou + torch.square(centre_distance / enclosing.clamp(min=eps))


def update_normalizer(normalizer: float, num_positives: int, momentum: float = 0.9) -> float:
    """One EMA step of the loss normaliser: m·N + (1 − m)·max(num_positives, 1)."""
    return momentum * normalizer + (1 - momentum) * max(num_positives, 1)


@dataclass
class NLQLosses:
    """Grounding losses of one training step; ``total`` = cls + reg_weight · reg."""

    cls: torch.Tensor
    reg: torch.Tensor
    total: torch.Tensor
    normalizer: float  # the updated normaliser, already used to divide cls and reg
    num_positives: int


def nlq_losses(
    cls_logits: Sequence[torch.Tensor],
    offsets: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    cls_targets: torch.Tensor,
    reg_targets: torch.Tensor,
    normalizer: float,
    momentum: float = 0.9,
    label_smoothing: float = 0.1,
    reg_weight: float = 1.0,
    focal_alpha: float = 0.25,
    focal_gamma: float = 2.0,
) -> NLQLosses:
    """Focal + DIoU grounding loss over all valid points of the batch.

    cls_logits: per level [B, T_l, C]; offsets: per level [B, T_l, 2] (non-negative, in strides);
    masks: per level [B, T_l] bool (True = valid step); cls_targets [B, P, C] and reg_targets
    [B, P, 2] from ``assign_batch`` (P = Σ T_l). ``normalizer`` is the value before this step.

    Positives = valid points with a non-zero target. N ← m·N + (1 − m)·max(#positives, 1),
    then cls = Σ_valid focal(z, smooth(y)) / N and reg = Σ_positive DIoU / N (0, with a gradient
    path, when there is no positive).
    """
    valid = torch.cat([mask.bool() for mask in masks], dim=1)
    positive = valid & (cls_targets.sum(-1) > 0)
    num_positives = int(positive.sum().item())
    normalizer = update_normalizer(normalizer, num_positives, momentum)

    logits = torch.cat(list(cls_logits), dim=1)[valid]
    targets = smooth_labels(cls_targets[valid], label_smoothing)
    cls_loss = sigmoid_focal_loss(logits, targets, focal_alpha, focal_gamma).sum() / normalizer

    pred_offsets = torch.cat(list(offsets), dim=1)[positive]
    if num_positives == 0:
        reg_loss = 0 * pred_offsets.sum()
    else:
        reg_loss = diou_loss_1d(pred_offsets, reg_targets[positive]).sum() / normalizer
    return NLQLosses(
        cls=cls_loss,
        reg=reg_loss,
        total=cls_loss + reg_weight * reg_loss,
        normalizer=normalizer,
        num_positives=num_positives,
    )


def shot_spans(shots: torch.Tensor) -> torch.Tensor:
    """The real, non-empty shots of one sample as int64 [n', 2] (start, end) grid steps.

    shots: [2, n + 1] float boundaries whose last column is the padding shot [T, max_seq_len].
    Boundaries are truncated to integers like the reference; shots with end ≤ start after that
    are dropped (the reference kept them in the labels but not in the similarity matrix, B5),
    so the shot features and ``vtm_labels`` must both be built from these spans.
    """
    spans = shots[:, :-1].to(torch.int64).t()
    return spans[spans[:, 1] > spans[:, 0]]


def vtm_labels(spans: Sequence[torch.Tensor], query_segments: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """Binary text-shot match matrix [Nq, S] for the whole batch.

    spans: per sample b the [n_b, 2] shot spans from ``shot_spans``; query_segments: per sample b
    one [g_j, 2] GT tensor (grid units) for each of its VTM texts j. Texts are stacked in sample
    order and shots in sample order (S = Σ n_b). Text j of sample b matches shot k of sample b
    when the shot overlaps any of the text's GT windows (summed IoU > 0); shots of other samples
    are negatives.
    """
    num_shots = sum(int(s.shape[0]) for s in spans)
    device = spans[0].device if spans else None
    rows = []
    offset = 0
    for sample_spans, segments_of_texts in zip(spans, query_segments, strict=True):
        shots = sample_spans.to(torch.float64)
        for segments in segments_of_texts:
            gt = segments.to(device=device, dtype=torch.float64)
            overlap = (
                torch.minimum(shots[:, None, 1], gt[None, :, 1]) - torch.maximum(shots[:, None, 0], gt[None, :, 0])
            ).clamp(min=0)
            row = torch.zeros(num_shots, dtype=torch.bool, device=device)
            row[offset : offset + shots.shape[0]] = (overlap > 0).any(dim=1)
            rows.append(row)
        offset += shots.shape[0]
    if not rows:
        return torch.zeros((0, num_shots), dtype=torch.bool, device=device)
    return torch.stack(rows)


def infonce_loss(similarity: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric multi-positive InfoNCE: similarity [Nq, S] (cosines), labels [Nq, S] bool, softmax
    temperature τ (``ModelConfig.vtm_temperature``; 0.05, hard-coded in the reference).

    Row term: mean over texts with ≥ 1 positive of log Σ_j softmax_j(sim/τ)·y; column term: the
    same over shots with softmax over texts. Loss = −(row + column). Zero (with a gradient path)
    when the batch has no positive pair, where the reference returned NaN (B7).
    """
    labels = labels.to(similarity.dtype)
    if not bool((labels > 0).any()):
        return 0 * similarity.sum()
    return -(
        _multi_positive_log_likelihood(similarity / temperature, labels)
        + _multi_positive_log_likelihood(similarity.t() / temperature, labels.t())
    )


def _multi_positive_log_likelihood(scaled: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over rows with a positive of log Σ_j softmax(scaled)_ij · labels_ij; [R, K] -> []."""
    has_positive = labels.sum(dim=1) > 0
    probabilities = F.softmax(scaled, dim=1)[has_positive]
    return torch.log((probabilities * labels[has_positive]).sum(dim=1)).mean()


def vtm_loss(
    similarity: torch.Tensor, labels: torch.Tensor, normalizer: float, temperature: float, world_size: int = 1
) -> torch.Tensor:
    """The reference's VTM loss: InfoNCE / N / world_size, N = the NLQ normaliser of this step.

    The final loss adds ``vtm_weight`` × this (1.5, or 1.0 for TACoS-scratch). See docs/losses.md
    for what the division by world_size does to the effective weight (B8).
    """
    return infonce_loss(similarity, labels, temperature) / normalizer / world_size
