"""Query-conditioned object tokens (pipeline.md §2.4, model.md §1.3).

For every feature step, the tokens are the class-name embeddings of the query's ``label``
classes that the detector found in that step. A label entry whose ``class_id`` is a list of
synonyms contributes the first of them present in the step; a class is used once per step even
when several label entries name it. Tokens of a step follow the order of the label list (the
reference used an unordered set, so any order is equivalent for the model). Scores are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainers.data.stores import StepDetections


def label_class_choices(labels: Sequence[dict] | None) -> tuple[tuple[int, ...], ...]:
    """One tuple of candidate class ids per label entry (an int ``class_id`` is a 1-tuple).

    Raises ``ValueError`` for an entry without an integer (or list of integers) ``class_id``.
    """
    choices = []
    for position, entry in enumerate(labels or ()):
        class_id = entry.get("class_id") if isinstance(entry, dict) else None
        candidates = class_id if isinstance(class_id, (list, tuple)) else [class_id]
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in candidates):
            raise ValueError(f"label entry {position} has no integer 'class_id' (got {class_id!r})")
        if candidates:
            choices.append(tuple(candidates))
    return tuple(choices)


def select_query_objects(
    detections: StepDetections, choices: Sequence[Sequence[int]], num_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step query classes present in the detections, aligned to ``num_steps`` video steps.

    Returns ``counts`` int64 (num_steps,) and ``class_ids`` int64 (counts.sum(),), the classes
    of step 0, then of step 1, and so on. Detection steps past ``num_steps`` are dropped; steps
    without detections (including missing trailing ones) get no class.
    """
    chosen = np.full((num_steps, len(choices)), -1, dtype=np.int64)
    if choices and detections.class_ids.size:
        step_of = detections.step_of_each_detection()
        keep = step_of < num_steps
        step_of, detected = step_of[keep], detections.class_ids[keep]
        for column, candidates in enumerate(choices):
            for class_id in reversed(candidates):
                chosen[step_of[detected == class_id], column] = class_id
        for column in range(1, len(choices)):
            repeated = (chosen[:, column : column + 1] == chosen[:, :column]).any(axis=1)
            chosen[repeated, column] = -1
    present = chosen >= 0
    return present.sum(axis=1).astype(np.int64), chosen[present]
