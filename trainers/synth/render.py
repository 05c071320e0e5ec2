"""Turn a video plan into features, detections and captions (the planted, learnable signal).

* Video features (T, D): smooth background noise (AR(1), unit variance, plus a per-video
  offset) and, over every event's cells, ``amplitude * (verb pattern + noun pattern) / sqrt(2)``
  weighted by how much of each cell the event covers.
* Detections: inside an event the noun's class is detected in 85% of the cells; the video's two
  surfaces in half of all cells; a random noun as a false positive in 15% of the cells.
* Captions: one LaViLa-style record per 32 frames (2 cells); cells of an event narrate it
  ("#C C cuts the onion"), and the records where an event starts or ends say "#C C looks around" /
  "#C C turns around", which makes them shot cuts; a few random cuts and "#O" non-cuts are added.
"""

from __future__ import annotations

import numpy as np

from trainers.synth.scenes import Event, VideoPlan
from trainers.synth.vocabulary import NOUNS, Vocabulary

CAPTION_EVERY_FRAMES = 32
FRAMES_PER_CELL = 16


def all_events(plan: VideoPlan) -> list[Event]:
    return [e for top in plan.events for e in (top, *top.substeps)]


def coverage(event: Event, num_steps: int) -> np.ndarray:
    """(T,) fraction of each cell [t, t + 1) covered by the event."""
    cells = np.arange(num_steps, dtype=np.float64)
    return np.clip(np.minimum(cells + 1, event.end) - np.maximum(cells, event.start), 0.0, 1.0)


def video_features(
    plan: VideoPlan, vocab: Vocabulary, dim: int, amplitude: float, rng: np.random.Generator
) -> np.ndarray:
    """float32 (T, dim) features of one video."""
    rho = 0.8
    noise = rng.standard_normal((plan.num_steps, dim)).astype(np.float32)
    feats = np.empty_like(noise)
    feats[0] = noise[0]
    scale = np.sqrt(1 - rho**2)
    for t in range(1, plan.num_steps):
        feats[t] = rho * feats[t - 1] + scale * noise[t]
    feats += 0.3 * rng.standard_normal(dim).astype(np.float32)
    for event in all_events(plan):
        pattern = (vocab.visual[event.verb] + vocab.visual[event.noun]) / np.sqrt(2.0)
        feats += (amplitude * coverage(event, plan.num_steps))[:, None].astype(np.float32) * pattern
    return feats


def detections(plan: VideoPlan, vocab: Vocabulary, rng: np.random.Generator) -> list[dict[int, float]]:
    """One ``{class_id: score}`` dict per feature step."""
    steps: list[dict[int, float]] = [{} for _ in range(plan.num_steps)]

    def detect(t: int, name: str) -> None:
        steps[t][vocab.class_of[name]] = round(float(rng.uniform(0.6, 1.0)), 4)

    for t in range(plan.num_steps):
        for surface in plan.surfaces:
            if rng.random() < 0.5:
                detect(t, surface)
        if rng.random() < 0.15:
            detect(t, str(rng.choice(NOUNS)))
    for event in all_events(plan):
        for step in np.flatnonzero(coverage(event, plan.num_steps) > 0).tolist():
            if rng.random() < 0.85:
                detect(step, event.noun)
    return steps


def captions(plan: VideoPlan, rng: np.random.Generator) -> list[dict]:
    """LaViLa-style caption records (``narration``, ``frame_start_id``, ``frame_end_id``)."""
    num_frames = plan.num_steps * FRAMES_PER_CELL
    starts = {int(np.ceil(e.start * FRAMES_PER_CELL / CAPTION_EVERY_FRAMES)) for e in plan.events}
    ends = {int(np.ceil(e.end * FRAMES_PER_CELL / CAPTION_EVERY_FRAMES)) for e in plan.events}
    records = []
    for i in range(num_frames // CAPTION_EVERY_FRAMES):
        frame = i * CAPTION_EVERY_FRAMES
        cell = frame / FRAMES_PER_CELL
        active = [e for e in plan.events if e.start <= cell < e.end]
        if active:
            event = active[0]
            narration = [f"#C C {event.verb}s the {event.noun}", f"#C C holds the {event.noun}"]
        else:
            narration = ["#C C stands in the room", "#C C walks"]
        if i in starts or (i in ends and not active):
            narration.insert(int(rng.integers(2)), "#C C looks around" if i in starts else "#C C turns around")
        elif rng.random() < 0.03:
            narration.append("#C C turns around")
        elif rng.random() < 0.05:
            narration.append("#O a man looks around")
        records.append(
            {
                "narration": ";".join(narration),
                "frame_start_id": frame,
                "frame_end_id": min(frame + 2 * CAPTION_EVERY_FRAMES, num_frames),
            }
        )
    return records
