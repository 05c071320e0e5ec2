"""Second validation layer: checks against the track and, when given, the ground-truth or test
query list: the challenge string, every text query present exactly once, no unknown query,
start <= end, windows inside the clip duration, fewer than 5 windows.

Decisions (eval.md §1.3, §1.4, §2.3, §4):

* Fewer than ``RECOMMENDED_WINDOWS`` = 5 windows is only a warning: it is scored, but can only
  lower R@5.
* A window ending past the clip duration is a warning, and only beyond ``DURATION_TOLERANCE_S``
  (1 s): 87 v2-val ground-truth windows themselves end up to 0.58 s past the computed duration,
  and the evaluator neither clips nor rejects such windows.
* A submitted textless query is a warning: its index exists, so the evaluator scores it, but no
  model can ground an empty query and the official converters never predict it, so it only adds
  a likely miss to the mean over submitted entries.
* Missing and duplicated queries are errors: the official mean is over submitted entries, so a
  gap or a repeat silently changes the leaderboard number instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from osgnet_bench.annotations.records import QueryKey, QueryRecord
from submissions.problems import PathPart, Problem, Severity, shorten
from submissions.schema_check import is_json_integer, is_json_number

RECOMMENDED_WINDOWS = 5
DURATION_TOLERANCE_S = 1.0


def describe_key(key: QueryKey) -> str:
    """``query (clip_uid 'c', annotation_uid 'a', query_idx 3)``."""
    return f"query (clip_uid {key[0]!r}, annotation_uid {key[1]!r}, query_idx {key[2]})"


def header_problems(data: dict, challenge: str) -> list[Problem]:
    """An error when the file's challenge string is a non-empty string other than ``challenge``."""
    value = data.get("challenge")
    if isinstance(value, str) and value and value != challenge:
        return [
            Problem(
                Severity.ERROR,
                "header",
                ("challenge",),
                f"challenge must be {json.dumps(challenge)} for this track, got {json.dumps(value)} "
                "(use --challenge to check against another challenge string)",
            )
        ]
    return []


def result_problems(results: list, index: dict[QueryKey, QueryRecord] | None) -> list[Problem]:
    """Duplicate, unknown and textless queries and bad windows, entry by entry.

    ``index``: the query list by key, or None to check only the file's own consistency.
    """
    problems: list[Problem] = []
    first_seen: dict[QueryKey, int] = {}
    known = _KnownQueries.build(index) if index is not None else None
    for i, entry in enumerate(results):
        if not isinstance(entry, dict):
            continue
        key = _entry_key(entry)
        record = index.get(key) if index is not None and key is not None else None
        if key is not None:
            problems += _key_problems(key, ("results", i), first_seen.setdefault(key, i), record, known)
        problems += _window_problems(entry.get("predicted_times"), ("results", i, "predicted_times"), record)
    return problems


def missing_problems(index: dict[QueryKey, QueryRecord], results: list) -> list[Problem]:
    """An error for every text query of ``index`` that no entry of ``results`` submits."""
    submitted = set(_submitted_keys(results))
    return [
        Problem(
            Severity.ERROR,
            "missing-query",
            ("results",),
            f"{describe_key(key)} is missing (query {json.dumps(shorten(record.query))})",
        )
        for key, record in index.items()
        if record.has_text and key not in submitted
    ]


def _key_problems(
    key: QueryKey,
    location: tuple[PathPart, ...],
    first_index: int,
    record: QueryRecord | None,
    known: _KnownQueries | None,
) -> list[Problem]:
    """Duplicate, unknown or textless query; ``first_index`` is where ``key`` was first submitted."""
    problems = []
    if first_index != location[-1]:
        problems.append(
            Problem(
                Severity.ERROR,
                "duplicate-query",
                location,
                f"{describe_key(key)} was already submitted at results[{first_index}]; each query must "
                "appear exactly once (the official evaluator would count it twice)",
            )
        )
    if known is not None and record is None:
        problems.append(Problem(Severity.ERROR, "unknown-query", location, known.explain(key)))
    elif record is not None and not record.has_text:
        problems.append(
            Problem(
                Severity.WARNING,
                "textless-query",
                location,
                f"{describe_key(key)} has no query text; the evaluator scores it, but nothing can be "
                "grounded without text and it only adds a likely miss to your mean, so leave it out",
            )
        )
    return problems


def _window_problems(windows: Any, location: tuple[PathPart, ...], record: QueryRecord | None) -> list[Problem]:
    """Too few windows, reversed windows and windows ending past the clip; shape errors are left
    to the schema."""
    if not (isinstance(windows, list) and all(isinstance(window, list) for window in windows)):
        return []
    problems = []
    if 0 < len(windows) < RECOMMENDED_WINDOWS:
        problems.append(
            Problem(
                Severity.WARNING,
                "few-windows",
                location,
                f"{len(windows)} window{'s' if len(windows) > 1 else ''} given; {RECOMMENDED_WINDOWS} ranked "
                f"windows are recommended (fewer can only lower R@{RECOMMENDED_WINDOWS})",
            )
        )
    duration = record.duration if record is not None else None
    for j, window in enumerate(windows):
        if not (
            isinstance(window, list) and len(window) == 2 and is_json_number(window[0]) and is_json_number(window[1])
        ):
            continue
        start, end = window
        if start > end:
            problems.append(
                Problem(
                    Severity.ERROR,
                    "reversed-window",
                    (*location, j),
                    f"start {start!r} is after end {end!r}; a reversed window always scores IoU 0 (swap them)",
                )
            )
        if duration is not None and end > duration + DURATION_TOLERANCE_S:
            problems.append(
                Problem(
                    Severity.WARNING,
                    "past-duration",
                    (*location, j, 1),
                    f"end {end!r} is past the clip duration {duration:.3f} s (tolerance "
                    f"{DURATION_TOLERANCE_S:g} s); such a window can hardly match the ground truth",
                )
            )
    return problems


@dataclass(frozen=True)
class _KnownQueries:
    """The query list regrouped to explain why a submitted key is unknown."""

    indices: dict[tuple[str, str], list[int]]
    clips_of_annotation: dict[str, list[str]]

    @classmethod
    def build(cls, index: dict[QueryKey, QueryRecord]) -> _KnownQueries:
        indices: dict[tuple[str, str], list[int]] = {}
        clips_of_annotation: dict[str, list[str]] = {}
        for clip_uid, annotation_uid, query_idx in index:
            indices.setdefault((clip_uid, annotation_uid), []).append(query_idx)
            clips = clips_of_annotation.setdefault(annotation_uid, [])
            if clip_uid not in clips:
                clips.append(clip_uid)
        return cls(indices, clips_of_annotation)

    def explain(self, key: QueryKey) -> str:
        clip_uid, annotation_uid, query_idx = key
        same_annotation = self.indices.get((clip_uid, annotation_uid))
        if same_annotation:
            return (
                f"query_idx {query_idx} does not exist: "
                f"annotation {annotation_uid!r} of clip {clip_uid!r} has "
                f"{len(same_annotation)} queries, indices {_index_range(same_annotation)}"
            )
        other_clips = self.clips_of_annotation.get(annotation_uid)
        if other_clips:
            return f"annotation_uid {annotation_uid!r} belongs to clip {other_clips[0]!r}, not to clip {clip_uid!r}"
        return f"{describe_key(key)} is not in the query list (no such annotation_uid)"


def _entry_key(entry: dict) -> QueryKey | None:
    """The entry's query key, or None when a uid or the index is missing or malformed."""
    clip_uid, annotation_uid, query_idx = (entry.get(k) for k in ("clip_uid", "annotation_uid", "query_idx"))
    if not (isinstance(clip_uid, str) and isinstance(annotation_uid, str) and clip_uid and annotation_uid):
        return None
    if isinstance(query_idx, int) and is_json_integer(query_idx) and query_idx >= 0:
        return (clip_uid, annotation_uid, query_idx)
    return None


def _submitted_keys(results: list) -> Iterator[QueryKey]:
    for entry in results:
        key = _entry_key(entry) if isinstance(entry, dict) else None
        if key is not None:
            yield key


def _index_range(indices: list[int]) -> str:
    """``0..4`` for consecutive indices, else the indices listed."""
    ordered = sorted(indices)
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}..{ordered[-1]}"
    return ", ".join(map(str, ordered))
