"""Query sentences and their ``label`` lists, in the style of each track (pipeline.md §1.4, §1.5)."""

from __future__ import annotations

import numpy as np

from trainers.synth.profiles import TrackProfile
from trainers.synth.scenes import Event
from trainers.synth.vocabulary import NOUNS, Vocabulary, tokenize

# (official NLQ template, sentence pattern)
NLQ_TEMPLATES = (
    ("Objects: Where is object X before / after event Y?", "Where was the {noun} before I {verb} it ?"),
    ("Objects: Where is object X?", "Where did I {verb} the {noun} ?"),
    ("Objects: What X did I Y?", "What {noun} did I {verb} ?"),
    ("Objects: How many X's? (quantity question)", "How many times did I {verb} the {noun} ?"),
    ("Objects: State of an object", "Did I {verb} the {noun} ?"),
)
GOALSTEP_PATTERNS = ("{Verb}s the {noun}{on}.", "{verb} {noun}{on}")
TACOS_PATTERNS = ("He {verb}s the {noun}{on}", "The person {verb}s a {noun}{on}")


def template_words() -> list[str]:
    """Every non-slot word the sentence patterns use."""
    patterns = [p for _, p in NLQ_TEMPLATES] + list(GOALSTEP_PATTERNS) + list(TACOS_PATTERNS) + ["on the"]
    words: set[str] = set()
    for pattern in patterns:
        for slot in ("{Verb}s", "{verb}s", "{Verb}", "{verb}", "{noun}", "{on}"):
            pattern = pattern.replace(slot, " ")
        words.update(tokenize(pattern))
    return sorted(words)


def query_sentence(
    profile: TrackProfile, event: Event, substep: bool, rng: np.random.Generator
) -> tuple[str, str | None]:
    """(sentence, NLQ template or None) describing ``event`` in the style of ``profile``'s track."""
    return _SENTENCES[profile.name](event, substep, rng)


def _nlq_sentence(event: Event, substep: bool, rng: np.random.Generator) -> tuple[str, str | None]:
    template, pattern = NLQ_TEMPLATES[int(rng.integers(len(NLQ_TEMPLATES)))]
    return pattern.format(verb=event.verb, noun=event.noun), template


def _goalstep_sentence(event: Event, substep: bool, rng: np.random.Generator) -> tuple[str, str | None]:
    return _fill(GOALSTEP_PATTERNS[1 if substep else 0], event), None


def _tacos_sentence(event: Event, substep: bool, rng: np.random.Generator) -> tuple[str, str | None]:
    return _fill(TACOS_PATTERNS[int(rng.integers(len(TACOS_PATTERNS)))], event), None


def _fill(pattern: str, event: Event) -> str:
    on = f" on the {event.surface}" if event.surface else ""
    return pattern.format(Verb=event.verb.capitalize(), verb=event.verb, noun=event.noun, on=on)


_SENTENCES = {"nlq": _nlq_sentence, "goalstep": _goalstep_sentence, "tacos": _tacos_sentence}


def query_labels(
    profile: TrackProfile, event: Event, text: str, vocab: Vocabulary, rng: np.random.Generator
) -> list[dict]:
    """The query-noun -> class ``label`` list: the noun (score 1.0), the surface if named, and
    sometimes a wrong class matched to the noun with a lower score; empty for missed queries."""
    if rng.random() < profile.empty_label_prob:
        return []
    labels = [_label(vocab, event.noun, event.noun, 1.0)]
    if rng.random() < profile.noisy_label_prob:
        wrong = str(rng.choice([n for n in NOUNS if n != event.noun]))
        labels.append(_label(vocab, wrong, event.noun, round(float(rng.uniform(0.7, 0.95)), 4)))
    if event.surface and event.surface in text:
        labels.append(_label(vocab, event.surface, event.surface, 1.0))
    return labels


def _label(vocab: Vocabulary, class_word: str, text_word: str, score: float) -> dict:
    return {"class_id": vocab.class_of[class_word], "class_name": class_word, "score": score, "text": text_word}
