"""Write a complete synthetic dataset in the real formats (docs/data.md, "Synthetic data").

Layout of ``out``::

    annotations/   official raw JSON + jsonl (plain and with ``label``) of train / val / test
    features/video_lmdb  features/text_lmdb  features/object_lmdb  (LMDB stores)
    features/classnames.pt  features/lavila/{video_id}.json
    config.yaml    official-layout config pointing at all of the above (absolute paths)
    pretrain.yaml  with ``narrations`` > 0 (NLQ only): the narration pre-training config, reading
                   annotations/format_unique_pretrain_data_v2.jsonl and features/narration_text_lmdb
    synth.json     the options, the counts and the files

Everything is a function of the options (seed included): the same options give the same bytes
in every annotation, store and caption file.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from osgnet_bench.errors import UserError
from osgnet_bench.files import write_json
from trainers.data.captions import Caption, shot_cut_frames, shots_from_cuts, write_captions
from trainers.data.stores import save_class_table, write_object_store, write_text_store, write_video_store
from trainers.synth.annotated import AnnotationFiles, SynthQuery, SynthVideo, new_uid
from trainers.synth.config_file import max_seq_len_for, synth_config, write_config
from trainers.synth.goalstep_files import write_goalstep
from trainers.synth.narrations import PRETRAIN_CONFIG_NAME, pretrain_config, write_narrations
from trainers.synth.nlq_files import write_nlq
from trainers.synth.profiles import PROFILES
from trainers.synth.queries import query_labels, query_sentence, template_words
from trainers.synth.render import captions, detections, video_features
from trainers.synth.scenes import plan_video
from trainers.synth.tacos_files import write_tacos
from trainers.synth.vocabulary import Vocabulary

SPLIT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}
CONFIG_TRACK = {"nlq": None, "goalstep": "goal_step", "tacos": "goal_step"}


@dataclass(frozen=True)
class SynthOptions:
    """What to generate. ``steps`` is the typical video length in feature steps, ``queries_per_video``
    the mean number of queries per video; ``amplitude`` the strength of the planted signal
    relative to unit-variance background noise; ``text_noise`` the noise on token features."""

    track: str = "nlq"
    videos: int = 32
    queries_per_video: float = 8.0
    steps: int = 192
    seed: int = 0
    video_dim: int = 64
    text_dim: int = 32
    class_dim: int = 32
    amplitude: float = 2.0
    text_noise: float = 0.2
    narrations: int = 0  # NaQ-style narrations per training clip (NLQ only; 0: none)

    def check(self) -> None:
        if self.track not in PROFILES:
            raise UserError(f"unknown synthetic track {self.track!r}; choose one of {', '.join(PROFILES)}.")
        if self.videos < 3:
            raise UserError(f"--videos must be at least 3 (one per split), got {self.videos}.")
        for name in ("queries_per_video", "steps", "video_dim", "text_dim", "class_dim"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}.")
        if self.steps < 32:
            raise UserError(f"--steps must be at least 32, got {self.steps}.")
        if self.narrations < 0:
            raise UserError(f"--narrations must be 0 or more, got {self.narrations}.")
        if self.narrations and self.track != "nlq":
            raise UserError(
                f"--narrations makes NaQ pre-training data, which exists for NLQ clips only; got --track {self.track}."
            )


@dataclass(frozen=True)
class SynthResult:
    """Where the dataset went and how big it is."""

    out: Path
    config: Path
    counts: dict[str, dict[str, int]]  # split -> {"videos": n, "queries": m}
    pretrain_config: Path | None = None  # the narration pre-training config, when narrations were made


def generate_dataset(out: str | Path, options: SynthOptions) -> SynthResult:
    """Generate the dataset described by ``options`` into ``out``."""
    options.check()
    out = Path(out).resolve()
    vocab = Vocabulary.build(
        _rng(options, "vocabulary"), options.text_dim, options.video_dim, options.class_dim, template_words()
    )
    splits = _plan_splits(options, vocab)
    annotations = _write_annotations(out / "annotations", options.track, splits, _rng(options, "ids"))
    videos = [v for split in splits.values() for v in split]
    max_shots = _write_features(out / "features", videos, annotations, vocab, options)
    config_path = out / "config.yaml"
    document = synth_config(
        _dataset_section(out / "features", annotations, videos, options),
        options.video_dim,
        options.text_dim,
        options.class_dim,
        max_shots,
        max(len(v.queries) for v in videos),
        CONFIG_TRACK[options.track],
    )
    write_config(config_path, document)
    counts = {split: {"videos": len(vs), "queries": len(annotations.rows[split])} for split, vs in splits.items()}
    summary: dict[str, Any] = {
        "options": asdict(options),
        "counts": counts,
        "config": config_path.name,
        "annotations": {
            split: {
                "raw": str(annotations.raw[split].relative_to(out)),
                "jsonl": str(annotations.jsonl[split].relative_to(out)),
                "lemma_jsonl": str(annotations.lemma_jsonl[split].relative_to(out)),
            }
            for split in splits
        },
    }
    pretrain_path = None
    if options.narrations:
        jsonl, store = write_narrations(
            out / "annotations",
            out / "features",
            splits["train"],
            options.narrations,
            PROFILES[options.track].fps,
            vocab,
            options.text_noise,
            _rng(options, "narrations"),
        )
        pretrain_path = out / PRETRAIN_CONFIG_NAME
        write_config(pretrain_path, pretrain_config(document, jsonl, store))
        summary["pretrain"] = {
            "config": pretrain_path.name,
            "jsonl": str(jsonl.relative_to(out)),
            "narrations": options.narrations * len(splits["train"]),
        }
    write_json(out / "synth.json", summary, indent=2)
    return SynthResult(out, config_path, counts, pretrain_path)


def _write_features(
    features: Path, videos: list[SynthVideo], annotations: AnnotationFiles, vocab: Vocabulary, options: SynthOptions
) -> int:
    """Write every store, the class table and the captions; returns the most shots in a video."""
    write_video_store(features / "video_lmdb", _video_items(videos, vocab, options))
    write_text_store(features / "text_lmdb", _text_items(annotations, vocab, options))
    write_object_store(
        features / "object_lmdb",
        ((v.video_id, detections(v.plan, vocab, _rng(options, "objects", i))) for i, v in enumerate(videos)),
    )
    save_class_table(features / "classnames.pt", vocab.class_table)
    max_shots = 0
    for i, video in enumerate(videos):
        records = captions(video.plan, _rng(options, "captions", i))
        write_captions(features / "lavila", video.video_id, records)
        cuts = shot_cut_frames(
            [Caption(r["frame_start_id"], r["narration"]) for r in records], PROFILES[options.track].fps
        )
        num_shots = shots_from_cuts(cuts, video.plan.num_steps, 16.0, video.plan.num_steps).shape[1] - 1
        max_shots = max(max_shots, num_shots)
    return max_shots


def _dataset_section(
    features: Path, annotations: AnnotationFiles, videos: list[SynthVideo], options: SynthOptions
) -> dict:
    """The ``dataset:`` section of the config, with absolute paths."""
    return {
        "json_file": str(annotations.gt_file),
        "train_jsonl_file": str(annotations.lemma_jsonl["train"]),
        "val_jsonl_file": str(annotations.lemma_jsonl["val"]),
        "video_feat_dir": str(features / "video_lmdb"),
        "text_feat_dir": str(features / "text_lmdb"),
        "val_text_feat_dir": str(features / "text_lmdb"),
        "object_feat_dir": str(features / "object_lmdb"),
        "classname_feat_dir": str(features / "classnames.pt"),
        "classname_feat_concat": "only",
        "object_feat_type": "class-score",
        "lavila_caption_dir": str(features / "lavila"),
        "num_classes": 1,
        "input_vid_dim": options.video_dim,
        "input_txt_dim": options.text_dim,
        "feat_stride": 16.0,
        "num_frames": 16.0,
        "default_fps": PROFILES[options.track].fps,
        "max_seq_len": max_seq_len_for(max(v.plan.num_steps for v in videos)),
    }


def _rng(options: SynthOptions, stream: str, index: int = 0) -> np.random.Generator:
    """An independent generator per (seed, stream, index), so each part is reproducible on its own."""
    return np.random.default_rng([options.seed, zlib.crc32(stream.encode()), index])


def _plan_splits(options: SynthOptions, vocab: Vocabulary) -> dict[str, list[SynthVideo]]:
    profile = PROFILES[options.track]
    rng = _rng(options, "plans")
    num_val = max(1, round(options.videos * SPLIT_FRACTIONS["val"]))
    num_test = max(1, round(options.videos * SPLIT_FRACTIONS["test"]))
    sizes = {"train": options.videos - num_val - num_test, "val": num_val, "test": num_test}
    splits: dict[str, list[SynthVideo]] = {}
    counter = 0
    for split, size in sizes.items():
        splits[split] = []
        for _ in range(size):
            plan = plan_video(profile, options.steps, options.queries_per_video, rng)
            queries = []
            for event in plan.queries():
                is_substep = any(event in top.substeps for top in plan.events)
                text, template = query_sentence(profile, event, is_substep, rng)
                labels = query_labels(profile, event, text, vocab, rng)
                queries.append(SynthQuery(event, text, template, labels, is_substep))
            splits[split].append(SynthVideo(_video_id(options.track, counter, rng), plan, queries))
            counter += 1
    return splits


def _video_id(track: str, index: int, rng: np.random.Generator) -> str:
    if track == "tacos":
        return f"s{13 + index % 25}-d{21 + index}"
    return new_uid(rng)


def _write_annotations(
    directory: Path, track: str, splits: dict[str, list[SynthVideo]], rng: np.random.Generator
) -> AnnotationFiles:
    writers = {"nlq": write_nlq, "goalstep": write_goalstep, "tacos": write_tacos}
    return writers[track](directory, splits, rng)


def _video_items(
    videos: list[SynthVideo], vocab: Vocabulary, options: SynthOptions
) -> Iterator[tuple[str, np.ndarray]]:
    for i, video in enumerate(videos):
        yield (
            video.video_id,
            video_features(video.plan, vocab, options.video_dim, options.amplitude, _rng(options, "video", i)),
        )


def _text_items(
    annotations: AnnotationFiles, vocab: Vocabulary, options: SynthOptions
) -> Iterator[tuple[str, np.ndarray]]:
    rng = _rng(options, "text")
    for rows in annotations.rows.values():
        for row in rows:
            yield row["query_id"], vocab.token_features(row["query"], rng, options.text_noise)
