"""Group queries for per-group metrics: by NLQ query template, by ground-truth window length."""

from __future__ import annotations

import math
from collections.abc import Sequence

from osgnet_bench.annotations.records import QueryKey, QueryRecord

DEFAULT_LENGTH_EDGES: tuple[float, ...] = (2.0, 5.0, 10.0, 30.0, 60.0)
NO_TEMPLATE = "(no template)"


def length_labels(edges: Sequence[float]) -> list[str]:
    """Bucket names for edges ``(2, 5)``: ``["<2s", "2-5s", ">=5s"]``."""
    shown = [f"{edge:g}" for edge in edges]
    middle = [f"{low}-{high}s" for low, high in zip(shown, shown[1:], strict=False)]
    return [f"<{shown[0]}s", *middle, f">={shown[-1]}s"]


def length_bucket(length: float, edges: Sequence[float]) -> int:
    """Index of the bucket holding ``length`` seconds: bucket i is [edges[i-1], edges[i])."""
    for index, edge in enumerate(edges):
        if length < edge:
            return index
    return len(edges)


def length_groups(records: Sequence[QueryRecord], edges: Sequence[float]) -> dict[QueryKey, str]:
    """Each annotated query's length bucket, from its first ground-truth window."""
    labels = length_labels(edges)
    groups = {}
    for record in records:
        if record.has_text and record.windows:
            start, end = record.windows[0]
            groups[record.key] = labels[length_bucket(float(end) - float(start), edges)]
    return groups


def template_groups(records: Sequence[QueryRecord]) -> dict[QueryKey, str] | None:
    """Each query's NLQ template (``NO_TEMPLATE`` when it has none); ``None`` when no record
    carries one (a jsonl file or another track)."""
    if not any(record.template for record in records):
        return None
    return {record.key: record.template or NO_TEMPLATE for record in records if record.has_text}


def check_edges(edges: Sequence[float]) -> str | None:
    """A reason why ``edges`` are unusable, or ``None`` when they are increasing positive numbers."""
    if not edges:
        return "give at least one edge"
    if any(not math.isfinite(edge) or edge <= 0 for edge in edges):
        return "every edge must be a positive number of seconds"
    if any(high <= low for low, high in zip(edges, edges[1:], strict=False)):
        return "edges must be increasing"
    return None
