"""The ``dataset:`` section of an official OSGNet YAML config, read unchanged (pipeline.md §2, §3).

Relative paths are resolved against ``base_dir`` (the working directory by default, as in the
reference, whose configs say ``./ego4d_data/...``); any path can be overridden.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from osgnet_bench.errors import UserError
from trainers.data.captions import DEFAULT_MAX_SHOT_SECOND, DEFAULT_SPLIT_WORDS

PATH_KEYS = (
    "json_file", "train_jsonl_file", "val_jsonl_file", "video_feat_dir", "text_feat_dir",
    "val_text_feat_dir", "object_feat_dir", "classname_feat_dir", "lavila_caption_dir",
)


@dataclass(frozen=True)
class DatasetConfig:
    """Everything the data layer reads from ``dataset:``; defaults are the reference's.

    ``mul_query_input`` caps the per-video query list of the VTM task (0 or False: no list).
    ``val_text_feat_dir`` falls back to ``text_feat_dir``. ``classname_feat_concat: only`` and
    ``object_feat_type: class-score`` are the only object modes (every official config uses them).
    ``downsample_rate`` must be 1 and ``fix_video_frames`` 0: the reference never subsamples.
    """

    input_vid_dim: int
    input_txt_dim: int
    json_file: Path | None = None
    train_jsonl_file: Path | None = None
    val_jsonl_file: Path | None = None
    video_feat_dir: Path | None = None
    text_feat_dir: Path | None = None
    val_text_feat_dir: Path | None = None
    object_feat_dir: Path | None = None
    classname_feat_dir: Path | None = None
    lavila_caption_dir: Path | None = None
    classname_feat_concat: str = "only"
    object_feat_type: str = "class-score"
    num_classes: int = 1
    feat_stride: float = 16.0
    num_frames: float = 16.0
    default_fps: float = 30.0
    max_seq_len: int = 2560
    downsample_rate: int = 1
    fix_video_frames: int = 0
    mul_query_input: int = 1000
    enable_temporal_jittering: bool = False
    text_feat_with_eot: bool = False
    split_word_list: tuple[str, ...] = field(default=DEFAULT_SPLIT_WORDS)
    max_shot_second: float = DEFAULT_MAX_SHOT_SECOND

    @property
    def grid_stride(self) -> float:
        """Frames per feature step used to turn seconds into grid units: ``feat_stride * downsample_rate``."""
        return self.feat_stride * self.downsample_rate

    def text_store_for(self, split: str) -> Path | None:
        """The text-feature store of ``split`` ("train" reads ``text_feat_dir``, others ``val_text_feat_dir``)."""
        if split == "train":
            return self.text_feat_dir
        return self.val_text_feat_dir or self.text_feat_dir

    def jsonl_for(self, split: str) -> Path | None:
        """The annotation jsonl of ``split`` ("train" or "val")."""
        return self.train_jsonl_file if split == "train" else self.val_jsonl_file

    def with_paths(self, **paths: str | os.PathLike | None) -> DatasetConfig:
        """A copy with some paths replaced (``None`` values are ignored)."""
        unknown = sorted(set(paths) - set(PATH_KEYS))
        if unknown:
            raise UserError(
                f"cannot override {', '.join(unknown)}: not a dataset path (paths: {', '.join(PATH_KEYS)})."
            )
        return dataclasses.replace(self, **{k: Path(v) for k, v in paths.items() if v is not None})

    @classmethod
    def from_mapping(cls, section: Any, source: str, base_dir: str | os.PathLike | None = None) -> DatasetConfig:
        """Parse a ``dataset:`` mapping; ``source`` names the file in errors."""
        if not isinstance(section, dict):
            raise UserError(f"{source}: 'dataset' must be a mapping, got {type(section).__name__}.")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(section) - set(fields))
        if unknown:
            raise UserError(
                f"{source}: unknown key(s) in 'dataset': {', '.join(unknown)}. Known keys: "
                f"{', '.join(sorted(fields))}."
            )
        for required in ("input_vid_dim", "input_txt_dim"):
            if section.get(required) is None:
                raise UserError(f"{source}: 'dataset' needs '{required}' (the feature width).")
        root = Path(base_dir) if base_dir is not None else Path.cwd()
        values = {key: _convert(key, value, fields[key], root, source) for key, value in section.items()}
        config = cls(**values)
        config._check(source)
        return config

    def _check(self, source: str) -> None:
        if self.classname_feat_concat != "only" or self.object_feat_type != "class-score":
            raise UserError(
                f"{source}: object mode classname_feat_concat={self.classname_feat_concat!r}, "
                f"object_feat_type={self.object_feat_type!r} is not supported; only 'only' with "
                "'class-score' (query-conditioned class-name embeddings, used by every official config)."
            )
        if self.downsample_rate != 1 or self.fix_video_frames != 0:
            raise UserError(
                f"{source}: downsample_rate must be 1 and fix_video_frames 0 (features are never "
                f"subsampled), got {self.downsample_rate} and {self.fix_video_frames}."
            )
        for key in ("feat_stride", "num_frames", "default_fps", "max_seq_len", "input_vid_dim", "input_txt_dim"):
            if getattr(self, key) <= 0:
                raise UserError(f"{source}: dataset.{key} must be positive, got {getattr(self, key)}.")


def load_dataset_config(
    path: str | os.PathLike,
    base_dir: str | os.PathLike | None = None,
    **path_overrides: str | os.PathLike | None,
) -> DatasetConfig:
    """Read the ``dataset:`` section of a YAML config file, then apply path overrides."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except FileNotFoundError:
        raise UserError(f"{path}: no such config file.") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc}).") from None
    if not isinstance(document, dict) or "dataset" not in document:
        raise UserError(f"{path}: no 'dataset' section.")
    return DatasetConfig.from_mapping(document["dataset"], str(path), base_dir).with_paths(**path_overrides)


def _convert(key: str, value: Any, spec: dataclasses.Field, root: Path, source: str) -> Any:
    kind = spec.type
    try:
        if key in PATH_KEYS:
            return None if value in (None, "") else root / Path(str(value))
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            if not isinstance(value, (bool, int)):
                raise ValueError
            return bool(value)
        if kind == "str":
            return str(value)
        if key == "split_word_list":
            if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
                raise ValueError
            return tuple(value)
    except (TypeError, ValueError):
        raise UserError(f"{source}: dataset.{key} = {value!r} is not a valid {kind}.") from None
    raise AssertionError(f"unhandled dataset key {key}")
