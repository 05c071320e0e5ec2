"""Reader for the official Ego4D GoalStep release JSON (``goalstep_{train,valid,test}.json``).

Follows the official GoalStep -> NLQ conversion (pipeline.md §1.6, eval.md §2.1):

* train/val (videos with ``segments``): each video is one clip (``video_id = video_uid``) with
  one annotation, ``annotation_uid = "{video_uid}_{start_time}_{end_time}"`` built from the
  goal's bounds as Python prints the parsed JSON numbers. Its queries are every level-2 step
  followed by its level-3 substeps, descriptions stripped, GT windows in absolute video seconds,
  ``duration = end_time - start_time``.
* test (videos with ``step_segments``): ``annotation_uid = video_uid``, ``query_idx`` = position
  in ``step_segments``, no windows. The release does not carry video durations (the official
  conversion read them from ``ego4d.json``), so ``duration`` is ``None`` unless a
  ``durations`` mapping ``{video_uid: seconds}`` is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osgnet_bench.annotations.fields import (
    Number,
    as_object,
    require_list,
    require_number,
    require_str,
)
from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError

QUERY_TYPE = "goal_step"


def is_goalstep_release(data: Any) -> bool:
    """True when ``data`` looks like a GoalStep release: videos with ``segments`` or ``step_segments``."""
    videos = data.get("videos") if isinstance(data, dict) else None
    if not isinstance(videos, list) or not videos or not isinstance(videos[0], dict):
        return False
    first = videos[0]
    return "clips" not in first and ("segments" in first or "step_segments" in first)


def is_goalstep_test(data: Any) -> bool:
    """True for the unannotated test release (videos carry ``step_segments`` only)."""
    return is_goalstep_release(data) and "step_segments" in data["videos"][0]


def read_goalstep_release(data: dict, source: str, durations: Mapping[str, Number] | None = None) -> list[QueryRecord]:
    """All step queries of a parsed GoalStep release, in the official order.

    ``durations`` supplies test video lengths; it is refused for train/val files, whose
    durations come from the goal bounds.
    """
    if not is_goalstep_release(data):
        raise UserError(f"{source}: not a GoalStep release file (expected 'videos' with 'segments').")
    if is_goalstep_test(data):
        return _read_test(data["videos"], source, durations)
    if durations is not None:
        raise UserError(
            f"{source}: video durations apply only to the GoalStep test release; this annotated "
            "file takes each duration from its goal's start_time and end_time."
        )
    return _read_annotated(data["videos"], source)


def _read_annotated(videos: list, source: str) -> list[QueryRecord]:
    records: list[QueryRecord] = []
    for v, raw_video in enumerate(videos):
        where = f"{source}: videos[{v}]"
        video = as_object(raw_video, where)
        video_uid = require_str(video, "video_uid", where)
        start = require_number(video, "start_time", where)
        end = require_number(video, "end_time", where)
        annotation_uid = f"{video_uid}_{start}_{end}"
        for idx, (step, step_where) in enumerate(_steps_then_substeps(video, where)):
            records.append(
                QueryRecord(
                    video_id=video_uid,
                    annotation_uid=annotation_uid,
                    query_idx=idx,
                    query=_description(step, step_where),
                    duration=end - start,
                    windows=(_positive_window(step, step_where),),
                    query_type=QUERY_TYPE,
                )
            )
    return records


def _steps_then_substeps(video: dict, where: str) -> list[tuple[dict, str]]:
    """Each level-2 step immediately followed by its level-3 substeps, with their JSON paths."""
    ordered: list[tuple[dict, str]] = []
    for s, raw_step in enumerate(require_list(video, "segments", where)):
        step_where = f"{where}.segments[{s}]"
        step = as_object(raw_step, step_where)
        ordered.append((step, step_where))
        for u, substep in enumerate(require_list(step, "segments", step_where)):
            substep_where = f"{step_where}.segments[{u}]"
            ordered.append((as_object(substep, substep_where), substep_where))
    return ordered


def _read_test(videos: list, source: str, durations: Mapping[str, Number] | None) -> list[QueryRecord]:
    records: list[QueryRecord] = []
    missing: list[str] = []
    for v, raw_video in enumerate(videos):
        where = f"{source}: videos[{v}]"
        video = as_object(raw_video, where)
        video_uid = require_str(video, "video_uid", where)
        duration = None
        if durations is not None:
            duration = durations.get(video_uid)
            if duration is None:
                missing.append(video_uid)
        for idx, raw_step in enumerate(require_list(video, "step_segments", where)):
            step_where = f"{where}.step_segments[{idx}]"
            step = as_object(raw_step, step_where)
            records.append(
                QueryRecord(
                    video_id=video_uid,
                    annotation_uid=video_uid,
                    query_idx=idx,
                    query=_description(step, step_where),
                    duration=duration,
                    windows=None,
                    query_type=QUERY_TYPE,
                )
            )
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise UserError(
            f"{source}: the durations source has no duration for {len(missing)} of the "
            f"{len(videos)} test videos ({shown}); it must cover every video_uid of the release."
        )
    return records


def _description(step: dict, where: str) -> str:
    """The stripped ``step_description``; the official conversion refuses an empty one."""
    text = require_str(step, "step_description", where).strip()
    if not text:
        raise UserError(f"{where}.step_description: empty; every GoalStep step needs a description.")
    return text


def _positive_window(step: dict, where: str) -> tuple[Number, Number]:
    """``(start_time, end_time)`` in absolute video seconds; zero or negative length is refused."""
    start = require_number(step, "start_time", where)
    end = require_number(step, "end_time", where)
    if end - start <= 0:
        raise UserError(
            f"{where}: end_time {end!r} is not after start_time {start!r}; the official "
            "conversion requires every step window to have positive length."
        )
    return (start, end)
