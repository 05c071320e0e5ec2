"""The stores one split reads, opened from a :class:`DatasetConfig`, and the start-up checks.

Checks run before training: every key the annotations need is looked up in every store (all of
them, so one error can say how many are missing), and the feature widths are compared with the
config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from trainers.data.captions import CaptionSource
from trainers.data.config import DatasetConfig
from trainers.data.stores import ObjectStore, TextFeatureStore, VideoFeatureStore, load_class_table

if TYPE_CHECKING:
    import torch


@dataclass
class FeatureSources:
    """Open readers of one split; objects, class table and captions are optional."""

    videos: VideoFeatureStore
    texts: TextFeatureStore
    objects: ObjectStore | None = None
    class_table: torch.Tensor | None = None  # (num_classes, D_obj)
    captions: CaptionSource | None = None

    @classmethod
    def open(cls, config: DatasetConfig, split: str) -> FeatureSources:
        """Open the stores named by ``config`` for ``split`` ("train", "val" or "test")."""
        text_dir = config.text_store_for(split)
        if config.video_feat_dir is None or text_dir is None:
            raise UserError("the dataset config needs 'video_feat_dir' and 'text_feat_dir' (or 'val_text_feat_dir').")
        if (config.object_feat_dir is None) != (config.classname_feat_dir is None):
            raise UserError("the dataset config must set both 'object_feat_dir' and 'classname_feat_dir', or neither.")
        return cls(
            videos=VideoFeatureStore(config.video_feat_dir),
            texts=TextFeatureStore(text_dir),
            objects=ObjectStore(config.object_feat_dir) if config.object_feat_dir else None,
            class_table=load_class_table(config.classname_feat_dir) if config.classname_feat_dir else None,
            captions=CaptionSource(config.lavila_caption_dir) if config.lavila_caption_dir else None,
        )


def check_sources(
    sources: FeatureSources,
    records: Sequence[QueryRecord],
    label_choices: Sequence[tuple[tuple[int, ...], ...]],
    config: DatasetConfig,
    source: str,
) -> None:
    """Raise one ``UserError`` listing every store that lacks keys, then check feature widths
    and the records' label class ids (``label_choices``, one per record). ``source`` names the
    annotation file."""
    video_ids = list(dict.fromkeys(r.video_id for r in records))
    query_ids = [r.query_id for r in records]
    problems = [
        _missing_message("video-feature", sources.videos.path, "video_id", sources.videos.missing(video_ids)),
        _missing_message("text-feature", sources.texts.path, "query_id", sources.texts.missing(query_ids)),
    ]
    for name, store in (("object", sources.objects), ("caption", sources.captions)):
        if store is not None:
            problems.append(_missing_message(name, store.path, "video_id", store.missing(video_ids)))
    problems = [p for p in problems if p]
    if problems:
        raise UserError(f"{source}: the annotations need keys that the feature stores lack: " + " ".join(problems))
    if not records:
        return
    _check_width(
        "video-feature",
        sources.videos.path,
        records[0].video_id,
        sources.videos.read(records[0].video_id).shape[1],
        "input_vid_dim",
        config.input_vid_dim,
    )
    _check_width(
        "text-feature",
        sources.texts.path,
        records[0].query_id,
        sources.texts.read(records[0].query_id).shape[1],
        "input_txt_dim",
        config.input_txt_dim,
    )
    if sources.class_table is not None:
        _check_label_ids(records, label_choices, int(sources.class_table.shape[0]), source)


def _missing_message(store: str, path: Path, key_name: str, missing: list[str]) -> str:
    if not missing:
        return ""
    others = f" and {len(missing) - 1} other {key_name}s" if len(missing) > 1 else ""
    return f"the {store} store {path} has no entry for {key_name} {missing[0]!r}{others}."


def _check_width(store: str, path: Path, key: str, found: int, config_key: str, expected: int) -> None:
    if found != expected:
        raise UserError(
            f"the {store} store {path} holds {found}-d features (key {key!r}) but the config says "
            f"dataset.{config_key} = {expected}; fix the config or point it at the right store."
        )


def _check_label_ids(
    records: Sequence[QueryRecord], label_choices: Sequence[tuple[tuple[int, ...], ...]], num_classes: int, source: str
) -> None:
    for record, record_choices in zip(records, label_choices, strict=True):
        for choices in record_choices:
            bad = [c for c in choices if not 0 <= c < num_classes]
            if bad:
                line = f" line {record.line}" if record.line else ""
                raise UserError(
                    f"{source}:{line} query {record.query_id!r} has label class_id {bad[0]}, outside "
                    f"the class-name table's {num_classes} rows."
                )
