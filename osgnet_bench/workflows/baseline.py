"""The random-guess baseline printed beside the model: five random windows per query.

Each window has the length of a ground-truth window drawn at random from the training split
(as a fraction of its video's duration, so the guess knows the typical length) and a start drawn
uniformly so that the window lies inside the video. Seeded, so the row is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.predictions import Prediction

WINDOWS = 5


def length_fractions(train_records: Sequence[QueryRecord]) -> np.ndarray:
    """GT window length / video duration of every annotated training query, in (0, 1]."""
    fractions = [
        min(max(end - start, 0.0) / record.duration, 1.0)
        for record in train_records
        if record.windows and record.duration
        for start, end in record.windows
    ]
    return np.asarray([f for f in fractions if f > 0] or [0.05])


def random_predictions(records: Sequence[QueryRecord], fractions: np.ndarray, seed: int = 0) -> list[Prediction]:
    """Five random windows (seconds) for every query with text in ``records``."""
    rng = np.random.default_rng(seed)
    predictions = []
    for record in records:
        if not record.has_text:
            continue
        duration = float(record.duration or 1.0)
        lengths = rng.choice(fractions, size=WINDOWS) * duration
        starts = rng.uniform(0.0, 1.0, size=WINDOWS) * (duration - lengths)
        windows = np.stack([starts, starts + lengths], axis=1)
        predictions.append(
            Prediction(
                record.video_id, record.annotation_uid, record.query_idx, windows, scores=np.linspace(1.0, 0.2, WINDOWS)
            )
        )
    return predictions
