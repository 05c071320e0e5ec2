"""Synthetic NLQ annotations in the raw Ego4D nesting and the converted jsonl (pipeline.md §1.1-1.2).

Raw: videos -> clips -> annotations -> language_queries. One textless entry is inserted in val and
test (as in the real files) to exercise the "index consumed, query skipped" rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from osgnet_bench.files import write_json
from trainers.synth.annotated import AnnotationFiles, SynthQuery, SynthVideo, new_uid, seconds, write_rows

FPS = 30.0
RAW_NAMES = {"train": "nlq_train.json", "val": "nlq_val.json", "test": "nlq_test_unannotated.json"}


def write_nlq(directory: Path, splits: dict[str, list[SynthVideo]], rng: np.random.Generator) -> AnnotationFiles:
    files = AnnotationFiles(raw={}, jsonl={}, lemma_jsonl={}, gt_file=directory / RAW_NAMES["val"])
    for split, videos in splits.items():
        raw, labels = raw_nlq(split, videos, rng)
        rows = convert_raw_nlq(raw, labels)
        files.raw[split] = directory / RAW_NAMES[split]
        files.jsonl[split] = directory / f"ego4d_nlq_{split}_v2.jsonl"
        files.lemma_jsonl[split] = directory / f"ego4d_nlq_{split}_v2_label_lemma.jsonl"
        files.rows[split] = rows
        write_json(files.raw[split], raw)
        write_rows(files.jsonl[split], files.lemma_jsonl[split], rows)
    return files


def raw_nlq(split: str, videos: list[SynthVideo], rng: np.random.Generator) -> tuple[dict, dict[tuple[str, int], list]]:
    """The raw JSON of one split, and the labels of each (annotation_uid, index)."""
    annotated = split != "test"
    labels: dict[tuple[str, int], list] = {}
    raw_videos: list[dict] = []
    textless_done = split == "train"
    for clip_video in videos:
        if not raw_videos or rng.random() < 0.6:
            raw_videos.append({"video_uid": new_uid(rng), "split": split, "clips": []})
            offset = float(rng.uniform(0, 30))
        else:
            last = raw_videos[-1]["clips"][-1]
            offset = last["video_end_sec"] + float(rng.uniform(5, 60))
        plan = clip_video.plan
        clip_end = plan.duration - float(rng.uniform(0.0, 0.05))
        clip: dict[str, Any] = {
            "clip_uid": clip_video.video_id,
            "video_start_sec": offset,
            "video_end_sec": offset + plan.duration,
            "video_start_frame": int(round(offset * FPS)),
            "video_end_frame": int(round((offset + plan.duration) * FPS)),
            "clip_start_sec": 0,
            "clip_end_sec": clip_end,
            "clip_start_frame": 0,
            "clip_end_frame": int(round(clip_end * FPS)),
            "source_clip_uid": new_uid(rng),
            "annotations": [],
        }
        queries = clip_video.queries
        num_cuts = min(len(queries) - 1, int(rng.integers(0, 3)))
        cuts: np.ndarray | list[int] = (
            np.sort(rng.choice(np.arange(1, len(queries)), size=num_cuts, replace=False)) if num_cuts else []
        )
        for chunk in np.split(np.arange(len(queries)), cuts):
            annotation: dict[str, Any] = {"annotation_uid": new_uid(rng)}
            if annotated:
                annotation["request_uid"] = new_uid(rng)
            entries: list[dict] = []
            for i in chunk:
                query = queries[int(i)]
                labels[(annotation["annotation_uid"], len(entries))] = query.labels
                entries.append(_language_query(query, offset, annotated))
                if not textless_done and len(entries) == 1 and len(chunk) > 1:
                    entries.append(_language_query(query, offset, annotated) | {"query": ""})
                    textless_done = True
            annotation["language_queries"] = entries
            clip["annotations"].append(annotation)
        raw_videos[-1]["clips"].append(clip)
    header = (
        {"version": "2.0", "date": "230105", "description": f"NLQ Annotations ({split})", "metadata": "synthetic"}
        if annotated
        else {"version": "1", "date": "220216", "description": "NLQ Annotations (test)", "manifest": "synthetic"}
    )
    return header | {"videos": raw_videos}, labels


def _language_query(query: SynthQuery, offset: float, annotated: bool) -> dict:
    if not annotated:
        return {"query": query.text}
    start, end = seconds(query.event.start, FPS), seconds(query.event.end, FPS)
    noun, verb = query.event.noun, query.event.verb
    return {
        "clip_start_sec": start,
        "clip_end_sec": end,
        "video_start_sec": offset + start,
        "video_end_sec": offset + end,
        "video_start_frame": int(round((offset + start) * FPS)),
        "video_end_frame": int(round((offset + end) * FPS)),
        "template": query.template,
        "query": query.text,
        "slot_x": noun,
        "verb_x": verb,
        "raw_tags": [query.template, query.text, noun, verb],
    }


def convert_raw_nlq(raw: dict, labels: dict[tuple[str, int], list]) -> list[dict]:
    """The official conversion (pipeline.md §1.2) plus ``label``: one row per query with text."""
    rows = []
    for video in raw["videos"]:
        for clip in video["clips"]:
            duration = clip["video_end_sec"] - clip["video_start_sec"]
            for annotation in clip["annotations"]:
                uid = annotation["annotation_uid"]
                for index, entry in enumerate(annotation["language_queries"]):
                    if not entry.get("query"):
                        continue
                    row = {
                        "query": entry["query"],
                        "query_id": f"{uid}_{index}",
                        "duration": duration,
                        "video_id": clip["clip_uid"],
                        "query_type": "nlq",
                    }
                    if "clip_start_sec" in entry:
                        row["timestamps"] = [[entry["clip_start_sec"], entry["clip_end_sec"]]]
                    row["label"] = labels[(uid, index)]
                    rows.append(row)
    return rows
