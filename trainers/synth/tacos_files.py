"""Synthetic TACoS annotations: ``tacos.json`` ({split: {video: {fps, num_frames, duration,
annotations}}}) and the per-split jsonl derived from it (pipeline.md §1.7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from osgnet_bench.files import write_json
from trainers.synth.annotated import AnnotationFiles, SynthVideo, write_rows

FPS = 29.4


def write_tacos(directory: Path, splits: dict[str, list[SynthVideo]], rng: np.random.Generator) -> AnnotationFiles:
    raw_path = directory / "tacos.json"
    files = AnnotationFiles(raw={}, jsonl={}, lemma_jsonl={}, gt_file=directory / "val_lemma.jsonl")
    raw: dict[str, dict] = {}
    for split, videos in splits.items():
        raw[split] = {v.video_id: _video_entry(v) for v in videos}
        rows = []
        for video in videos:
            entry = raw[split][video.video_id]
            for index, (annotation, query) in enumerate(zip(entry["annotations"], video.queries, strict=True)):
                rows.append(
                    {
                        "query": annotation["sentence"],
                        "query_id": f"{video.video_id}_{index}",
                        "duration": entry["duration"],
                        "video_id": video.video_id,
                        "query_type": "tacos",
                        "timestamps": [annotation["segment"]],
                        "label": query.labels,
                    }
                )
        files.raw[split] = raw_path
        files.jsonl[split] = directory / f"{split}.jsonl"
        files.lemma_jsonl[split] = directory / f"{split}_lemma.jsonl"
        files.rows[split] = rows
        write_rows(files.jsonl[split], files.lemma_jsonl[split], rows)
    write_json(raw_path, raw)
    return files


def _video_entry(video: SynthVideo) -> dict:
    num_frames = int(round(video.plan.duration * FPS))
    annotations = []
    for query in video.queries:
        start, end = query.event.start * 16.0 / FPS, query.event.end * 16.0 / FPS
        annotations.append(
            {
                "sentence": query.text,
                "segment(frame)": [int(round(start * FPS)), int(round(end * FPS))],
                "segment": [round(start, 2), round(end, 2)],
            }
        )
    return {
        "fps": FPS,
        "num_frames": num_frames,
        "duration": round(num_frames / FPS, 2),
        "annotations": annotations,
        "num_clips": num_frames // 4,
    }
