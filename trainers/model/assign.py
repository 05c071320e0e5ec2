"""Label assignment: which pyramid points are positives for a query's ground-truth windows.

ActionFormer-style centre sampling with OSGNet's overlapping regression ranges (model.md §3.1).
Everything is in level-0 grid units. Computations run in the promoted dtype of points and GT:
pass the GT as float64 (as the reference's loader does) for bit-level parity.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

# GT windows whose length is within this of the shortest passing GT also make the point positive.
MIN_LENGTH_TOLERANCE = 1e-3


@torch.no_grad()
def assign_video(
    points: torch.Tensor, gt_segments: torch.Tensor, gt_labels: torch.Tensor | None = None, center_radius: float = 1.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets of every point for one sample.

    points: [P, 4] rows (t, lo, hi, stride) of all levels concatenated; gt_segments: [N, 2]
    windows (start, end); gt_labels: [N, C] one-hot classes (None: one class, all ones).
    Returns cls_targets [P, C] in {0, 1} and reg_targets [P, 2] = (t − start, end − t) / stride
    of the point's chosen GT (meaningless where cls_targets is 0).

    A point matches GT k when it lies strictly inside the centre window
    [max(c − r·s, start), min(c + r·s, end)] (c = GT centre, r = ``center_radius``) and
    lo ≤ max(t − start, end − t) ≤ hi. Among matching GTs it takes the shortest; every matching
    GT whose length is within 1e-3 of that one contributes its class. N = 0 gives all negatives.
    """
    num_points = points.shape[0]
    if gt_labels is None:
        gt_labels = gt_segments.new_ones((gt_segments.shape[0], 1))
    dtype = torch.promote_types(points.dtype, gt_segments.dtype)
    if gt_segments.shape[0] == 0:
        return (
            points.new_zeros((num_points, gt_labels.shape[1]), dtype=dtype),
            points.new_zeros((num_points, 2), dtype=dtype),
        )

    t, lo, hi, stride = (points[:, i, None] for i in range(4))  # each [P, 1]
    start, end = gt_segments[None, :, 0], gt_segments[None, :, 1]  # each [1, N]
    left, right = t - start, end - t  # [P, N]

    center = 0.5 * (start + end)
    window_lo = torch.maximum(center - stride * center_radius, start)
    window_hi = torch.minimum(center + stride * center_radius, end)
    inside_center = torch.minimum(t - window_lo, window_hi - t) > 0
    farthest = torch.maximum(left, right)
    inside_range = (farthest >= lo) & (farthest <= hi)

    lengths = (end - start).expand(num_points, -1)
    lengths = lengths.masked_fill(~(inside_center & inside_range), float("inf"))
    min_length, chosen = lengths.min(dim=1)  # [P]
    matches = (lengths <= min_length[:, None] + MIN_LENGTH_TOLERANCE) & torch.isfinite(lengths)

    cls_targets = (matches.to(dtype) @ gt_labels.to(dtype)).clamp_(0.0, 1.0)
    rows = torch.arange(num_points, device=points.device)
    reg_targets = torch.stack((left[rows, chosen], right[rows, chosen]), dim=-1) / stride
    return cls_targets, reg_targets


@torch.no_grad()
def assign_batch(
    points: Sequence[torch.Tensor],
    gt_segments: Sequence[torch.Tensor],
    gt_labels: Sequence[torch.Tensor] | None = None,
    center_radius: float = 1.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets for a batch: points are the per-level ``[T_l, 4]`` tensors of the point generator,
    gt_segments / gt_labels one ``[N_b, 2]`` / ``[N_b, C]`` tensor per sample.

    Returns cls_targets [B, P, C] and reg_targets [B, P, 2] with P = Σ T_l (levels in order).
    """
    all_points = torch.cat(list(points), dim=0)
    labels = list(gt_labels) if gt_labels is not None else [None] * len(gt_segments)
    per_video = [
        assign_video(
            all_points,
            segments.to(all_points.device),
            None if label is None else label.to(all_points.device),
            center_radius,
        )
        for segments, label in zip(gt_segments, labels, strict=True)
    ]
    cls_targets = torch.stack([cls for cls, _ in per_video])
    reg_targets = torch.stack([reg for _, reg in per_video])
    return cls_targets, reg_targets


def smooth_labels(targets: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Label smoothing over C classes: y·(1 − ε) + ε / (C + 1), C = ``targets.shape[-1]``.

    With one class and ε = 0.1 positives become 0.95 and negatives 0.05.
    """
    num_classes = targets.shape[-1]
    return targets * (1.0 - epsilon) + epsilon / (num_classes + 1)
