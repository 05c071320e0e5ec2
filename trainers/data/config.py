"""The ``dataset:`` section of an official OSGNet YAML config, read unchanged (pipeline.md §2, §3).

It is read by :func:`trainers.config.load_run_config` (the one config loader, through
:mod:`osgnet_bench.config_reader`), which resolves relative paths against the working directory
as the reference does (its configs say ``./ego4d_data/...``). This section is the one home of the
dataset timing (``feat_stride``, ``num_frames``, ``default_fps``, ``max_seq_len``); the model
config receives ``max_seq_len`` from it and every sample carries the rest.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_type_hints

from osgnet_bench.config_reader import setting
from osgnet_bench.errors import UserError
from trainers.data.captions import DEFAULT_MAX_SHOT_SECOND, DEFAULT_SPLIT_WORDS


@dataclass(frozen=True, kw_only=True)
class DatasetConfig:
    """Everything the data layer reads from ``dataset:``; a key the YAML lacks takes the reference's
    default (``DEFAULTS`` in its ``libs/core/config.py``).

    ``default_fps`` has no default: the reference's (None) cannot convert seconds to feature steps,
    so a config must say it (30 for Ego4D, 29.4 for TACoS). ``num_frames`` defaults to the
    reference's 32, although every official config says 16.
    ``mul_query_input`` caps the per-video query list of the VTM task (0 or false: no list).
    ``val_text_feat_dir`` falls back to ``text_feat_dir``. ``classname_feat_concat: only`` and
    ``object_feat_type: class-score`` are the only object modes (every official config uses them).
    ``downsample_rate`` must be 1 and ``fix_video_frames`` 0: the reference never subsamples.
    """

    input_vid_dim: int = setting(minimum=1)
    input_txt_dim: int = setting(minimum=1)
    default_fps: float = setting(exclusive_minimum=0, note="It is the frame rate of the source videos (30 for Ego4D).")
    json_file: Path | None = None
    train_jsonl_file: Path | None = None
    val_jsonl_file: Path | None = None
    video_feat_dir: Path | None = None
    text_feat_dir: Path | None = None
    val_text_feat_dir: Path | None = None
    object_feat_dir: Path | None = None
    classname_feat_dir: Path | None = None
    lavila_caption_dir: Path | None = None
    classname_feat_concat: Literal["only"] = setting(
        "only",
        note="Only query-conditioned class-name embeddings ('only' with 'class-score', used by every "
        "official config) are supported.",
    )
    object_feat_type: Literal["class-score"] = setting(
        "class-score", note="Only 'class-score' object features (every official config) are supported."
    )
    num_classes: int = setting(1, minimum=1)
    feat_stride: float = setting(16.0, exclusive_minimum=0)
    num_frames: float = setting(32.0, exclusive_minimum=0)
    max_seq_len: int = setting(2560, minimum=1)
    downsample_rate: Literal[1] = setting(
        1, note="Features are never subsampled, so another rate would misalign the targets."
    )
    fix_video_frames: Literal[0] = setting(0, note="Features are never resampled to a fixed length.")
    mul_query_input: int = setting(1000, minimum=0, false_means=0)
    enable_temporal_jittering: bool = False
    text_feat_with_eot: bool = False
    split_word_list: tuple[str, ...] = DEFAULT_SPLIT_WORDS
    max_shot_second: float = setting(DEFAULT_MAX_SHOT_SECOND, exclusive_minimum=0)

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
        replaced: dict[str, Any] = {k: Path(v) for k, v in paths.items() if v is not None}
        return dataclasses.replace(self, **replaced)


PATH_KEYS = tuple(name for name, kind in get_type_hints(DatasetConfig).items() if kind == Path | None)
