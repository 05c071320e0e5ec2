"""Inference post-processing: head outputs + points -> top-k windows in seconds per sample.

Follows the reference (model.md §4, pipeline.md §5.2) step by step:

1. per level: p = σ(logit)·mask; keep p > ``pre_nms_thresh`` or p = the level's max; keep the
   ``pre_nms_topk`` best; window = [t − o_l·s, t + o_r·s] (grid units); keep windows longer than
   ``duration_thresh`` or as long as the level's longest;
2. all levels together: soft-NMS per class (Gaussian, σ = ``nms_sigma``), first ``max_seg_num``;
3. sort by decayed score, keep ``max_seg_num``;
4. grid -> seconds and clamp to [0, duration].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from trainers.model.nms import nms_1d, soft_nms_1d


@dataclass
class DecodeConfig:
    """Post-processing settings; the defaults are the values every OSGNet config uses.

    ``nms_sigma`` is the reference's function default (its config key ``test_cfg.nms_sigma`` was
    never read, B12). ``half_clip_offset`` True reproduces the reference's time conversion, which
    adds 0.5·num_frames/fps seconds that training targets never had (B10); set it False for the
    exact inverse of the training mapping, sec = grid · feat_stride / fps.
    """

    pre_nms_thresh: float = 0.001
    pre_nms_topk: int = 2000
    duration_thresh: float = 0.001
    iou_threshold: float = 0.1
    min_score: float = 0.001
    max_seg_num: int = 5
    nms_sigma: float = 0.75
    soft_nms: bool = True
    half_clip_offset: bool = True


@dataclass
class VideoTiming:
    """How one sample's feature grid maps to seconds."""

    fps: float
    duration: float
    feat_stride: float
    feat_num_frames: float


@dataclass
class Detections:
    """Ranked windows of one sample: segments [K, 2] (seconds, or grid units before
    ``grid_to_seconds``), scores [K], labels [K] class ids; K ≤ max_seg_num, best first."""

    segments: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor


def level_candidates(
    points: torch.Tensor, mask: torch.Tensor, logits: torch.Tensor, offsets: torch.Tensor, config: DecodeConfig
) -> Detections:
    """Candidates of one level of one sample (grid units, sorted by descending score).

    points [T, 4] (t, lo, hi, stride); mask [T] bool; logits [T, C]; offsets [T, 2] in strides.
    """
    if logits.numel() == 0:
        return _no_detections(logits)
    num_classes = logits.shape[-1]
    probs = (logits.sigmoid() * mask[:, None]).flatten()
    keep = (probs > config.pre_nms_thresh) | (probs == probs.max())
    flat_indices = keep.nonzero(as_tuple=True)[0]
    probs, order = probs[keep].sort(descending=True)
    top = min(config.pre_nms_topk, flat_indices.shape[0])
    probs, flat_indices = probs[:top], flat_indices[order[:top]]
    point_indices = torch.div(flat_indices, num_classes, rounding_mode="floor")
    labels = torch.fmod(flat_indices, num_classes)

    pts, offs = points[point_indices], offsets[point_indices]
    left = pts[:, 0] - offs[:, 0] * pts[:, 3]
    right = pts[:, 0] + offs[:, 1] * pts[:, 3]
    lengths = right - left
    long_enough = (lengths > config.duration_thresh) | (lengths == lengths.max())
    return Detections(
        segments=torch.stack((left, right), dim=-1)[long_enough], scores=probs[long_enough], labels=labels[long_enough]
    )


def select_windows(candidates: Detections, config: DecodeConfig) -> Detections:
    """NMS per class over all candidates, then the ``max_seg_num`` best (grid units)."""
    if candidates.scores.numel() == 0:
        return candidates
    per_class = []
    for label in torch.unique(candidates.labels):
        of_class = torch.where(candidates.labels == label)[0]
        segments, scores = candidates.segments[of_class], candidates.scores[of_class]
        if config.soft_nms:
            segments, scores, kept = soft_nms_1d(
                segments,
                scores,
                sigma=config.nms_sigma,
                min_score=config.min_score,
                iou_threshold=config.iou_threshold,
                max_num=config.max_seg_num,
            )
        else:
            segments, scores, kept = nms_1d(
                segments, scores, config.iou_threshold, min_score=config.min_score, max_num=config.max_seg_num
            )
        per_class.append(Detections(segments, scores, candidates.labels[of_class][kept]))
    segments = torch.cat([d.segments for d in per_class])
    scores = torch.cat([d.scores for d in per_class])
    labels = torch.cat([d.labels for d in per_class])
    best = scores.sort(descending=True).indices[: config.max_seg_num]
    return Detections(segments[best], scores[best], labels[best])


def _no_detections(like: torch.Tensor) -> Detections:
    """Empty segments [0, 2], scores [0] and labels [0] on ``like``'s device."""
    return Detections(
        segments=like.new_zeros((0, 2)),
        scores=like.new_zeros(0),
        labels=torch.zeros(0, dtype=torch.long, device=like.device),
    )


def grid_to_seconds(segments: torch.Tensor, timing: VideoTiming, half_clip_offset: bool = True) -> torch.Tensor:
    """Grid units -> seconds, clamped to [0, duration]: [K, 2] -> [K, 2].

    sec = (grid · feat_stride + 0.5 · feat_num_frames) / fps with ``half_clip_offset`` (the
    reference), else grid · feat_stride / fps.
    """
    shift = 0.5 * timing.feat_num_frames if half_clip_offset else 0.0
    seconds = (segments * timing.feat_stride + shift) / timing.fps
    return seconds.clamp(min=0.0, max=timing.duration)


def decode_video(
    points: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    cls_logits: Sequence[torch.Tensor],
    offsets: Sequence[torch.Tensor],
    timing: VideoTiming,
    config: DecodeConfig,
) -> Detections:
    """Windows in seconds for one sample from its per-level tensors (see ``level_candidates``)."""
    levels = [
        level_candidates(p, m, c, o, config) for p, m, c, o in zip(points, masks, cls_logits, offsets, strict=True)
    ]
    candidates = Detections(
        segments=torch.cat([d.segments for d in levels]),
        scores=torch.cat([d.scores for d in levels]),
        labels=torch.cat([d.labels for d in levels]),
    )
    chosen = select_windows(candidates, config)
    return Detections(grid_to_seconds(chosen.segments, timing, config.half_clip_offset), chosen.scores, chosen.labels)


@torch.no_grad()
def decode_batch(
    points: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    cls_logits: Sequence[torch.Tensor],
    offsets: Sequence[torch.Tensor],
    timings: Sequence[VideoTiming],
    config: DecodeConfig | None = None,
) -> list[Detections]:
    """Windows in seconds for every sample of a batch.

    points: per level [T_l, 4]; masks: per level [B, T_l] bool; cls_logits: per level
    [B, T_l, C]; offsets: per level [B, T_l, 2]; timings: one per sample.
    """
    config = config or DecodeConfig()
    return [
        decode_video(
            points,
            [m[b] for m in masks],
            [c[b].float() for c in cls_logits],
            [o[b].float() for o in offsets],
            timing,
            config,
        )
        for b, timing in enumerate(timings)
    ]
