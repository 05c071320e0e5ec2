"""The model's input: one query over one video, as the dataset builds it (``GroundingSample``).

``OSGNet.forward`` / ``encode`` take a list of samples and do the padding themselves
(``batching.collate``). The reference passes the same content as a dict (reference model.md §1.1);
``GroundingSample.from_reference`` converts one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any

import torch


@dataclass(frozen=True, kw_only=True)
class GroundingSample:
    """One query and its video. T = feature steps of the video, L = tokens of the query.

    Always present:

    * ``video_id``, ``query_id``: str (copied into the predictions).
    * ``feats``: float32 ``[D_vid, T]``, the whole video (never cropped).
    * ``query_feats``: float32 ``[D_txt, L]``, the query's token features.
    * ``fps``, ``feat_stride``, ``feat_num_frames``: float; a grid step is ``feat_stride`` frames at
      ``fps`` and a feature covers ``feat_num_frames`` frames (these turn grid units into seconds).
    * ``duration``: float, seconds; predicted windows are clamped to ``[0, duration]``.

    Optional (None when absent):

    * ``query``: str, the query text (not read by the model).
    * ``segments``: float64 ``[N, 2]`` ground-truth windows in grid units (seconds · fps /
      feat_stride), and ``one_hot_labels``: int64 ``[N, num_classes]`` (all ones); None for
      unannotated queries. Training needs both.
    * ``video_query_feats``: list of float32 ``[D_txt, L_j]``, the texts of the video's queries in
      file order (this one included), and ``video_segments``: list of float64 ``[n_j, 2]``, their
      windows (None when unannotated). The VTM loss reads both.
    * ``shots``: float32 ``[2, S + 1]``, shot ``[start, end)`` columns in grid units, the last one the
      padding shot ``[T, max_seq_len]``. The VTM loss reads it.
    * ``object_feats``: list of T entries, float32 ``[n_t, D_obj]`` (``n_t = 0`` or None: no object
      at step t). The object branch reads it.

    Tensors may be shared with the dataset's cache and with other samples of the same video: treat
    them as read-only.
    """

    video_id: str
    query_id: str
    feats: torch.Tensor
    query_feats: torch.Tensor
    fps: float
    duration: float
    feat_stride: float
    feat_num_frames: float
    query: str | None = None
    segments: torch.Tensor | None = None
    one_hot_labels: torch.Tensor | None = None
    video_query_feats: list[torch.Tensor] | None = None
    video_segments: list[torch.Tensor] | None = None
    shots: torch.Tensor | None = None
    object_feats: Sequence[torch.Tensor | None] | None = None

    @property
    def num_steps(self) -> int:
        """T, the number of feature steps of the video."""
        return int(self.feats.shape[-1])

    @classmethod
    def from_reference(cls, sample: Mapping[str, Any]) -> GroundingSample:
        """The sample of a reference-format dict (reference model.md §1.1: ``feats``, ``query_feats``,
        ``fps``, ``feat_stride``, ``feat_num_frames``, ``duration``, ``video_id``, ``query_id`` and any
        of the optional keys above). Raises ValueError naming missing or unknown keys."""
        known = {f.name: f for f in fields(cls)}
        required = [name for name, f in known.items() if f.default is MISSING]
        missing = [name for name in required if sample.get(name) is None]
        unknown = sorted(set(sample) - set(known))
        if missing or unknown:
            problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown {', '.join(unknown)}"] if unknown else []
            )
            raise ValueError(f"not a reference sample dict ({'; '.join(problems)}); the keys are {', '.join(known)}.")
        values = dict(sample)
        for name in ("fps", "duration", "feat_stride", "feat_num_frames"):
            values[name] = float(values[name])
        for name in ("video_id", "query_id"):
            values[name] = str(values[name])
        return cls(**values)


def present(samples: Sequence[GroundingSample], name: str, reader: str) -> list[Any]:
    """The field ``name`` of every sample; ValueError naming the samples where it is None (``reader``,
    e.g. "the VTM loss", is what needs it)."""
    values = [getattr(sample, name) for sample in samples]
    missing = [sample.query_id for sample, value in zip(samples, values, strict=True) if value is None]
    if missing:
        raise ValueError(f"{reader} reads the samples' {name}, which is None for {', '.join(missing)}.")
    return values
