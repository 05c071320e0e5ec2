"""The readable ensembles: one query at a time in plain Python lists.

They state both methods as directly as possible (the reference method step by step as
pipeline.md §6 describes it) and are the oracle that tests and ``bench/ensemble.py`` hold the
vectorised ``submissions.ensemble`` to. A model's answer for one query is a list of
``[start, end, score]`` triples, best first; a model that does not predict the query gives ``[]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from submissions.ensemble import EnsembleConfig, ReferenceConfig
from submissions.fusion import FusionConfig
from submissions.nms import NUM_WINDOWS

Triple = list[float]


def ensemble_query(models: Sequence[list[Triple]], config: EnsembleConfig) -> list[Triple]:
    """Exactly 5 ``[start, end, score]`` for one query."""
    answering = [triples for triples in models if triples]
    if len(answering) == 1:
        return pad(answering[0][:NUM_WINDOWS])
    if config.method == "reference":
        return reference_query(models, config.reference)
    return fusion_query(models, config.fusion)


def reference_query(models: Sequence[list[Triple]], config: ReferenceConfig) -> list[Triple]:
    """Top windows of every model plus the centre-cluster consensus, then the NMS cascade."""
    top = [triple for triples in models for triple in triples[: config.cluster_top]]
    candidates = [triple for triples in models for triple in triples[: config.per_model]]
    candidates += [proposal[:3] for proposal in centre_clusters(top, config.cluster_gap)]
    return cascade(candidates, config.nms_thresholds)


def centre_clusters(proposals: list[Triple], gap: float) -> list[list[float]]:
    """``[start, end, mean score, total score]`` per cluster of centres, by descending total."""
    by_centre: dict[float, Triple] = {}
    for start, end, score in proposals:
        by_centre[(end + start) / 2] = [start, end, score]
    clusters: list[list[float]] = []
    previous = None
    for centre in sorted(by_centre):
        if previous is None or centre - previous >= gap:
            clusters.append([])
        clusters[-1].append(centre)
        previous = centre
    merged = []
    for centres in clusters:
        members = [by_centre[centre] for centre in centres]
        scores = [member[2] for member in members]
        total = 0.0
        for score in scores:
            total += score
        best = members[scores.index(max(scores))]
        half = len(members) // 2
        if len(members) % 2 == 1:
            middle = members[half]
        else:
            middle = members[half] if members[half][2] > members[half - 1][2] else members[half - 1]
        merged.append([(a + b) / 2 for a, b in zip(middle, best, strict=True)] + [total])
    return sorted(merged, key=lambda proposal: proposal[3], reverse=True)


def fusion_query(models: Sequence[list[Triple]], config: FusionConfig) -> list[Triple]:
    """Pool weighted windows, fuse overlapping ones, NMS cascade (see ``submissions.fusion``)."""
    weights = list(config.weights) if config.weights is not None else [1.0] * len(models)
    candidates = [
        [start, end, weights[m] * score]
        for m, triples in enumerate(models)
        for start, end, score in triples[: config.per_model]
    ]
    candidates.sort(key=lambda triple: triple[2], reverse=True)
    clusters: list[list[float]] = []  # [sum of c, fused start, fused end]
    for start, end, c in candidates:
        best, best_iou = None, -1.0
        for index, (_, fused_start, fused_end) in enumerate(clusters):
            overlap = iou([start, end], [fused_start, fused_end])
            if overlap > best_iou:
                best, best_iou = index, overlap
        if best is not None and best_iou > config.fuse_iou:
            cluster = clusters[best]
            cluster[0] += c
            share = c / cluster[0]
            cluster[1] += share * (start - cluster[1])
            cluster[2] += share * (end - cluster[2])
        else:
            clusters.append([c, start, end])
    present_weight = 0.0
    for m, triples in enumerate(models):
        if triples:
            present_weight += weights[m]
    fused = [[start, end, weight_sum / present_weight] for weight_sum, start, end in clusters]
    return cascade(fused, config.nms_thresholds)


def cascade(candidates: list[Triple], thresholds: Sequence[float]) -> list[Triple]:
    """NMS at each threshold on all candidates, new windows appended until 5, then padded."""
    ranked = sorted(candidates, key=lambda triple: triple[2], reverse=True)
    chosen: list[Triple] = []
    for threshold in thresholds:
        kept = greedy_nms(ranked, threshold, NUM_WINDOWS)
        chosen += [triple for triple in kept if triple not in chosen]
        if len(chosen) >= NUM_WINDOWS:
            return chosen[:NUM_WINDOWS]
    return pad(chosen)


def greedy_nms(ranked: list[Triple], threshold: float, max_keep: int) -> list[Triple]:
    """Keep each window that no kept window overlaps by IoU > ``threshold``, best first."""
    kept: list[Triple] = []
    suppressed = [False] * len(ranked)
    for i, triple in enumerate(ranked):
        if suppressed[i] or len(kept) == max_keep:
            continue
        kept.append(triple)
        for j in range(i + 1, len(ranked)):
            if iou(triple, ranked[j]) > threshold:
                suppressed[j] = True
    return kept


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over the hull of two windows; 0 when the hull is empty."""
    inter = max(min(a[1], b[1]) - max(a[0], b[0]), 0.0)
    hull = max(a[1], b[1]) - min(a[0], b[0])
    return inter / hull if hull > 0 else 0.0


def pad(triples: list[Triple]) -> list[Triple]:
    """Repeat the last triple up to 5."""
    return [list(t) for t in triples] + [list(triples[-1]) for _ in range(NUM_WINDOWS - len(triples))]
