"""Merge the ranked windows of several models into 5 windows per query (docs/ensembling.md).

Two methods, both on all queries at once:

* ``reference``: OSGNet's challenge ensemble (pipeline.md §6). Candidates are each model's top
  ``per_model`` windows plus one consensus window per cluster of the models' top-1 centres;
  an NMS cascade at 0.5 / 0.7 / 0.9 picks 5 of them by raw score.
* ``fusion``: weighted score fusion (``submissions.fusion``).

A query that only one model predicts (always the case with a single prediction file) keeps
that model's own ranking: its first 5 windows, padded by repeating the last.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from submissions.centre_clusters import cluster_proposals
from submissions.fusion import FusionConfig, fuse_windows
from submissions.nms import NUM_WINDOWS, TopWindows, cascade_nms
from submissions.stack import StackedPredictions

METHODS: tuple[str, ...] = ("reference", "fusion")


@dataclass(frozen=True)
class ReferenceConfig:
    """The reference ensemble's constants, made explicit (pipeline.md §6.3).

    ``per_model``: windows taken from each model (4); ``cluster_top``: windows per model that
    enter the centre clustering (1); ``cluster_gap``: seconds between neighbouring centres that
    split two clusters (2.0); ``nms_thresholds``: the cascade (0.5, 0.7, 0.9).
    """

    per_model: int = 4
    cluster_top: int = 1
    cluster_gap: float = 2.0
    nms_thresholds: tuple[float, ...] = (0.5, 0.7, 0.9)


@dataclass(frozen=True)
class EnsembleConfig:
    """Which method to run and its settings."""

    method: str = "reference"
    reference: ReferenceConfig = field(default_factory=ReferenceConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)

    @property
    def windows_needed(self) -> int:
        """How many windows per model the method reads (at least the 5 a lone model keeps)."""
        per_model = self.reference.per_model if self.method == "reference" else self.fusion.per_model
        cluster_top = self.reference.cluster_top if self.method == "reference" else 0
        return max(per_model, cluster_top, NUM_WINDOWS)


def ensemble(stack: StackedPredictions, config: EnsembleConfig) -> TopWindows:
    """5 windows per query: [Q, 5, 2] windows, [Q, 5] scores, [Q] distinct counts."""
    if config.method not in METHODS:
        raise ValueError(f"unknown ensemble method {config.method!r}; choose one of {METHODS}")
    alone = stack.present.sum(axis=1) == 1
    result = single_model_rankings(stack)
    if alone.all():
        return result
    shared = ~alone
    subset = StackedPredictions(
        keys=[key for key, keep in zip(stack.keys, shared, strict=True) if keep],
        windows=stack.windows[shared],
        scores=stack.scores[shared],
        valid=stack.valid[shared],
        sources=stack.sources,
    )
    if config.method == "reference":
        merged = reference_ensemble(subset, config.reference)
    else:
        merged = fuse_windows(subset, config.fusion)
    result.windows[shared] = merged.windows
    result.scores[shared] = merged.scores
    result.distinct[shared] = merged.distinct
    return result


def single_model_rankings(stack: StackedPredictions) -> TopWindows:
    """For each query, the first 5 windows of the first model that predicts it, padded."""
    model = np.argmax(stack.present, axis=1)  # [Q]
    rows = np.arange(len(stack.keys))
    windows = stack.windows[rows, model]  # [Q, K, 2]
    scores = stack.scores[rows, model]
    count = np.minimum(stack.valid[rows, model].sum(axis=1), NUM_WINDOWS)
    slot = np.minimum(np.arange(NUM_WINDOWS)[None, :], count[:, None] - 1)  # [Q, 5]
    return TopWindows(
        windows=np.take_along_axis(windows, slot[:, :, None], axis=1),
        scores=np.take_along_axis(scores, slot, axis=1),
        distinct=count,
    )


def reference_ensemble(stack: StackedPredictions, config: ReferenceConfig) -> TopWindows:
    """OSGNet's ensemble: top windows of each model + centre-cluster consensus, NMS cascade.

    Candidate order before the (stable) score sort follows the reference: model 1's top
    ``per_model``, model 2's, ..., then the cluster windows by descending cluster total.
    Cluster windows compete with their mean score.
    """
    num_queries, num_models = stack.present.shape
    top = min(config.cluster_top, stack.windows.shape[2])
    clusters = cluster_proposals(
        stack.windows[:, :, :top].reshape(num_queries, num_models * top, 2),
        stack.scores[:, :, :top].reshape(num_queries, num_models * top),
        stack.valid[:, :, :top].reshape(num_queries, num_models * top),
        config.cluster_gap,
    )
    per_model = min(config.per_model, stack.windows.shape[2])
    windows = np.concatenate([stack.windows[:, :, :per_model].reshape(num_queries, -1, 2), clusters.windows], axis=1)
    scores = np.concatenate([stack.scores[:, :, :per_model].reshape(num_queries, -1), clusters.scores], axis=1)
    valid = np.concatenate([stack.valid[:, :, :per_model].reshape(num_queries, -1), clusters.valid], axis=1)
    return cascade_nms(windows, scores, valid, config.nms_thresholds)
