"""Readers and writers of the feature stores OSGNet users already have (pipeline.md §2.1-2.4).

| store | key | value | reader returns |
|---|---|---|---|
| video features | ``video_id`` | npz ``features`` (T, D) | float32 (T, D) |
| text token features | ``query_id`` | npz ``token_features`` (L, D) (or ``features``) | float32 (L, D) |
| object detections | ``video_id`` | pickled list of T ``{class_id: score}`` dicts | :class:`StepDetections` |
| class-name table | – | ``.pt`` float tensor (num_classes, D) | float32 tensor |

Readers are lazily opened and fork-safe (see :mod:`trainers.data.lmdb_store`). Every read error
names the store and the key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from osgnet_bench.errors import UserError
from osgnet_bench.files import atomic_writer
from trainers.data.codecs import (
    DecodeError,
    decode_detections,
    decode_npz,
    encode_detections,
    encode_npz,
)
from trainers.data.lmdb_store import LmdbReader, write_lmdb

if TYPE_CHECKING:
    import torch  # imported lazily at run time: reading LMDB stores does not need torch

VIDEO_ARRAYS = ("features",)
TEXT_ARRAYS = ("token_features", "features")


@dataclass(frozen=True)
class StepDetections:
    """One video's detections in compressed-row form.

    Step t holds ``class_ids[step_ptr[t]:step_ptr[t + 1]]`` (int64) with ``scores`` alongside;
    ``step_ptr`` has shape (T + 1,).
    """

    step_ptr: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray

    @property
    def num_steps(self) -> int:
        return len(self.step_ptr) - 1

    @classmethod
    def from_steps(cls, steps: list[dict[int, float]]) -> StepDetections:
        counts = np.fromiter((len(step) for step in steps), dtype=np.int64, count=len(steps))
        step_ptr = np.zeros(len(steps) + 1, dtype=np.int64)
        np.cumsum(counts, out=step_ptr[1:])
        total = int(step_ptr[-1])
        class_ids = np.fromiter((int(c) for step in steps for c in step), dtype=np.int64, count=total)
        scores = np.fromiter((float(s) for step in steps for s in step.values()), dtype=np.float32, count=total)
        return cls(step_ptr, class_ids, scores)

    def step_of_each_detection(self) -> np.ndarray:
        """(N,) int64: the step index of every entry of ``class_ids``."""
        return np.repeat(np.arange(self.num_steps, dtype=np.int64), np.diff(self.step_ptr))


class _DenseStore:
    """An LMDB of npz archives; ``arrays`` are the archive names tried in order, ``unit`` names a row."""

    arrays: tuple[str, ...] = ()
    unit = "steps"

    def __init__(self, path: str | os.PathLike, name: str) -> None:
        self.reader = LmdbReader(path, name)

    @property
    def path(self) -> Path:
        return self.reader.path

    def read(self, key: str) -> np.ndarray:
        """The float32 2-D array stored under ``key``."""
        value = self.reader.get(key)
        if value is None:
            raise UserError(f"{self.reader.name} store {self.path}: no entry for key {key!r}.")
        try:
            array = decode_npz(value, self.arrays)
        except DecodeError as exc:
            raise UserError(
                f"{self.reader.name} store {self.path}: the value of key {key!r} is corrupted: {exc}."
            ) from None
        return _as_2d_float32(array, self.reader.name, self.path, key, self.unit)

    def missing(self, keys: Iterable[str]) -> list[str]:
        return self.reader.missing(keys)

    def __len__(self) -> int:
        return len(self.reader)


class VideoFeatureStore(_DenseStore):
    """Video features keyed by ``video_id``: float32 (T, D) per video."""

    arrays = VIDEO_ARRAYS

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path, "video-feature")


class TextFeatureStore(_DenseStore):
    """Query token features keyed by ``query_id``: float32 (L, D) per query (a 1-D value is one token)."""

    arrays = TEXT_ARRAYS
    unit = "tokens"

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path, "text-feature")


class ObjectStore:
    """Per-step object detections keyed by ``video_id``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.reader = LmdbReader(path, "object")

    @property
    def path(self) -> Path:
        return self.reader.path

    def read(self, video_id: str) -> StepDetections:
        value = self.reader.get(video_id)
        if value is None:
            raise UserError(f"object store {self.path}: no entry for key {video_id!r}.")
        try:
            return StepDetections.from_steps(decode_detections(value))
        except DecodeError as exc:
            raise UserError(f"object store {self.path}: the value of key {video_id!r} is corrupted: {exc}.") from None

    def missing(self, keys: Iterable[str]) -> list[str]:
        return self.reader.missing(keys)

    def __len__(self) -> int:
        return len(self.reader)


def dense_shape_problem(shape: tuple[int, ...], dtype: np.dtype, unit: str) -> str | None:
    """What is wrong with a stored dense array of ``shape`` and ``dtype`` (``None`` when nothing):
    it must be integer or float, (``unit``, dim) or 1-D (one row), with at least one row and one column."""
    numeric = np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)
    if len(shape) not in (1, 2) or not numeric:
        return f"has shape {shape} and dtype {dtype}; expected a numeric ({unit}, dim) array"
    if len(shape) == 2 and shape[0] == 0:
        return f"has 0 {unit} (shape {shape}); at least one is needed"
    if shape[-1] == 0:
        return f"has 0-wide features (shape {shape}); expected at least one value per row"
    return None


def _as_2d_float32(array: np.ndarray, name: str, path: Path, key: str, unit: str) -> np.ndarray:
    problem = dense_shape_problem(array.shape, array.dtype, unit)
    if problem is not None:
        raise UserError(f"{name} store {path}: the value of key {key!r} {problem}.")
    if array.ndim == 1:
        array = array[None, :]
    return np.ascontiguousarray(array, dtype=np.float32)


def write_video_store(path: str | os.PathLike, videos: Iterable[tuple[str, np.ndarray]]) -> int:
    """Write ``(video_id, (T, D) array)`` pairs as a video-feature LMDB; returns the entry count."""
    return write_lmdb(path, ((key, encode_npz(features=np.asarray(a, np.float32))) for key, a in videos))


def write_text_store(path: str | os.PathLike, queries: Iterable[tuple[str, np.ndarray]]) -> int:
    """Write ``(query_id, (L, D) array)`` pairs as a text-feature LMDB (``token_features``)."""
    return write_lmdb(path, ((key, encode_npz(token_features=np.asarray(a, np.float32))) for key, a in queries))


def write_object_store(path: str | os.PathLike, videos: Iterable[tuple[str, list[dict[int, float]]]]) -> int:
    """Write ``(video_id, per-step {class_id: score} dicts)`` pairs as an object LMDB."""
    return write_lmdb(path, ((key, encode_detections(steps)) for key, steps in videos))


def load_class_table(path: str | os.PathLike) -> torch.Tensor:
    """The class-name embedding table: a float32 torch tensor (num_classes, D)."""
    import torch

    try:
        table = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"class-name table {path}: no such file.") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise UserError(f"class-name table {path}: not a readable torch file ({type(exc).__name__}: {exc}).") from None
    if not isinstance(table, torch.Tensor) or table.ndim != 2 or not table.is_floating_point():
        what = f"a {table.ndim}-D {table.dtype} tensor" if isinstance(table, torch.Tensor) else type(table).__name__
        raise UserError(f"class-name table {path}: expected a 2-D float tensor (num_classes, dim), got {what}.")
    return table.to(torch.float32).contiguous()


def save_class_table(path: str | os.PathLike, table: np.ndarray) -> None:
    """Write a (num_classes, D) class-name embedding table as a ``.pt`` tensor, atomically."""
    import torch

    with atomic_writer(path, "wb") as handle:
        torch.save(torch.as_tensor(np.asarray(table, dtype=np.float32)), handle)
