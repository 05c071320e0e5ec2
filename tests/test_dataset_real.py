"""Samples built from the real annotation files (NLQ v2 val, GoalStep val, TACoS test), with
small stand-in feature stores keyed by their real ids: grid units, object conditioning with
real ``label`` lists, and the missing-key report over a whole file."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.errors import UserError
from trainers.data.config import DatasetConfig
from trainers.data.dataset import GroundingDataset
from trainers.data.sources import FeatureSources
from trainers.data.stores import save_class_table, write_object_store, write_text_store, write_video_store

FILES = {
    "nlq": ("nlq_v2/ego4d_nlq_val_v2_label_lemma.jsonl", 30.0),
    "goalstep": ("goalstep/ego4d_goal_step_val_v2_lemma.jsonl", 30.0),
    "tacos": ("tacos/test_lemma.jsonl", 29.4),
}
DIM = 8


def _stand_in_stores(tmp_path, records, fps):
    """Stores for ``records``: video length covers every GT; each query's label classes are
    detected exactly inside its GT cells."""
    rng = np.random.default_rng(0)
    videos: dict[str, int] = {}
    for r in records:
        end = max([r.duration] + [e for _, e in r.windows or ()])
        videos[r.video_id] = max(videos.get(r.video_id, 0), math.ceil(end * fps / 16) + 1)
    detections = {v: [{} for _ in range(t)] for v, t in videos.items()}
    for r in records:
        for start, end in r.windows:
            for t in range(int(start * fps / 16), min(int(end * fps / 16) + 1, videos[r.video_id])):
                for entry in r.labels:
                    detections[r.video_id][t][int(entry["class_id"])] = float(entry["score"])
    write_video_store(tmp_path / "video", ((v, rng.standard_normal((t, DIM))) for v, t in videos.items()))
    write_text_store(tmp_path / "text", ((r.query_id, rng.standard_normal((3, DIM))) for r in records))
    write_object_store(tmp_path / "objects", detections.items())
    save_class_table(tmp_path / "classes.pt", rng.standard_normal((1203, DIM)))
    return DatasetConfig(
        input_vid_dim=DIM, input_txt_dim=DIM, default_fps=fps, max_seq_len=16384,
        video_feat_dir=tmp_path / "video", text_feat_dir=tmp_path / "text",
        object_feat_dir=tmp_path / "objects", classname_feat_dir=tmp_path / "classes.pt",
    )


@pytest.mark.parametrize("track", sorted(FILES))
def test_real_annotations_give_grid_segments_and_query_objects(shared_data, tmp_path, track):
    name, fps = FILES[track]
    records = read_query_jsonl(shared_data / name)
    first_videos = list(dict.fromkeys(r.video_id for r in records))[:3]
    subset = [r for r in records if r.video_id in first_videos]
    config = _stand_in_stores(tmp_path, subset, fps)
    dataset = GroundingDataset(subset, config, FeatureSources.open(config, "train"), training=True)
    table = dataset.sources.class_table
    assert len(dataset) == len(subset)
    for index in range(0, len(subset), max(1, len(subset) // 12)):
        record, sample = subset[index], dataset[index]
        np.testing.assert_array_equal(sample.segments.numpy(), np.asarray(record.windows) * fps / 16.0)
        assert sample.duration == record.duration
        label_ids = list(dict.fromkeys(int(e["class_id"]) for e in record.labels))
        (start, end), = record.windows
        inside = int(start * fps / 16)
        torch.testing.assert_close(sample.object_feats[inside], table[label_ids], rtol=0, atol=0)
        assert len(sample.video_query_feats) == len(dataset.video_queries[record.video_id]) >= 1


def test_goalstep_ground_truth_past_duration_is_not_clipped(shared_data, tmp_path):
    records = read_query_jsonl(shared_data / FILES["goalstep"][0])
    late = next(r for r in records if r.windows[0][1] > r.duration)
    subset = [r for r in records if r.video_id == late.video_id]
    config = _stand_in_stores(tmp_path, subset, 30.0)
    dataset = GroundingDataset(subset, config, FeatureSources.open(config, "val"), training=False)
    sample = dataset[subset.index(late)]
    assert sample.segments[0, 1].item() == pytest.approx(late.windows[0][1] * 30 / 16)
    assert sample.segments[0, 1].item() > sample.duration * 30 / 16


def test_missing_keys_over_the_whole_nlq_val_file(shared_data, tmp_path):
    records = read_query_jsonl(shared_data / FILES["nlq"][0])
    first_video = records[0].video_id
    config = _stand_in_stores(tmp_path, [r for r in records if r.video_id == first_video], 30.0)
    with pytest.raises(UserError) as info:
        GroundingDataset(records, config, FeatureSources.open(config, "val"), training=False, source="nlq_val")
    videos = list(dict.fromkeys(r.video_id for r in records))
    stored_queries = sum(r.video_id == first_video for r in records)
    message = str(info.value)
    assert len(videos) == 415 and len(records) == 4552
    assert f"no entry for video_id {videos[1]!r} and {len(videos) - 2} other video_ids" in message
    assert f"and {len(records) - stored_queries - 1} other query_ids" in message
    assert "object store" in message
