"""Line up the predictions of several models query by query as padded numpy arrays.

Files are joined on the query key (clip_uid, annotation_uid, query_idx), never on line order.
Files that cover different query sets are refused unless partial coverage is allowed; then each
query is ensembled over the models that predict it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from osgnet_bench.annotations.records import QueryKey
from osgnet_bench.errors import UserError
from osgnet_bench.metrics.matching import describe_examples
from osgnet_bench.predictions import Prediction


@dataclass(frozen=True)
class StackedPredictions:
    """Ranked windows of M models for Q queries.

    ``keys``: Q query keys. ``windows``: float64 [Q, M, K, 2] (start, end) seconds, best first.
    ``scores``: float64 [Q, M, K] (NaN where a file had no scores). ``valid``: bool [Q, M, K],
    True for real windows; a model's valid windows come first, and a model that does not predict
    a query has no valid window in that row. ``sources``: M file names, for messages.
    """

    keys: list[QueryKey]
    windows: np.ndarray
    scores: np.ndarray
    valid: np.ndarray
    sources: list[str]

    @property
    def present(self) -> np.ndarray:
        """bool [Q, M]: model m predicts query q."""
        return self.valid[:, :, 0]


def stack_predictions(
    files: Sequence[Sequence[Prediction]],
    sources: Sequence[str],
    max_windows: int,
    allow_partial: bool = False,
) -> StackedPredictions:
    """Join M prediction lists on their query keys, keeping each model's first ``max_windows``.

    Query order: the first file's order, then queries first seen in later files. Raises
    ``UserError`` for a query predicted twice in one file and, unless ``allow_partial``, for
    files that do not cover the same queries.
    """
    indexes = [_index_file(predictions, source) for predictions, source in zip(files, sources, strict=True)]
    if not allow_partial:
        _refuse_different_coverage(indexes, sources)
    keys = list(dict.fromkeys(key for index in indexes for key in index))
    row_of = {key: row for row, key in enumerate(keys)}
    width = max(min(max_windows, len(p.windows)) for predictions in files for p in predictions)
    windows = np.zeros((len(keys), len(files), width, 2))
    scores = np.full((len(keys), len(files), width), np.nan)
    valid = np.zeros((len(keys), len(files), width), dtype=bool)
    for model, index in enumerate(indexes):
        rows = np.fromiter(map(row_of.__getitem__, index), dtype=np.int64, count=len(index))
        kept = [p.windows[:max_windows] for p in index.values()]
        counts = np.fromiter(map(len, kept), dtype=np.int64, count=len(kept))
        owner_rows = np.repeat(rows, counts)
        slots = np.nonzero(np.arange(width)[None, :] < counts[:, None])[1]  # row-major: each query's slots in order
        windows[owner_rows, model, slots] = np.concatenate(kept)
        valid[owner_rows, model, slots] = True
        scored = np.fromiter((p.scores is not None for p in index.values()), dtype=bool, count=len(index))
        if scored.any():
            score_values = np.concatenate([p.scores[:max_windows] for p in index.values() if p.scores is not None])
            has_score = np.repeat(scored, counts)
            scores[owner_rows[has_score], model, slots[has_score]] = score_values
    return StackedPredictions(keys, windows, scores, valid, list(sources))


def require_scores(stack: StackedPredictions, files: Sequence[Sequence[Prediction]]) -> None:
    """Refuse to ensemble several files when one of them has windows without scores."""
    for predictions, source in zip(files, stack.sources, strict=True):
        unscored = next((p for p in predictions if p.scores is None), None)
        if unscored is not None:
            raise UserError(
                f"{unscored.where or source}: has no 'scores'. Ensembling several prediction files "
                "compares window scores across models, so every file needs them: use the "
                "predictions jsonl that inference writes (EvalAI submissions carry no scores)."
            )


def _index_file(predictions: Sequence[Prediction], source: str) -> dict[QueryKey, Prediction]:
    index: dict[QueryKey, Prediction] = {}
    for prediction in predictions:
        if prediction.key in index:
            raise UserError(
                f"{prediction.where or source}: query {describe_examples([prediction.key])} is predicted "
                f"a second time (first at {index[prediction.key].where or 'an earlier entry'}); "
                "each query must appear once per file."
            )
        index[prediction.key] = prediction
    return index


def _refuse_different_coverage(indexes: Sequence[dict[QueryKey, Prediction]], sources: Sequence[str]) -> None:
    """All files must predict the same queries; name the counts and a few examples otherwise."""
    first = indexes[0].keys()
    for index, source in zip(indexes[1:], sources[1:], strict=True):
        only_first = [key for key in indexes[0] if key not in index]
        only_this = [key for key in index if key not in first]
        if only_first or only_this:
            parts = []
            if only_first:
                parts.append(
                    f"{len(only_first)} queries of {sources[0]} are missing from {source}, "
                    f"e.g. {describe_examples(only_first)}"
                )
            if only_this:
                parts.append(
                    f"{len(only_this)} queries of {source} are not in {sources[0]}, e.g. {describe_examples(only_this)}"
                )
            raise UserError(
                f"the prediction files cover different queries: {sources[0]} has {len(indexes[0])}, "
                f"{source} has {len(index)}; {'; '.join(parts)}. Predict the same split with every "
                "checkpoint, or pass --allow-partial to ensemble each query over the files that predict it."
            )
