"""Synthetic NaQ narration pre-training data (pipeline.md §1.8, §7) for the NLQ track.

Real NaQ turns the EgoClip narrations of the NLQ *train* clips into queries; here every training
clip gets ``per_clip`` narrations of its planted actions (queried ones and distractors alike, as
narrators describe everything). Two narrator passes describe the same actions, so a clip's n-th
narration comes from narrator 1 or 2 in turn. Each narration is a record

    {"narration_query": "#C C cuts the knife", "query_id": "{clip_uid}_narrator-{1|2}_{n}",
     "duration": ..., "video_id": clip_uid, "query_type": "nlq_narration",
     "timestamps": [[start, end]]}

whose window is the action's window with its ends moved by up to 15% of its length (EgoClip
windows are centred on the narration time, not on the action). Token features go to a separate
text store, as ``narration_clip_token_features`` does; the narrator marker ``#C C`` has no word
vector in the synthetic world and contributes no token.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from osgnet_bench.files import write_jsonl
from trainers.data.stores import write_text_store
from trainers.synth.annotated import SynthVideo, seconds
from trainers.synth.scenes import Event
from trainers.synth.vocabulary import Vocabulary, tokenize

QUERY_TYPE = "nlq_narration"
JSONL_NAME = "format_unique_pretrain_data_v2.jsonl"
STORE_NAME = "narration_text_lmdb"
PRETRAIN_CONFIG_NAME = "pretrain.yaml"
WINDOW_JITTER = 0.15


def narration_rows(videos: list[SynthVideo], per_clip: int, fps: float, rng: np.random.Generator) -> list[dict]:
    """``per_clip`` narration records for every clip of ``videos``, clip by clip (contiguous)."""
    rows = []
    for video in videos:
        actions = video.plan.events  # every top-level action, in time order
        counters = {1: 0, 2: 0}
        for i in range(per_clip):
            event = actions[i % len(actions)]
            narrator = 1 + i % 2
            start, end = _jittered(event, video.plan.num_steps, rng)
            rows.append(
                {
                    "narration_query": f"#C C {event.verb}s the {event.noun}",
                    "query_id": f"{video.video_id}_narrator-{narrator}_{counters[narrator]}",
                    "duration": video.plan.duration,
                    "video_id": video.video_id,
                    "query_type": QUERY_TYPE,
                    "timestamps": [[seconds(start, fps), seconds(end, fps)]],
                }
            )
            counters[narrator] += 1
    return rows


def write_narrations(
    directory: Path,
    features: Path,
    videos: list[SynthVideo],
    per_clip: int,
    fps: float,
    vocab: Vocabulary,
    text_noise: float,
    rng: np.random.Generator,
) -> tuple[Path, Path]:
    """Write the narration jsonl and its token-feature store; returns (jsonl, store)."""
    rows = narration_rows(videos, per_clip, fps, rng)
    jsonl = directory / JSONL_NAME
    write_jsonl(jsonl, rows, trailing_newline=False)
    store = features / STORE_NAME
    write_text_store(store, _token_items(rows, vocab, text_noise, rng))
    return jsonl, store


def pretrain_config(finetune: dict, narration_jsonl: Path, narration_store: Path) -> dict:
    """The narration pre-training config derived from a finetune config, as the reference's
    pretrain configs differ from its finetune ones (pipeline.md §7): narration queries and tokens
    for training, the NLQ val queries and tokens for validation, no objects, no captions, no
    per-video query lists, NLQ task only and ObjectMamba blocks without the object branch."""
    document = copy.deepcopy(finetune)
    dataset = document["dataset"]
    for key in (
        "object_feat_dir",
        "classname_feat_dir",
        "lavila_caption_dir",
        "classname_feat_concat",
        "object_feat_type",
    ):
        dataset.pop(key, None)
    dataset["val_text_feat_dir"] = dataset["text_feat_dir"]
    dataset["train_jsonl_file"] = str(narration_jsonl)
    dataset["text_feat_dir"] = str(narration_store)
    dataset["mul_query_input"] = 0
    model = document["model"]
    model["tasks"] = ["NLQ"]
    model["video_encoder_cfg"][1]["layer_cfg"]["mamba_arch"] = ["bimamba1", "mlp", "none"]
    document["train_cfg"]["mamba_arch"] = ["bimamba1", "mlp", "none"]
    return document


def _jittered(event: Event, num_steps: int, rng: np.random.Generator) -> tuple[float, float]:
    length = event.end - event.start
    start, end = event.start + length * rng.uniform(-WINDOW_JITTER, WINDOW_JITTER, size=2)
    start = max(0.0, float(start))
    end = min(float(num_steps), max(float(end), start + 0.5))
    return round(start, 4), round(end, 4)


def _token_items(
    rows: list[dict], vocab: Vocabulary, noise: float, rng: np.random.Generator
) -> Iterator[tuple[str, np.ndarray]]:
    for row in rows:
        words = [w for w in tokenize(row["narration_query"]) if w in vocab.word_vectors]
        vectors = np.stack([vocab.word_vectors[w] for w in words])
        yield row["query_id"], (vectors + noise * rng.standard_normal(vectors.shape)).astype(np.float32)
