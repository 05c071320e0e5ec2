"""LaViLa captions and the shots derived from them (pipeline.md §3.1-3.2).

Captions are one JSON-lines file per video, ``{video_id}.json``, with one record per line in
temporal order; only ``narration`` (alternatives separated by ``;``) and ``frame_start_id`` (a
frame index at the source frame rate) are read. They are read from the unzipped directory or
straight from the distributed ``lavila.zip`` (any member whose file name is ``{video_id}.json``).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from osgnet_bench.errors import UserError
from osgnet_bench.files import write_jsonl

DEFAULT_SPLIT_WORDS = ("looks around", "turns around")
DEFAULT_MAX_SHOT_SECOND = 86400.0


@dataclass(frozen=True)
class Caption:
    """One LaViLa record: the start frame of its window and its ``;``-separated narrations."""

    frame_start_id: int
    narration: str


class CaptionSource:
    """Per-video caption files in a directory or a zip archive; fork-safe (the zip is reopened per process)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise UserError(f"caption source {self.path}: no such directory or zip file.")
        self.is_zip = self.path.is_file()
        self._members: dict[str, str] | None = None
        self._zip: zipfile.ZipFile | None = None
        self._pid: int | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_zip=None, _pid=None)
        return state

    def _archive(self) -> zipfile.ZipFile:
        if self._zip is None or self._pid != os.getpid():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except zipfile.BadZipFile:
                raise UserError(f"caption source {self.path}: not a directory and not a zip archive.") from None
            self._pid = os.getpid()
        return self._zip

    def _member_index(self) -> dict[str, str]:
        """``video_id -> member name`` of every ``*.json`` file in the archive (first one wins)."""
        if self._members is None:
            members: dict[str, str] = {}
            for name in self._archive().namelist():
                base = name.rsplit("/", 1)[-1]
                if base.endswith(".json") and not name.endswith("/"):
                    members.setdefault(base[: -len(".json")], name)
            self._members = members
        return self._members

    def missing(self, video_ids: Iterable[str]) -> list[str]:
        """The video ids (deduplicated, first-seen order) that have no caption file."""
        absent: list[str] = []
        for video_id in dict.fromkeys(video_ids):
            found = video_id in self._member_index() if self.is_zip else (self.path / f"{video_id}.json").is_file()
            if not found:
                absent.append(video_id)
        return absent

    def video_ids(self) -> list[str]:
        """Every video that has a caption file, sorted."""
        if self.is_zip:
            return sorted(self._member_index())
        return sorted(p.name[: -len(".json")] for p in self.path.glob("*.json"))

    def read(self, video_id: str) -> list[Caption]:
        """The caption records of one video, in file order."""
        if self.is_zip:
            member = self._member_index().get(video_id)
            if member is None:
                raise UserError(f"caption source {self.path}: no member {video_id}.json in the archive.")
            where = f"{self.path}:{member}"
            text = self._archive().read(member).decode("utf-8", errors="strict")
        else:
            file = self.path / f"{video_id}.json"
            where = str(file)
            try:
                text = file.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise UserError(f"caption source {self.path}: no file {video_id}.json.") from None
        return parse_captions(text, where)


def parse_captions(text: str, where: str) -> list[Caption]:
    """Parse the JSON-lines text of one caption file; errors name ``where`` and the line."""
    captions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            captions.append(Caption(int(row["frame_start_id"]), str(row["narration"])))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise UserError(
                f"{where}: line {number} is not a caption record with 'narration' and "
                f"'frame_start_id' ({type(exc).__name__}: {exc})."
            ) from None
    return captions


def write_captions(directory: str | os.PathLike, video_id: str, records: Sequence[dict]) -> None:
    """Write one video's caption records as ``{directory}/{video_id}.json`` (JSON lines), atomically."""
    write_jsonl(Path(directory) / f"{video_id}.json", list(records))


def shot_cut_frames(
    captions: Sequence[Caption],
    fps: float,
    split_words: Sequence[str] = DEFAULT_SPLIT_WORDS,
    max_shot_second: float = DEFAULT_MAX_SHOT_SECOND,
) -> list[int]:
    """Frame ids where a new shot starts: at most one per record, when one of its ``;``-separated
    narrations mentions the camera wearer (``#c``) and a split phrase, or when the current shot
    has lasted ``max_shot_second``."""
    cuts: list[int] = []
    for caption in captions:
        for alternative in caption.narration.lower().split(";"):
            if cuts and caption.frame_start_id >= cuts[-1] + max_shot_second * fps:
                cuts.append(caption.frame_start_id)
                break
            if "#c" in alternative and any(word in alternative for word in split_words):
                cuts.append(caption.frame_start_id)
                break
    return cuts


def shots_from_cuts(cut_frames: Sequence[int], num_steps: int, num_frames: float, max_seq_len: int) -> np.ndarray:
    """float32 (2, S + 1): rows ``left`` / ``right`` of the S shots [start, end) in feature steps
    that tile [0, T), followed by the padding shot [T, max_seq_len] that consumers drop."""
    boundaries = [frame / num_frames for frame in cut_frames]
    if not boundaries or boundaries[0] > 0:
        boundaries.insert(0, 0.0)
    left = [b for b in boundaries if b < num_steps] + [float(num_steps)]
    right = left[1:] + [float(max_seq_len)]
    return np.array([left, right], dtype=np.float32)
