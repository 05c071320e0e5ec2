"""Score several runs on the same ground truth: every metric, per-group breakdowns, recall curves.

Rendering lives in ``osgnet_bench.compare_report``; this module only computes numbers. Every
number follows the official rules of ``osgnet_bench.metrics`` (a run's metrics average over the
queries it predicts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from osgnet_bench.annotations.records import QueryKey, QueryRecord, Window
from osgnet_bench.breakdown import NO_TEMPLATE, length_groups, length_labels, template_groups
from osgnet_bench.errors import UserError
from osgnet_bench.metrics import EvaluationResult, MetricSpec, Scores, evaluate, match_predictions, score_vectorised
from osgnet_bench.metrics.evaluate import MIOU_KEY, RANK_KEY
from osgnet_bench.runs import Run
from osgnet_bench.tracks import Track

CURVE_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CURVE_TOPK: tuple[int, ...] = (1, 5)


@dataclass(frozen=True)
class GroupTable:
    """One metric per group of queries for every run.

    ``labels``: groups in display order; ``sizes``: GT queries with text per group;
    ``values[r][label]``: run r's metric on the group, ``None`` when it predicts none of them.
    """

    name: str
    title: str
    metric: str
    labels: list[str]
    sizes: dict[str, int]
    values: list[dict[str, float | None]]


@dataclass(frozen=True)
class Comparison:
    """Everything ``osgnet-bench compare`` reports; lists are indexed by run."""

    track: Track
    spec: MetricSpec
    names: list[str]
    paths: list[str]
    results: list[EvaluationResult]
    baseline: int
    breakdowns: list[GroupTable]
    curves: list[dict[str, float]]
    notes: list[str]

    @property
    def metric_keys(self) -> list[str]:
        """The main table's metric columns: recalls, mIoU, the ranking metric."""
        return [*self.spec.recall_keys, MIOU_KEY, RANK_KEY]


def best_runs(values: Sequence[float | None]) -> set[int]:
    """Indices of the runs holding the largest value (all of them on a tie); ``None`` never wins."""
    present = [value for value in values if value is not None]
    if not present:
        return set()
    top = max(present)
    return {index for index, value in enumerate(values) if value == top}


def resolve_baseline(names: Sequence[str], paths: Sequence[str], baseline: str | None) -> int:
    """Index of the baseline run, given by name or path; the first run when ``None``."""
    if baseline is None:
        return 0
    for index, (name, path) in enumerate(zip(names, paths, strict=True)):
        if baseline in (name, path):
            return index
    raise UserError(f"--baseline {baseline!r} is not one of the runs; choose one of {', '.join(names)}.")


def compare_runs(
    records: Sequence[QueryRecord],
    runs: Sequence[Run],
    track: Track,
    spec: MetricSpec,
    length_edges: Sequence[float],
    breakdown_metric: str = RANK_KEY,
    baseline: str | None = None,
    gt_source: str = "the ground truth",
) -> Comparison:
    """Score every run, its breakdowns by template (when known) and length, and its recall curve."""
    names, paths = [run.name for run in runs], [run.path for run in runs]
    baseline_index = resolve_baseline(names, paths, baseline)
    allowed = [*spec.recall_keys, MIOU_KEY, RANK_KEY]
    if breakdown_metric not in allowed:
        raise UserError(f"--breakdown-metric {breakdown_metric!r} is not computed; choose one of {', '.join(allowed)}.")
    lengths = length_groups(records, length_edges)
    groupings = [("length", "Per ground-truth window length", lengths, length_labels(length_edges))]
    notes = []
    templates = template_groups(records)
    if templates is not None:
        groupings.insert(0, ("template", "Per query template", templates, _template_order(templates)))
    elif track.query_type == "nlq":
        notes.append(
            "no per-template breakdown: the ground-truth file carries no templates "
            "(use the raw NLQ JSON, e.g. nlq_val.json)"
        )
    curve_spec = MetricSpec(CURVE_THRESHOLDS, CURVE_TOPK, spec.iou_rule)
    results, curves = [], []
    group_values: list[list[dict[str, float | None]]] = [[] for _ in groupings]
    for run in runs:
        result = evaluate(records, run.predictions, track, spec, gt_source=gt_source, pred_source=run.path)
        matched = match_predictions(records, run.predictions, gt_source, run.path)
        keys = [prediction.key for prediction in run.predictions]
        results.append(result)
        curves.append(score_vectorised(matched.pred_windows, matched.gt_windows, curve_spec).recall)
        for slot, (_, _, groups, labels) in enumerate(groupings):
            metric = _group_metric(
                keys, matched.pred_windows, matched.gt_windows, groups, labels, spec, track, breakdown_metric
            )
            group_values[slot].append(metric)
    breakdowns = [
        GroupTable(name, title, breakdown_metric, labels, _sizes(groups, labels), values)
        for (name, title, groups, labels), values in zip(groupings, group_values, strict=True)
    ]
    return Comparison(track, spec, names, paths, results, baseline_index, breakdowns, curves, notes)


def metric_value(scores: Scores, key: str, track: Track) -> float:
    """A metric key of a ``Scores``: a recall key, ``mIoU`` or ``rank_metric``."""
    if key == MIOU_KEY:
        return scores.miou
    if key == RANK_KEY:
        return track.rank_metric(scores.recall)
    return scores.recall[key]


def _group_metric(
    keys: Sequence[QueryKey],
    pred_windows: Sequence[np.ndarray],
    gt_windows: Sequence[tuple[Window, ...]],
    groups: dict[QueryKey, str],
    labels: Sequence[str],
    spec: MetricSpec,
    track: Track,
    metric: str,
) -> dict[str, float | None]:
    """``metric`` over each group's predicted queries; ``None`` for a group with none."""
    members: dict[str, list[int]] = {label: [] for label in labels}
    for index, key in enumerate(keys):
        label = groups.get(key)
        if label is not None:
            members[label].append(index)
    values: dict[str, float | None] = {}
    for label, indices in members.items():
        if not indices:
            values[label] = None
            continue
        scores = score_vectorised([pred_windows[i] for i in indices], [gt_windows[i] for i in indices], spec)
        values[label] = metric_value(scores, metric, track)
    return values


def _sizes(groups: dict[QueryKey, str], labels: Sequence[str]) -> dict[str, int]:
    counts = Counter(groups.values())
    return {label: counts.get(label, 0) for label in labels}


def _template_order(groups: dict[QueryKey, str]) -> list[str]:
    """Templates by descending query count (then name), the missing-template group last."""
    counts = Counter(groups.values())
    named = sorted((label for label in counts if label != NO_TEMPLATE), key=lambda label: (-counts[label], label))
    return named + ([NO_TEMPLATE] if NO_TEMPLATE in counts else [])
