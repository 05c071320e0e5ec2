"""Synthetic GoalStep annotations: the official release JSON and its jsonl (pipeline.md §1.6).

Train/val: videos -> goal segment bounds -> level-2 ``segments`` (steps) -> level-3 substeps; the
jsonl lists every step followed by its substeps, with absolute times, ``duration`` =
end_time - start_time and ``annotation_uid`` = "{video_uid}_{start_time}_{end_time}".
Test: ``step_segments`` without times; ``annotation_uid`` = video_uid, ``duration`` = video length.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from osgnet_bench.files import write_json
from trainers.synth.annotated import AnnotationFiles, SynthQuery, SynthVideo, seconds, write_rows

FPS = 30.0
RAW_NAMES = {"train": "goalstep_train.json", "val": "goalstep_valid.json", "test": "goalstep_test.json"}


def write_goalstep(directory: Path, splits: dict[str, list[SynthVideo]], rng: np.random.Generator) -> AnnotationFiles:
    files = AnnotationFiles(raw={}, jsonl={}, lemma_jsonl={}, gt_file=directory / "ego4d_goal_step_val_v2_lemma.jsonl")
    for split, videos in splits.items():
        raw: dict[str, Any] = {
            "version": "1.0",
            "date": "231129",
            "description": f"Ego4D Goal-Step ({split})",
            "split": split,
        }
        if split == "test":
            raw["videos"] = [_test_video(v) for v in videos]
            rows = [_test_row(v, i, q) for v in videos for i, q in enumerate(v.queries)]
        else:
            raw["videos"] = [_annotated_video(v, rng) for v in videos]
            rows = [
                row for raw_video, v in zip(raw["videos"], videos, strict=True) for row in _annotated_rows(raw_video, v)
            ]
        files.raw[split] = directory / RAW_NAMES[split]
        files.jsonl[split] = directory / f"ego4d_goal_step_{split}_v2.jsonl"
        files.lemma_jsonl[split] = directory / f"ego4d_goal_step_{split}_v2_lemma.jsonl"
        files.rows[split] = rows
        write_json(files.raw[split], raw)
        write_rows(files.jsonl[split], files.lemma_jsonl[split], rows)
    return files


def _segment(query: SynthQuery) -> dict:
    event = query.event
    return {
        "start_time": seconds(event.start, FPS),
        "end_time": seconds(event.end, FPS),
        "step_category": f"Synthetic: {event.verb} {event.noun}",
        "step_description": query.text,
        "is_continued": False,
        "is_procedural": True,
        "is_relevant": "essential",
        "summary": [],
    }


def _annotated_video(video: SynthVideo, rng: np.random.Generator) -> dict:
    steps: list[dict] = []
    for query in video.queries:
        if query.is_substep:
            steps[-1]["segments"].append(_segment(query))
        else:
            steps.append(_segment(query) | {"segments": []})
    nouns = sorted({q.event.noun for q in video.queries})
    return {
        "video_uid": video.video_id,
        "start_time": float(rng.uniform(0.0, 0.05)),
        "end_time": video.plan.duration - float(rng.uniform(0.0, 0.05)),
        "goal_category": "SYNTHETIC:WORK_WITH_" + "_".join(n.upper() for n in nouns[:2]),
        "goal_description": "Works with the " + " and the ".join(nouns[:2]),
        "goal_wikihow_url": "",
        "summary": [],
        "is_procedural": True,
        "segments": steps,
    }


def _annotated_rows(raw_video: dict, video: SynthVideo) -> list[dict]:
    uid = f"{raw_video['video_uid']}_{raw_video['start_time']}_{raw_video['end_time']}"
    segments = [s for step in raw_video["segments"] for s in (step, *step["segments"])]
    return [
        {
            "query": segment["step_description"].strip(),
            "query_id": f"{uid}_{index}",
            "duration": raw_video["end_time"] - raw_video["start_time"],
            "video_id": raw_video["video_uid"],
            "query_type": "goal_step",
            "timestamps": [[segment["start_time"], segment["end_time"]]],
            "label": query.labels,
        }
        for index, (segment, query) in enumerate(zip(segments, video.queries, strict=True))
    ]


def _test_video(video: SynthVideo) -> dict:
    return {
        "video_uid": video.video_id,
        "step_segments": [{"step_description": q.text, "segment_count": 1} for q in video.queries],
    }


def _test_row(video: SynthVideo, index: int, query: SynthQuery) -> dict:
    return {
        "query": query.text.strip(),
        "query_id": f"{video.video_id}_{index}",
        "duration": video.plan.duration,
        "video_id": video.video_id,
        "query_type": "goal_step",
        "label": query.labels,
    }
