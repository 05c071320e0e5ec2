"""The dataset's ``GroundingSample`` on synthetic data: the model contract, grid units, shots, object
conditioning, VTM inputs, caching, loaders, samplers and the start-up checks."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from osgnet_bench.annotations.jsonl import read_query_jsonl
from osgnet_bench.errors import UserError
from trainers.config import load_run_config
from trainers.data.captions import CaptionSource, shot_cut_frames, shots_from_cuts
from trainers.data.codecs import decode_detections
from trainers.data.dataset import GroundingDataset
from trainers.data.loader import (
    VideoGroupedBatchSampler,
    VideoGroupedSampler,
    collate_samples,
    make_data_loader,
    set_loader_epoch,
)
from trainers.data.sources import FeatureSources
from trainers.data.stores import TextFeatureStore, write_text_store, write_video_store
from trainers.model.inputs import GroundingSample
from trainers.synth import SynthOptions, generate_dataset


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_nlq")
    generate_dataset(out, SynthOptions(track="nlq", videos=8, queries_per_video=6, steps=96, seed=3))
    return out


@pytest.fixture(scope="module")
def config(synth):
    return load_run_config(synth / "config.yaml").dataset


@pytest.fixture(scope="module")
def train(config):
    return GroundingDataset.from_config(config, "train")


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sample_matches_the_model_contract(train, config):
    sample = train[0]
    d_vid, steps = sample.feats.shape
    assert sample.feats.dtype == torch.float32 and d_vid == config.input_vid_dim and sample.num_steps == steps
    assert sample.query_feats.dtype == torch.float32 and sample.query_feats.shape[0] == config.input_txt_dim
    assert sample.segments.dtype == torch.float64 and sample.segments.shape == (1, 2)
    assert sample.one_hot_labels.dtype == torch.int64 and sample.one_hot_labels.tolist() == [[1]]
    assert (sample.fps, sample.feat_stride, sample.feat_num_frames) == (30.0, 16.0, 16.0)
    assert sample.shots.dtype == torch.float32 and sample.shots.shape[0] == 2
    assert sample.shots[:, -1].tolist() == [steps, config.max_seq_len]
    assert len(sample.object_feats) == steps
    assert all(o.dtype == torch.float32 and o.ndim == 2 and o.shape[1] == 32 for o in sample.object_feats)
    num_queries = len(train.video_queries[sample.video_id])
    assert len(sample.video_query_feats) == len(sample.video_segments) == num_queries


def test_sample_has_the_reference_fixture_format(train, reference_fixtures):
    reference = torch.load(reference_fixtures / "osgnet_small_nlq.pt", weights_only=True)["inputs"][0]
    sample = train[0]
    fields = {f.name for f in dataclasses.fields(GroundingSample)}
    assert set(reference) <= fields and fields - set(reference) == {"query"}
    converted = GroundingSample.from_reference(reference)
    for key, expected in reference.items():
        got = getattr(sample, key)
        assert type(got) is type(expected) is type(getattr(converted, key)), key
        if isinstance(expected, torch.Tensor):
            assert got.dtype == expected.dtype and got.ndim == expected.ndim, key
        elif isinstance(expected, list):
            assert got[0].dtype == expected[0].dtype and got[0].ndim == expected[0].ndim, key
    assert sample.shots[1, -1] == train.config.max_seq_len


def test_segments_are_seconds_times_fps_over_stride(train, config):
    rows = _rows(config.train_jsonl_file)
    for index in range(len(train)):
        sample, row = train[index], rows[index]
        assert sample.query_id == row["query_id"]
        expected = np.asarray(row["timestamps"]) * 30.0 / 16.0
        np.testing.assert_array_equal(sample.segments.numpy(), expected)
        assert sample.duration == row["duration"]


def test_video_queries_are_every_query_of_the_video_in_file_order(train, config):
    texts = TextFeatureStore(config.text_feat_dir)
    rows = _rows(config.train_jsonl_file)
    for index in (0, 5, len(train) - 1):
        sample = train[index]
        same_video = [r for r in rows if r["video_id"] == sample.video_id]
        assert sample.query_id in [r["query_id"] for r in same_video]
        for feats, segments, row in zip(sample.video_query_feats, sample.video_segments, same_video):
            np.testing.assert_array_equal(feats.numpy(), texts.read(row["query_id"]).T)
            np.testing.assert_array_equal(segments.numpy(), np.asarray(row["timestamps"]) * 30 / 16)


def test_shots_follow_the_caption_rules(train, config):
    sample = train[3]
    captions = CaptionSource(config.lavila_caption_dir).read(sample.video_id)
    cuts = shot_cut_frames(captions, 30.0)
    assert len(cuts) >= 2
    expected = shots_from_cuts(cuts, sample.num_steps, 16.0, config.max_seq_len)
    np.testing.assert_array_equal(sample.shots.numpy(), expected)
    left, right = sample.shots[:, :-1]
    assert left[0] == 0 and right[-1] == sample.num_steps and torch.equal(left[1:], right[:-1])


def test_object_tokens_are_the_query_classes_detected_at_each_step(train, config):
    table = train.sources.class_table
    checked_empty = checked_full = 0
    for index in range(len(train)):
        record = train.records[index]
        sample = train[index]
        steps = decode_detections(train.sources.objects.reader.get(record.video_id))
        label_ids = list(dict.fromkeys(int(entry["class_id"]) for entry in record.labels))
        for t, tokens in enumerate(sample.object_feats):
            expected = [c for c in label_ids if c in steps[t]] if t < len(steps) else []
            torch.testing.assert_close(tokens, table[expected], rtol=0, atol=0)
            checked_full += bool(expected)
        if not label_ids:
            assert all(o.shape[0] == 0 for o in sample.object_feats)
            checked_empty += 1
    assert checked_full > 50 and checked_empty >= 1


def test_cache_and_video_grouping_do_not_change_samples(config, train):
    naive = GroundingDataset.from_config(config, "train", cache_videos=0)
    order = list(VideoGroupedSampler(train, shuffle=True, seed=5))
    for index in order[:30]:
        _assert_same_sample(train[index], naive[index])
    assert len(train._cache) > 0 and len(naive._cache) == 0


def test_cache_respects_its_count_and_byte_budgets(config):
    by_count = GroundingDataset.from_config(config, "train", cache_videos=2)
    by_bytes = GroundingDataset.from_config(config, "train", cache_megabytes=0.03)  # one 96x64 video is 24 KiB
    for index in VideoGroupedSampler(by_count, seed=0):
        by_count[index], by_bytes[index]
    assert len(by_count._cache) == 2
    assert len(by_bytes._cache) == 1
    assert by_bytes._cached_bytes == next(iter(by_bytes._cache.values())).nbytes


def test_two_workers_give_the_same_samples_as_zero(train):
    plain = {s.query_id: s for batch in make_data_loader(train, 3, 0, training=False) for s in batch}
    forked = {s.query_id: s for batch in make_data_loader(train, 3, 2, training=False) for s in batch}
    assert len(plain) == len(forked) == len(train)
    for query_id, sample in plain.items():
        _assert_same_sample(sample, forked[query_id])


class _WorkerTagged(torch.utils.data.Dataset):
    """Returns (worker id, video id) of each item, to see which worker decoded which video."""

    def __init__(self, dataset: GroundingDataset) -> None:
        self.video_queries = dataset.video_queries
        self.video_of = [r.video_id for r in dataset.records]

    def __len__(self) -> int:
        return len(self.video_of)

    def __getitem__(self, index: int) -> tuple[int, str]:
        return torch.utils.data.get_worker_info().id, self.video_of[index]


def test_batches_hold_distinct_videos_and_each_worker_sees_whole_videos(train):
    tagged = _WorkerTagged(train)
    sampler = VideoGroupedBatchSampler(VideoGroupedSampler(tagged, seed=4), batch_size=3, num_workers=2)
    batches = list(sampler)
    assert len(batches) == len(sampler) and sorted(i for b in batches for i in b) == list(range(len(train)))
    loader = DataLoader(tagged, batch_sampler=sampler, num_workers=2, collate_fn=collate_samples)
    workers_per_video: dict[str, set[int]] = {}
    for worker, video in (item for batch in loader for item in batch):
        workers_per_video.setdefault(video, set()).add(worker)
    assert sum(len(w) > 1 for w in workers_per_video.values()) <= 1  # only the video cut between the streams
    assert {w for ws in workers_per_video.values() for w in ws} == {0, 1}


class _Videos:
    """Just the grouping a sampler reads: video -> its query indices."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.video_queries, start = {}, 0
        for video, size in sizes.items():
            self.video_queries[video] = list(range(start, start + size))
            start += size


def test_lanes_give_distinct_videos_until_the_stream_runs_out():
    videos = _Videos({"A": 5, "B": 1, "C": 1, "D": 4, "E": 2})
    name = {i: v for v, indices in videos.video_queries.items() for i in indices}
    sampler = VideoGroupedBatchSampler(VideoGroupedSampler(videos, shuffle=False), batch_size=3)
    batches = [[name[i] for i in batch] for batch in sampler]
    assert batches == [["A", "B", "C"], ["A", "D", "E"], ["A", "D", "E"], ["A", "D", "A"], ["D"]]
    assert [list(sampler)[0]] == [[0, 5, 6]] and len(sampler) == 5
    dropped = VideoGroupedBatchSampler(VideoGroupedSampler(videos, shuffle=False), batch_size=3, drop_last=True)
    assert len(list(dropped)) == len(dropped) == 4


def test_batch_sampler_drop_last_epochs_and_replicas(train):
    sampler = VideoGroupedBatchSampler(VideoGroupedSampler(train, seed=0), batch_size=4, num_workers=2, drop_last=True)
    batches = list(sampler)
    assert all(len(b) == 4 for b in batches) and len(batches) == len(sampler)
    assert len({i for b in batches for i in b}) == 4 * len(batches) >= len(train) - 8
    sampler.set_epoch(3)
    assert list(sampler) != batches
    counts = {len(list(VideoGroupedBatchSampler(VideoGroupedSampler(train, seed=0, num_replicas=3, rank=r), 2, 2)))
              for r in range(3)}
    assert len(counts) == 1


def test_epoch_reaches_persistent_workers(config):
    jittered = GroundingDataset.from_config(dataclasses.replace(config, enable_temporal_jittering=True), "train")
    loader = make_data_loader(jittered, batch_size=2, num_workers=2, training=True)
    by_epoch = []
    for epoch in (0, 1):
        set_loader_epoch(loader, epoch)
        by_epoch.append({s.query_id: s.segments for batch in loader for s in batch})
    jittered.set_epoch(1)
    index = next(i for i, r in enumerate(jittered.records) if r.query_id in by_epoch[1])
    assert torch.equal(by_epoch[1][jittered.records[index].query_id], jittered[index].segments)
    shared = set(by_epoch[0]) & set(by_epoch[1])
    assert any(not torch.equal(by_epoch[0][q], by_epoch[1][q]) for q in shared)


def test_works_with_distributed_sampler(train):
    sampler = DistributedSampler(train, num_replicas=2, rank=1, shuffle=True, seed=0)
    loader = DataLoader(train, batch_size=2, sampler=sampler, collate_fn=collate_samples)
    expected = list(sampler)[:2]
    batch = next(iter(loader))
    assert [s.query_id for s in batch] == [train.records[i].query_id for i in expected]
    for sample, index in zip(batch, expected):
        _assert_same_sample(sample, train[index])
        np.testing.assert_array_equal(sample.feats.numpy(), train.sources.videos.read(sample.video_id).T)


def test_grouped_sampler_keeps_videos_together_and_splits_between_replicas(train):
    sampler = VideoGroupedSampler(train, shuffle=True, seed=1)
    order = list(sampler)
    assert sorted(order) == list(range(len(train)))
    videos = [train.records[i].video_id for i in order]
    changes = sum(a != b for a, b in zip(videos, videos[1:]))
    assert changes == len(train.video_queries) - 1
    sampler.set_epoch(1)
    assert list(sampler) != order and sorted(sampler) == sorted(order)
    parts = [list(VideoGroupedSampler(train, seed=1, num_replicas=3, rank=r)) for r in range(3)]
    assert len({len(p) for p in parts}) == 1
    assert set().union(*map(set, parts)) == set(range(len(train)))
    assert sum(map(len, parts)) - len(train) < 3


def test_unannotated_split_has_no_ground_truth(config, synth):
    test_split = config.with_paths(val_jsonl_file=synth / "annotations" / "ego4d_nlq_test_v2_label_lemma.jsonl")
    dataset = GroundingDataset.from_config(test_split, "val")
    sample = dataset[0]
    assert sample.segments is None and sample.one_hot_labels is None and sample.video_segments is None
    assert len(sample.video_query_feats) >= 1


def test_query_subset_cap_and_no_vtm_inputs(config):
    capped = GroundingDataset.from_config(dataclasses.replace(config, mul_query_input=2), "train")
    big = next(i for i, r in enumerate(capped.records) if len(capped.video_queries[r.video_id]) > 2)
    first = capped[big]
    assert len(first.video_query_feats) == len(first.video_segments) == 2
    assert all(torch.equal(a, b) for a, b in zip(first.video_query_feats, capped[big].video_query_feats))
    without = GroundingDataset.from_config(dataclasses.replace(config, mul_query_input=0), "train")[0]
    assert without.video_query_feats is None and without.video_segments is None


def test_temporal_jitter_contains_the_original_window(config, train):
    jittered = GroundingDataset.from_config(dataclasses.replace(config, enable_temporal_jittering=True), "train")
    grew = 0
    for index in range(20):
        original, wide = train[index].segments[0], jittered[index].segments[0]
        assert wide[0] <= original[0] + 1e-9 and wide[1] >= original[1] - 1e-9
        grew += bool(wide[1] - wide[0] > original[1] - original[0] + 1e-6)
    assert grew > 10


def test_training_refuses_videos_longer_than_max_seq_len(config):
    short = dataclasses.replace(config, max_seq_len=64)
    with pytest.raises(UserError, match=r"feature steps, more than dataset.max_seq_len = 64"):
        GroundingDataset.from_config(short, "train")[0]
    assert GroundingDataset.from_config(short, "val")[0].num_steps > 0


def test_missing_keys_are_all_counted_in_one_error(config, tmp_path):
    records = read_query_jsonl(config.train_jsonl_file)
    texts = TextFeatureStore(config.text_feat_dir)
    keep = [r.query_id for r in records][5:]
    write_text_store(tmp_path / "text", ((q, texts.read(q)) for q in keep))
    write_video_store(tmp_path / "video", [(records[0].video_id, np.zeros((96, 64), np.float32))])
    broken = config.with_paths(text_feat_dir=tmp_path / "text", video_feat_dir=tmp_path / "video")
    with pytest.raises(UserError) as info:
        GroundingDataset.from_config(broken, "train")
    message = str(info.value)
    videos = list(dict.fromkeys(r.video_id for r in records))
    assert f"no entry for query_id {records[0].query_id!r} and 4 other query_ids" in message
    assert f"no entry for video_id {videos[1]!r} and {len(videos) - 2} other video_ids" in message
    assert str(tmp_path / "text") in message and str(tmp_path / "video") in message


def test_feature_width_differs_from_config(config):
    with pytest.raises(UserError, match=r"holds 64-d features .* dataset.input_vid_dim = 2304"):
        GroundingDataset.from_config(dataclasses.replace(config, input_vid_dim=2304), "train")
    with pytest.raises(UserError, match=r"holds 32-d features .* dataset.input_txt_dim = 512"):
        GroundingDataset.from_config(dataclasses.replace(config, input_txt_dim=512), "train")


def test_label_class_outside_the_table_is_reported(config, tmp_path):
    rows = _rows(config.train_jsonl_file)
    rows[2]["label"] = [{"class_id": 5000, "class_name": "x", "score": 1.0, "text": "x"}]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(UserError, match=r"bad.jsonl: line 3 query .* class_id 5000, outside the class-name table"):
        GroundingDataset.from_config(config.with_paths(train_jsonl_file=path), "train")


def test_malformed_label_entry_is_reported(config, tmp_path):
    rows = _rows(config.train_jsonl_file)
    rows[1]["label"] = [{"class_name": "cup"}]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(UserError, match=r"bad.jsonl: line 2 query .*label entry 0 has no integer 'class_id'"):
        GroundingDataset.from_config(config.with_paths(train_jsonl_file=path), "train")


def test_sources_need_both_object_paths(config):
    with pytest.raises(UserError, match="both 'object_feat_dir' and 'classname_feat_dir'"):
        FeatureSources.open(dataclasses.replace(config, classname_feat_dir=None), "train")


def _assert_same_sample(a: GroundingSample, b: GroundingSample) -> None:
    for key in (f.name for f in dataclasses.fields(GroundingSample)):
        x, y = getattr(a, key), getattr(b, key)
        if isinstance(x, torch.Tensor):
            assert x.dtype == y.dtype and torch.equal(x, y), key
        elif isinstance(x, list):
            assert len(x) == len(y) and all(torch.equal(u, v) for u, v in zip(x, y)), key
        else:
            assert x == y, key
