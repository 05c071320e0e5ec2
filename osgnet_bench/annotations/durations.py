"""Video durations for the GoalStep test release, which does not carry them itself.

The official conversion took each test video's length from Ego4D's ``ego4d.json`` metadata
(``videos[].duration_sec``), and a grouped video ``grp-{first_member}`` got the sum of its
members' lengths, members listed in ``goalstep_video_groups.tsv``. Accepted sources:

* a unified jsonl annotation file (its per-``video_id`` ``duration``, e.g. a shipped test jsonl);
* ``ego4d.json`` (``{"videos": [{"video_uid", "duration_sec"}, ...]}``), plus the groups TSV for
  the ``grp-`` videos;
* a JSON object ``{video_uid: seconds}``.
"""

from __future__ import annotations

import ast
import csv
import io
import os

from osgnet_bench.annotations.fields import Number, as_number, as_object, require_number, require_str
from osgnet_bench.errors import UserError
from osgnet_bench.files import looks_like_jsonl, read_json, read_jsonl, read_text

GROUP_PREFIX = "grp-"


def read_video_durations(path: str | os.PathLike, groups_path: str | os.PathLike | None = None) -> dict[str, Number]:
    """``{video_uid: seconds}`` from ``path``, plus ``grp-`` sums when ``groups_path`` is given."""
    durations = _from_jsonl(path) if looks_like_jsonl(path) else _from_json(read_json(path), str(path))
    if groups_path is not None:
        durations.update(read_group_durations(groups_path, durations))
    return durations


def read_group_durations(path: str | os.PathLike, durations: dict[str, Number]) -> dict[str, Number]:
    """``{"grp-{first}": sum of member durations}`` for every row of a GoalStep groups TSV.

    The sum runs from 0 in the listed member order, as the official conversion did, so the float
    result is the same to the last bit.
    """
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    if reader.fieldnames is None or "video_group" not in reader.fieldnames:
        raise UserError(f"{path}: expected a tab-separated file with a 'video_group' column.")
    groups: dict[str, Number] = {}
    for line, row in enumerate(reader, start=2):
        members = _group_members(row["video_group"], f"{path}: line {line}")
        unknown = [uid for uid in members if uid not in durations]
        if unknown:
            raise UserError(
                f"{path}: line {line}: no duration for group member {unknown[0]!r}; the durations "
                "source must list every member video."
            )
        total: Number = 0
        for uid in members:
            total += durations[uid]
        groups[GROUP_PREFIX + members[0]] = total
    return groups


def _group_members(cell: str | None, where: str) -> list[str]:
    """Parse a ``video_group`` cell, a Python list literal of video uids."""
    try:
        members = ast.literal_eval(cell or "")
    except (ValueError, SyntaxError):
        members = None
    if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
        raise UserError(f"{where}: video_group must be a non-empty list of video uids, got {cell!r}.")
    return members


def _from_jsonl(path: str | os.PathLike) -> dict[str, Number]:
    durations: dict[str, Number] = {}
    for line, row in read_jsonl(path):
        where = f"{path}: line {line}"
        video_id = require_str(row, "video_id", where)
        duration = require_number(row, "duration", where)
        if durations.setdefault(video_id, duration) != duration:
            raise UserError(
                f"{where}: video {video_id!r} has duration {duration!r} here but "
                f"{durations[video_id]!r} on an earlier line."
            )
    return durations


def _from_json(data: object, source: str) -> dict[str, Number]:
    mapping = as_object(data, source)
    if isinstance(mapping.get("videos"), list):
        durations: dict[str, Number] = {}
        for v, video in enumerate(mapping["videos"]):
            where = f"{source}: videos[{v}]"
            durations[require_str(video, "video_uid", where)] = require_number(video, "duration_sec", where)
        return durations
    return {str(uid): as_number(seconds, f"{source}: {uid}") for uid, seconds in mapping.items()}
