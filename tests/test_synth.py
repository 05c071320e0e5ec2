"""The synthetic generator: official formats, determinism, statistics and a learnable signal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from osgnet_bench.cli import main
from trainers.config import load_run_config
from trainers.data.dataset import GroundingDataset
from trainers.data.lmdb_store import LmdbReader
from trainers.synth import SynthOptions, generate_dataset

SMALL = {"videos": 6, "queries_per_video": 5, "steps": 64}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for track in ("nlq", "goalstep", "tacos"):
        out[track] = tmp_path_factory.mktemp(track)
        generate_dataset(out[track], SynthOptions(track=track, seed=11, **SMALL))
    return out


def _jsonl(path: Path) -> list[dict]:
    text = path.read_text()
    assert not text.endswith("\n")  # like the reference's files
    return [json.loads(line) for line in text.splitlines()]


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes (LMDB stores as their sorted items), with the root path blanked out."""
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.name == "data.mdb":
            files[relative] = repr(sorted(LmdbReader(path.parent, "x").items())).encode()
        elif path.is_file() and path.name != "lock.mdb":
            files[relative] = path.read_bytes().replace(str(root).encode(), b"ROOT")
    return files


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    generate_dataset(tmp_path / "a", SynthOptions(track="tacos", seed=5, **SMALL))
    generate_dataset(tmp_path / "b", SynthOptions(track="tacos", seed=5, **SMALL))
    generate_dataset(tmp_path / "c", SynthOptions(track="tacos", seed=6, **SMALL))
    a, b, c = (_snapshot(tmp_path / name) for name in "abc")
    assert a.keys() == b.keys() and len(a) > 10
    assert [k for k in a if a[k] != b[k]] == []
    assert a["annotations/train_lemma.jsonl"] != c["annotations/train_lemma.jsonl"]


def test_every_split_loads_with_no_missing_key(generated):
    for track, root in generated.items():
        config = load_run_config(root / "config.yaml").dataset
        manifest = json.loads((root / "synth.json").read_text())
        for split in ("train", "val"):
            dataset = GroundingDataset.from_config(config, split)
            assert len(dataset) == manifest["counts"][split]["queries"]
            sample = dataset[len(dataset) - 1]
            assert sample.feats.shape[0] == 64 and sample.query_feats.shape[0] == 32
            assert sample.num_steps <= config.max_seq_len
        test_jsonl = root / manifest["annotations"]["test"]["lemma_jsonl"]
        assert GroundingDataset.from_config(config.with_paths(val_jsonl_file=test_jsonl), "val")[0].feats.numel()


def test_nlq_raw_nesting_and_official_conversion(generated):
    root = generated["nlq"] / "annotations"
    raw = json.loads((root / "nlq_val.json").read_text())
    assert raw["version"] == "2.0" and "metadata" in raw
    rows = {r["query_id"]: r for r in _jsonl(root / "ego4d_nlq_val_v2_label_lemma.jsonl")}
    plain = _jsonl(root / "ego4d_nlq_val_v2.jsonl")
    assert [r["query_id"] for r in plain] == list(rows) and all("label" not in r for r in plain)
    textless = 0
    for video in raw["videos"]:
        for clip in video["clips"]:
            assert {"clip_uid", "video_start_sec", "video_end_sec", "clip_start_sec", "clip_end_sec",
                    "source_clip_uid"} <= clip.keys()
            assert 0 <= clip["video_end_sec"] - clip["video_start_sec"] - clip["clip_end_sec"] <= 0.1
            for annotation in clip["annotations"]:
                for index, entry in enumerate(annotation["language_queries"]):
                    query_id = f"{annotation['annotation_uid']}_{index}"
                    if not entry["query"]:
                        textless += 1
                        assert query_id not in rows
                        continue
                    row = rows[query_id]
                    assert row["video_id"] == clip["clip_uid"] and row["query"] == entry["query"]
                    assert row["timestamps"] == [[entry["clip_start_sec"], entry["clip_end_sec"]]]
                    assert row["duration"] == clip["video_end_sec"] - clip["video_start_sec"]
                    assert entry["video_start_sec"] == pytest.approx(clip["video_start_sec"] + entry["clip_start_sec"])
                    assert entry["slot_x"] in entry["query"] and entry["template"].startswith("Objects:")
    assert textless == 1
    test_raw = json.loads((root / "nlq_test_unannotated.json").read_text())
    annotations = [a for v in test_raw["videos"] for c in v["clips"] for a in c["annotations"]]
    entries = [q for a in annotations for q in a["language_queries"]]
    assert all(set(q) == {"query"} for q in entries)
    assert all("timestamps" not in r for r in _jsonl(root / "ego4d_nlq_test_v2_label_lemma.jsonl"))


def test_goalstep_release_and_jsonl(generated):
    root = generated["goalstep"] / "annotations"
    raw = json.loads((root / "goalstep_valid.json").read_text())
    assert raw["split"] == "val" and raw["description"] == "Ego4D Goal-Step (val)"
    rows = _jsonl(root / "ego4d_goal_step_val_v2_lemma.jsonl")
    position = 0
    for video in raw["videos"]:
        uid = f"{video['video_uid']}_{video['start_time']}_{video['end_time']}"
        for step in video["segments"]:
            for segment in (step, *step["segments"]):
                row = rows[position]
                assert row["query_id"] == f"{uid}_{position - _first_of(rows, video['video_uid'])}"
                assert row["timestamps"] == [[segment["start_time"], segment["end_time"]]]
                assert row["duration"] == video["end_time"] - video["start_time"]
                assert row["query_type"] == "goal_step"
                position += 1
            for sub in step["segments"]:
                assert step["start_time"] <= sub["start_time"] < sub["end_time"] <= step["end_time"]
    assert position == len(rows)
    test_raw = json.loads((root / "goalstep_test.json").read_text())
    test_rows = _jsonl(root / "ego4d_goal_step_test_v2_lemma.jsonl")
    steps = [s["step_description"] for v in test_raw["videos"] for s in v["step_segments"]]
    assert [r["query"] for r in test_rows] == steps
    assert test_rows[0]["query_id"] == f"{test_raw['videos'][0]['video_uid']}_0"


def _first_of(rows: list[dict], video_id: str) -> int:
    return next(i for i, r in enumerate(rows) if r["video_id"] == video_id)


def test_tacos_json_and_jsonl(generated):
    root = generated["tacos"] / "annotations"
    raw = json.loads((root / "tacos.json").read_text())
    assert list(raw) == ["train", "val", "test"]
    rows = _jsonl(root / "test.jsonl")
    position = 0
    for video_id, video in raw["test"].items():
        assert video["fps"] == 29.4 and video["duration"] == round(video["num_frames"] / 29.4, 2)
        for index, annotation in enumerate(video["annotations"]):
            row = rows[position]
            assert row["query_id"] == f"{video_id}_{index}" and row["query"] == annotation["sentence"]
            assert row["timestamps"] == [annotation["segment"]]
            assert annotation["segment"] == [round(x, 2) for x in annotation["segment"]]
            assert annotation["segment(frame)"][0] == pytest.approx(annotation["segment"][0] * 29.4, abs=1)
            position += 1
    assert position == len(rows)


def test_labels_name_words_of_the_query_with_consistent_classes(generated):
    names: dict[int, str] = {}
    for track, root in generated.items():
        config = load_run_config(root / "config.yaml").dataset
        for row in _jsonl(config.train_jsonl_file):
            for entry in row["label"]:
                assert entry["text"] in row["query"] and 0.7 <= entry["score"] <= 1.0
                assert names.setdefault(entry["class_id"], entry["class_name"]) == entry["class_name"]
            start, end = row["timestamps"][0]
            assert 0 <= start < end <= row["duration"] + 1e-6


def test_statistics_resemble_the_real_tracks(tmp_path):
    generate_dataset(tmp_path, SynthOptions(track="nlq", videos=60, queries_per_video=11, steps=400, seed=2,
                                            video_dim=4, text_dim=4, class_dim=4))
    files = [tmp_path / f"annotations/ego4d_nlq_{split}_v2_label_lemma.jsonl" for split in ("train", "val")]
    rows = [r for path in files for r in _jsonl(path)]
    per_video = np.bincount(np.unique([r["video_id"] for r in rows], return_inverse=True)[1])
    cells = np.array([(r["timestamps"][0][1] - r["timestamps"][0][0]) * 30 / 16 for r in rows])
    durations = np.array(sorted({r["video_id"]: r["duration"] for r in rows}.values()))
    assert 9 <= per_video.mean() <= 13
    assert 5 <= np.median(cells) <= 11 and cells.max() > 3 * np.median(cells)
    assert np.median(durations) == pytest.approx(400 * 16 / 30, abs=0.5)
    empty = np.mean([not r["label"] for r in rows])
    assert 0.08 <= empty <= 0.26
    assert 1.0 <= np.mean([len(r["label"]) for r in rows if r["label"]]) <= 1.3


def _probe_data(dataset):
    """Padded videos (N, D, T), mean query tokens (N, Dt), GT cell masks (N, T), valid masks."""
    samples = [dataset[i] for i in range(len(dataset))]
    longest = max(s.num_steps for s in samples)
    videos = torch.zeros(len(samples), samples[0].feats.shape[0], longest)
    inside = torch.zeros(len(samples), longest)
    valid = torch.zeros(len(samples), longest, dtype=torch.bool)
    for i, s in enumerate(samples):
        steps = s.num_steps
        videos[i, :, :steps], valid[i, :steps] = s.feats, True
        start, end = s.segments[0].tolist()
        centres = torch.arange(steps) + 0.5
        inside[i, :steps] = ((centres >= start) & (centres < end)).float()
    queries = torch.stack([s.query_feats.mean(1) for s in samples])
    return videos, queries, inside, valid


def _fit_bilinear(videos, queries, inside, valid) -> torch.Tensor:
    torch.manual_seed(0)
    weight = torch.zeros(queries.shape[1], videos.shape[1], requires_grad=True)
    optimizer = torch.optim.Adam([weight], lr=0.05)
    for _ in range(60):
        scores = torch.einsum("nd,ndt->nt", queries @ weight, videos)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            scores, inside, weight=valid.float(), pos_weight=torch.tensor(10.0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return weight.detach()


def _hit_rate(weight, videos, queries, inside, valid) -> float:
    scores = torch.einsum("nd,ndt->nt", queries @ weight, videos).masked_fill(~valid, -1e9)
    return float(inside.gather(1, scores.argmax(1, keepdim=True)).mean())


def test_planted_signal_is_learnable_and_needs_the_text(tmp_path):
    """A bilinear text-video scorer trained on train finds a cell inside the GT window for most
    val queries; trained with the queries' texts rotated (a model that cannot use the text) it
    stays near chance (the mean GT fraction of the video)."""
    generate_dataset(tmp_path, SynthOptions(track="nlq", videos=24, seed=1))
    config = load_run_config(tmp_path / "config.yaml").dataset
    train = _probe_data(GroundingDataset.from_config(config, "train"))
    val = _probe_data(GroundingDataset.from_config(config, "val"))
    chance = float((val[2].sum(1) / val[3].sum(1)).mean())
    good = _hit_rate(_fit_bilinear(*train), *val)
    videos, queries, inside, valid = train
    broken = _hit_rate(_fit_bilinear(videos, queries.roll(1, 0), inside, valid), *val)
    assert chance < 0.1
    assert good > 0.4 > 2 * chance and good > 3 * broken
    assert broken < 0.2


def test_synth_command_writes_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    with pytest.raises(SystemExit) as done:
        main(["synth", "--track", "goalstep", "--out", str(out), "--videos", "4", "--steps", "48", "--seed", "2"])
    assert done.value.code == 0
    printed = capsys.readouterr().out
    assert "train" in printed and f"config: {out / 'config.yaml'}" in printed
    assert (out / "features" / "video_lmdb" / "data.mdb").exists()
    with pytest.raises(SystemExit) as again:
        main(["synth", "--track", "goalstep", "--out", str(out)])
    assert again.value.code == 1
    assert "already holds a synthetic dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:
        main(["synth", "--track", "nlq", "--out", str(tmp_path / "x"), "--videos", "2"])
    assert bad.value.code == 1 and "--videos must be at least 3" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("track_name", "raw_name", "split", "jsonl_name"),
    [
        ("nlq", "nlq_val.json", None, "ego4d_nlq_val_v2.jsonl"),
        ("nlq", "nlq_test_unannotated.json", None, "ego4d_nlq_test_v2.jsonl"),
        ("goalstep", "goalstep_valid.json", None, "ego4d_goal_step_val_v2.jsonl"),
        ("tacos", "tacos.json", "test", "test.jsonl"),
    ],
)
def test_the_project_converter_turns_the_raw_files_into_the_same_jsonl(generated, track_name, raw_name, split,
                                                                       jsonl_name):
    from osgnet_bench.annotations.convert import records_to_jsonl_rows
    from osgnet_bench.annotations.load import load_annotations
    from osgnet_bench.tracks import get_track

    track = get_track(track_name)
    root = generated[track_name] / "annotations"
    records = load_annotations(root / raw_name, track, split=split)
    assert records_to_jsonl_rows(records, track) == _jsonl(root / jsonl_name)
