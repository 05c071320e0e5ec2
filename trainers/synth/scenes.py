"""The event plan of one synthetic video: where each (verb, noun) action happens.

Every query is one event; unqueried distractor events reuse a queried noun with another verb or
a queried verb with another noun, so a query is only answerable by combining both words. Events
of one level never overlap; GoalStep substeps lie inside their step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trainers.synth.profiles import TrackProfile
from trainers.synth.vocabulary import NOUNS, SURFACES, VERBS


@dataclass
class Event:
    """One action in cells [start, end) of the feature grid."""

    verb: str
    noun: str
    start: float
    end: float
    surface: str | None = None
    queried: bool = True
    substeps: list[Event] = field(default_factory=list)


@dataclass
class VideoPlan:
    """One video: its length, its events and the order in which its queries are listed."""

    num_steps: int
    duration: float  # seconds covered by the features
    events: list[Event]  # top-level events in time order (queried and distractors)
    surfaces: tuple[str, ...]  # surfaces visible throughout the video

    def queries(self) -> list[Event]:
        """Queried events: steps in time order, each followed by its substeps (GoalStep order)."""
        out = []
        for event in self.events:
            if event.queried:
                out.append(event)
            out.extend(s for s in event.substeps if s.queried)
        return out


def plan_video(profile: TrackProfile, steps: int, mean_queries: float, rng: np.random.Generator) -> VideoPlan:
    """Draw the length, events and queries of one video."""
    num_steps = profile.draw_num_steps(steps, rng)
    duration = (num_steps - rng.uniform(0.0, 0.9)) * 16.0 / profile.fps
    surfaces = tuple(rng.choice(SURFACES, size=2, replace=False))
    if profile.has_substeps:
        num_top = max(1, int(round(mean_queries / 2)))
    else:
        num_top = profile.draw_num_queries(mean_queries, rng)
    num_distractors = int(round(profile.distractor_ratio * num_top))
    pairs = _distinct_pairs(num_top, num_distractors, rng)
    lengths = profile.draw_window_lengths(len(pairs), num_steps, rng)
    starts, lengths = _place(lengths, 0.0, float(num_steps - 1), rng)
    events = []
    for (verb, noun, queried), start, length in zip(pairs, starts, lengths, strict=True):
        surface = str(rng.choice(surfaces)) if rng.random() < profile.surface_prob else None
        events.append(Event(verb, noun, round(start, 4), round(start + length, 4), surface, queried))
    events.sort(key=lambda e: e.start)
    if profile.has_substeps:
        for event in events:
            if event.queried:
                event.substeps = _substeps(event, rng)
    return VideoPlan(num_steps, float(duration), events, surfaces)


def _distinct_pairs(num_queried: int, num_distractors: int, rng: np.random.Generator) -> list[tuple[str, str, bool]]:
    """Distinct (verb, noun) pairs: queried ones, then distractors sharing a word with one of them."""
    used: set[tuple[str, str]] = set()
    pairs: list[tuple[str, str, bool]] = []
    while len(pairs) < num_queried:
        pair = (str(rng.choice(VERBS)), str(rng.choice(NOUNS)))
        if pair not in used:
            used.add(pair)
            pairs.append((*pair, True))
    for _ in range(num_distractors):
        verb, noun, _ = pairs[int(rng.integers(num_queried))]
        for _attempt in range(20):
            pair = (verb, str(rng.choice(NOUNS))) if rng.random() < 0.5 else (str(rng.choice(VERBS)), noun)
            if pair not in used:
                used.add(pair)
                pairs.append((*pair, False))
                break
    order = rng.permutation(len(pairs))
    return [pairs[i] for i in order]


def _substeps(step: Event, rng: np.random.Generator) -> list[Event]:
    """0-2 shorter actions inside the step's window, each with another verb (half keep the step's noun)."""
    count = min(2, int(rng.poisson(1.0)))
    if count == 0 or step.end - step.start < 2:
        return []
    span = step.end - step.start
    lengths = span * rng.uniform(0.2, 0.4, size=count)
    starts, lengths = _place(lengths, step.start, step.end, rng)
    out = []
    for start, length in zip(starts, lengths, strict=True):
        verb = str(rng.choice([v for v in VERBS if v != step.verb]))
        noun = step.noun if rng.random() < 0.5 else str(rng.choice(NOUNS))
        out.append(Event(verb, noun, round(start, 4), round(start + length, 4), step.surface))
    return out


def _place(lengths: np.ndarray, low: float, high: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows of ``lengths`` (shrunk to fill at most 85% of [low, high]) in the
    given order, with random gaps. Returns (starts, lengths)."""
    room = high - low
    total = float(lengths.sum())
    if total > 0.85 * room:
        lengths = lengths * (0.85 * room / total)
    gaps = rng.dirichlet(np.ones(len(lengths) + 1)) * (room - lengths.sum())
    starts = low + np.cumsum(gaps[:-1]) + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    return starts, lengths
