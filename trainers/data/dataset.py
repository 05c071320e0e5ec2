"""One query -> the ``GroundingSample`` the OSGNet model consumes (trainers/model/inputs.py documents
its fields; pipeline.md §2.7 of the reference notes).

Decoding one video (features, detections, shots, the token features of all its queries) is the
expensive part, and many queries share a video, so decoded videos are kept in a small per-process
LRU cache. Samples are built from the cache without changing their content; load them with
:func:`trainers.data.loader.make_data_loader` so that each worker serves a video's queries together.
Tensors of a sample may be shared with the cache (and with other samples of the same video), so
consumers must treat samples as read-only: copy before modifying in place.
"""

from __future__ import annotations

import multiprocessing
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from trainers.data.captions import shot_cut_frames, shots_from_cuts
from trainers.data.config import DatasetConfig
from trainers.data.objects import label_class_choices, select_query_objects
from trainers.data.segments import jitter_windows, seconds_to_grid
from trainers.data.sources import FeatureSources, check_sources
from trainers.data.stores import StepDetections
from trainers.model.inputs import GroundingSample


@dataclass
class DecodedVideo:
    """Everything a sample needs from one video, decoded once."""

    feats: torch.Tensor  # float32 (D_v, T)
    query_feats: dict[str, torch.Tensor]  # query_id -> float32 (D_t, L)
    detections: StepDetections | None
    shots: torch.Tensor | None  # float32 (2, S + 1)

    @property
    def num_steps(self) -> int:
        return int(self.feats.shape[1])

    @property
    def nbytes(self) -> int:
        """Memory held by the decoded tensors and detections."""
        tensors = [self.feats, *self.query_feats.values()] + ([self.shots] if self.shots is not None else [])
        total = sum(t.nelement() * t.element_size() for t in tensors)
        if self.detections is not None:
            detections = self.detections
            total += detections.step_ptr.nbytes + detections.class_ids.nbytes + detections.scores.nbytes
        return total


class GroundingDataset(Dataset):
    """Map-style dataset: item ``i`` is the sample of query ``records[i]``.

    ``training`` enables the ``max_seq_len`` check and temporal jittering (if configured).
    Each process keeps at most ``cache_videos`` decoded videos (0 decodes every time) and, beyond
    the most recent one, at most ``cache_megabytes`` of their tensors (long GoalStep videos are
    over 100 MB each).
    Random choices (jitter, the ``mul_query_input`` subset) depend only on (seed, epoch, index),
    so samples are identical whatever the worker count and order.
    """

    def __init__(
        self,
        records: Sequence[QueryRecord],
        config: DatasetConfig,
        sources: FeatureSources,
        training: bool,
        cache_videos: int = 16,
        cache_megabytes: float = 1024.0,
        seed: int = 0,
        source: str = "annotations",
    ) -> None:
        self.records = [r for r in records if r.has_text]
        self.config = config
        self.sources = sources
        self.training = training
        self.cache_videos = cache_videos
        self.cache_bytes = int(cache_megabytes * 2**20)
        self.seed = seed
        self._epoch = multiprocessing.RawValue("q", 0)  # shared with forked DataLoader workers
        self.video_queries: dict[str, list[int]] = {}
        for index, record in enumerate(self.records):
            self.video_queries.setdefault(record.video_id, []).append(index)
        self._label_choices = [_label_choices(r, source) for r in self.records]
        self._cache: OrderedDict[str, DecodedVideo] = OrderedDict()
        self._cached_bytes = 0
        check_sources(sources, self.records, self._label_choices, config, source)

    @classmethod
    def from_config(
        cls, config: DatasetConfig, split: str, training: bool | None = None, **kwargs: Any
    ) -> GroundingDataset:
        """The dataset of ``split`` ("train" or "val"), reading the config's jsonl and stores."""
        path = config.jsonl_for(split)
        if path is None:
            raise UserError(f"the dataset config has no {'train' if split == 'train' else 'val'}_jsonl_file.")
        records = read_query_jsonl(path)
        sources = FeatureSources.open(config, split)
        return cls(
            records,
            config,
            sources,
            training=split == "train" if training is None else training,
            source=str(path),
            **kwargs,
        )

    @property
    def epoch(self) -> int:
        return int(self._epoch.value)

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws (jitter, query subsets) for a new epoch, in this process and in
        DataLoader workers forked from it (persistent ones included)."""
        self._epoch.value = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> GroundingSample:
        record = self.records[index]
        video = self.decoded_video(record.video_id)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        cfg = self.config
        if self.training and video.num_steps > cfg.max_seq_len:
            raise UserError(
                f"video {record.video_id!r} has {video.num_steps} feature steps, more than "
                f"dataset.max_seq_len = {cfg.max_seq_len}; raise max_seq_len or cut the video."
            )
        if record.duration is None:
            raise UserError(
                f"query {record.query_id!r} of video {record.video_id!r} has no duration; "
                "samples need the video duration (the jsonl's 'duration')."
            )
        query_feats = video.query_feats[record.query_id]
        if cfg.text_feat_with_eot:
            query_feats = query_feats[:, 1:]
        segments = self._grid_windows(record, rng)
        video_query_feats = video_segments = None
        if cfg.mul_query_input > 0:
            video_query_feats, video_segments = self._video_queries(record.video_id, video, rng)
        return GroundingSample(
            video_id=record.video_id,
            query_id=record.query_id,
            query=record.query,
            feats=video.feats,
            query_feats=query_feats,
            fps=float(cfg.default_fps),
            duration=float(record.duration),
            feat_stride=float(cfg.feat_stride),
            feat_num_frames=float(cfg.num_frames),
            segments=segments,
            one_hot_labels=(
                None if segments is None else torch.ones((len(segments), cfg.num_classes), dtype=torch.int64)
            ),
            video_query_feats=video_query_feats,
            video_segments=video_segments,
            shots=video.shots,
            object_feats=(
                None
                if video.detections is None
                else self._object_feats(video.detections, video.num_steps, self._label_choices[index])
            ),
        )

    def _grid_windows(self, record: QueryRecord, rng: np.random.Generator) -> torch.Tensor | None:
        if record.windows is None:
            return None
        grid = seconds_to_grid(record.windows, self.config.default_fps, self.config.grid_stride)
        if self.training and self.config.enable_temporal_jittering:
            grid = jitter_windows(grid, rng)
        return torch.from_numpy(grid)

    def _video_queries(
        self, video_id: str, video: DecodedVideo, rng: np.random.Generator
    ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """The token features of the video's queries (VTM texts) and their grid windows (None when
        one of them is unannotated)."""
        members = self.video_queries[video_id]
        if len(members) > self.config.mul_query_input:
            picked = np.sort(rng.choice(len(members), self.config.mul_query_input, replace=False))
            members = [members[i] for i in picked]
        others = [self.records[i] for i in members]
        annotated = all(r.windows is not None for r in others)
        texts = [video.query_feats[r.query_id] for r in others]
        if not annotated:
            return texts, None
        return texts, [w for w in (self._grid_windows(r, rng) for r in others) if w is not None]

    def _object_feats(
        self, detections: StepDetections, num_steps: int, choices: tuple[tuple[int, ...], ...]
    ) -> list[torch.Tensor]:
        """Per step, the class-name embeddings ``[k_t, D_obj]`` of the query's classes detected there."""
        counts, class_ids = select_query_objects(detections, choices, num_steps)
        table = self.sources.class_table
        assert table is not None, "FeatureSources.open opens the object store and the class table together"
        tokens = table.index_select(0, torch.from_numpy(class_ids))  # much faster than table[ids] on CPU
        feats = [table.new_zeros((0, table.shape[1]))] * num_steps
        start = 0
        for step, count in zip(np.flatnonzero(counts).tolist(), counts[counts > 0].tolist(), strict=True):
            feats[step] = tokens[start : start + count]
            start += count
        return feats

    def decoded_video(self, video_id: str) -> DecodedVideo:
        """The decoded video, from this process's cache when possible."""
        cached = self._cache.get(video_id)
        if cached is not None:
            self._cache.move_to_end(video_id)
            return cached
        video = self._decode(video_id)
        if self.cache_videos > 0:
            self._cache[video_id] = video
            self._cached_bytes += video.nbytes
            while len(self._cache) > self.cache_videos or (
                len(self._cache) > 1 and self._cached_bytes > self.cache_bytes
            ):
                self._cached_bytes -= self._cache.popitem(last=False)[1].nbytes
        return video

    def _decode(self, video_id: str) -> DecodedVideo:
        feats = torch.from_numpy(np.ascontiguousarray(self.sources.videos.read(video_id).T))
        num_steps = int(feats.shape[1])
        queries = {}
        for i in self.video_queries[video_id]:
            query_id = self.records[i].query_id
            if query_id not in queries:
                queries[query_id] = torch.from_numpy(np.ascontiguousarray(self.sources.texts.read(query_id).T))
        shots = None
        if self.sources.captions is not None:
            cfg = self.config
            cuts = shot_cut_frames(
                self.sources.captions.read(video_id), cfg.default_fps, cfg.split_word_list, cfg.max_shot_second
            )
            shots = torch.from_numpy(shots_from_cuts(cuts, num_steps, cfg.num_frames, cfg.max_seq_len))
        detections = self.sources.objects.read(video_id) if self.sources.objects is not None else None
        return DecodedVideo(feats, queries, detections, shots)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()
        state["_cached_bytes"] = 0
        return state


def _label_choices(record: QueryRecord, source: str) -> tuple[tuple[int, ...], ...]:
    try:
        return label_class_choices(record.labels)
    except ValueError as exc:
        line = f" line {record.line}" if record.line else ""
        raise UserError(f"{source}:{line} query {record.query_id!r}: {exc}.") from None
