"""The predictions file: ranked windows per query, read from JSON Lines or an EvalAI submission.

A predictions file has one JSON object per line (docs/formats.md)::

    {"query_id": "<annotation_uid>_<query_idx>", "video_id": "<clip_uid>",
     "windows": [[start_s, end_s], ...], "scores": [...]}

``windows`` are ranked best first; ``scores`` is optional and, when present, has one number per
window. Extra keys are ignored. Wherever predictions are read, an EvalAI submission JSON
(``{"version", "challenge", "results": [{"clip_uid", "annotation_uid", "query_idx",
"predicted_times"}]}``) is accepted too; a window may carry a third element (a score), which is
ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

import numpy as np

from osgnet_bench.annotations.records import QueryKey, join_query_id, split_query_id
from osgnet_bench.errors import UserError
from osgnet_bench.files import atomic_writer, read_text


@dataclass(frozen=True, eq=False)
class Prediction:
    """Ranked windows for one query.

    ``windows`` is a float64 array [k, 2] of (start, end) seconds, best first, k >= 1.
    ``scores`` is a float64 array [k] or ``None`` when the source had no scores.
    ``where`` says where the entry came from (file and line or JSON path), for error messages.
    """

    video_id: str
    annotation_uid: str
    query_idx: int
    windows: np.ndarray
    scores: np.ndarray | None = None
    where: str = ""

    @property
    def query_id(self) -> str:
        """``{annotation_uid}_{query_idx}``, the key used by jsonl files."""
        return join_query_id(self.annotation_uid, self.query_idx)

    @property
    def key(self) -> QueryKey:
        """(clip_uid, annotation_uid, query_idx), the same key as ``QueryRecord.key``."""
        return (self.video_id, self.annotation_uid, self.query_idx)


def read_predictions(path: str | os.PathLike) -> list[Prediction]:
    """All predictions of a predictions jsonl file or an EvalAI submission JSON, in file order."""
    text = read_text(path)
    if not text.strip():
        raise UserError(f"{path}: contains no predictions (the file is empty).")
    whole = _parse_whole(text, str(path))
    if isinstance(whole, dict) and "results" in whole:
        predictions = predictions_from_submission(whole, str(path))
    elif whole is None or isinstance(whole, dict):
        predictions = _predictions_from_jsonl_text(text, str(path))
    else:
        raise UserError(
            f"{path}: expected one prediction object per line or an EvalAI submission JSON "
            f"object with 'results', got a JSON {type(whole).__name__}."
        )
    if not predictions:
        raise UserError(f"{path}: contains no predictions.")
    return predictions


def predictions_from_submission(data: dict, source: str) -> list[Prediction]:
    """Predictions of a parsed EvalAI submission; errors name ``source`` and the JSON path."""
    results = data.get("results")
    if not isinstance(results, list):
        raise UserError(f"{source}: 'results' must be a list of per-query objects.")
    predictions = []
    for i, entry in enumerate(results):
        where = f"{source}: results[{i}]"
        if not isinstance(entry, dict):
            raise UserError(f"{where}: expected a JSON object, got {type(entry).__name__}.")
        for key in ("clip_uid", "annotation_uid", "query_idx", "predicted_times"):
            if key not in entry:
                raise UserError(f"{where}: missing key {key!r}.")
        query_idx = entry["query_idx"]
        if isinstance(query_idx, bool) or not isinstance(query_idx, int) or query_idx < 0:
            raise UserError(
                f"{where}.query_idx: must be a non-negative JSON integer, got {query_idx!r}."
            )
        predictions.append(
            Prediction(
                video_id=_string(entry["clip_uid"], f"{where}.clip_uid"),
                annotation_uid=_string(entry["annotation_uid"], f"{where}.annotation_uid"),
                query_idx=query_idx,
                windows=windows_array(entry["predicted_times"], f"{where}.predicted_times"),
                where=where,
            )
        )
    return predictions


def prediction_from_row(row: object, where: str) -> Prediction:
    """One parsed predictions-jsonl object -> ``Prediction``; ``where`` names file and line."""
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}.")
    for key in ("query_id", "video_id", "windows"):
        if key not in row:
            raise UserError(f"{where}: missing key {key!r}.")
    try:
        annotation_uid, query_idx = split_query_id(_string(row["query_id"], f"{where}: 'query_id'"))
    except ValueError as exc:
        raise UserError(f"{where}: {exc}.") from None
    windows = windows_array(row["windows"], f"{where}: 'windows'")
    scores = None
    if row.get("scores") is not None:
        scores = _scores_array(row["scores"], len(windows), f"{where}: 'scores'")
    return Prediction(
        video_id=_string(row["video_id"], f"{where}: 'video_id'"),
        annotation_uid=annotation_uid,
        query_idx=query_idx,
        windows=windows,
        scores=scores,
        where=where,
    )


def windows_array(value: object, where: str) -> np.ndarray:
    """A JSON list of ranked windows -> float64 array [k, 2].

    Each window is ``[start, end]`` or ``[start, end, extra]`` (extra ignored). The list must be
    non-empty and every number finite.
    """
    if not isinstance(value, list) or not value:
        raise UserError(f"{where}: must be a non-empty list of [start, end] windows.")
    if not isinstance(value[0], list):
        raise UserError(f"{where}: must be a list of [start, end] windows, not one flat pair.")
    try:
        array = np.asarray(value)
    except ValueError:
        raise UserError(f"{where}: every window must have the same length ([start, end]).") from None
    if array.ndim != 2 or array.shape[1] < 2 or array.dtype.kind not in "iuf":
        raise UserError(f"{where}: every window must be a list of numbers [start, end].")
    array = array[:, :2].astype(np.float64)
    if not np.isfinite(array).all():
        raise UserError(f"{where}: windows must be finite numbers (found NaN or infinity).")
    return array


def write_predictions(path: str | os.PathLike, predictions: Iterable[Prediction]) -> None:
    """Write a predictions jsonl file atomically (``scores`` only for predictions that have them)."""
    with atomic_writer(path) as handle:
        for prediction in predictions:
            row: dict[str, object] = {
                "query_id": prediction.query_id,
                "video_id": prediction.video_id,
                "windows": prediction.windows.tolist(),
            }
            if prediction.scores is not None:
                row["scores"] = prediction.scores.tolist()
            handle.write(json.dumps(row) + "\n")


def _predictions_from_jsonl_text(text: str, source: str) -> list[Prediction]:
    """The fast whole-file conversion when it applies, else line by line (which names the line
    of the first problem)."""
    predictions = _well_formed_jsonl(text, source)
    return predictions if predictions is not None else _predictions_line_by_line(text, source)


def _well_formed_jsonl(text: str, source: str) -> list[Prediction] | None:
    """The predictions of a jsonl text in which every line is valid, with the window numbers and
    scores of many lines converted by each numpy call; ``None`` as soon as a line needs a closer
    look.

    The result is exactly what :func:`prediction_from_row` gives line by line: the same keys and
    the same float64 values, as every window has the same length (2, or 3 with a score) and every
    number is a Python int or float (not a bool, which numpy would read as 1 or 0) of magnitude
    < 2**63 (so finite, and an int that int64 holds, as a per-line array needs).
    """
    rows: list[tuple[str, str, int, int, bool, str]] = []
    window_numbers, score_numbers = _NumberBlocks(), _NumberBlocks()
    window_lengths: set[int] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            return None
        if not isinstance(row, dict):
            return None
        query_id, video_id = row.get("query_id"), row.get("video_id")
        windows, scores = row.get("windows"), row.get("scores")
        if not (isinstance(query_id, str) and isinstance(video_id, str) and query_id and video_id):
            return None
        if not (isinstance(windows, list) and windows and isinstance(windows[0], list)):
            return None
        if scores is not None and not (isinstance(scores, list) and len(scores) == len(windows)):
            return None
        try:
            annotation_uid, query_idx = split_query_id(query_id)
            window_lengths.update(map(len, windows))
        except (ValueError, TypeError):
            return None
        if not window_numbers.extend(chain.from_iterable(windows)):
            return None
        if scores is not None and not score_numbers.extend(scores):
            return None
        rows.append((video_id, annotation_uid, query_idx, len(windows), scores is not None, f"{source}: line {number}"))
    all_windows, all_scores = window_numbers.array(), score_numbers.array()
    if len(window_lengths) != 1 or min(window_lengths) < 2 or all_windows is None or all_scores is None:
        return None
    all_windows = np.ascontiguousarray(all_windows.reshape(-1, min(window_lengths))[:, :2])
    predictions = []
    window_end = score_end = 0
    for video_id, annotation_uid, query_idx, count, scored, where in rows:
        window_start, window_end = window_end, window_end + count
        score_start, score_end = score_end, score_end + (count if scored else 0)
        predictions.append(
            Prediction(
                video_id=video_id,
                annotation_uid=annotation_uid,
                query_idx=query_idx,
                windows=all_windows[window_start:window_end],
                scores=all_scores[score_start:score_end] if scored else None,
                where=where,
            )
        )
    return predictions


class _NumberBlocks:
    """JSON numbers appended in order and converted to float64 a block at a time, so that the
    Python floats of a block are freed (and their memory reused) while the file is still read."""

    BLOCK = 4096

    def __init__(self) -> None:
        self.pending: list = []
        self.blocks: list[np.ndarray] = []

    def extend(self, numbers: Iterable) -> bool:
        """Append ``numbers``; False when a full block is not all ints and floats below 2**63."""
        self.pending.extend(numbers)
        return len(self.pending) < self.BLOCK or self._convert()

    def array(self) -> np.ndarray | None:
        """float64 [n], every number appended; None when one is not an int or float below 2**63."""
        return np.concatenate(self.blocks) if self._convert() else None

    def _convert(self) -> bool:
        if not set(map(type, self.pending)) <= {float, int}:
            return False
        try:
            block = np.fromiter(self.pending, np.float64, len(self.pending))
        except OverflowError:
            return False
        self.blocks.append(block)
        self.pending = []
        return bool((np.abs(block) < 2.0**63).all())


def _predictions_line_by_line(text: str, source: str) -> list[Prediction]:
    predictions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}: line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{where} is not valid JSON (column {exc.colno}: {exc.msg}); expected one "
                "prediction object per line or an EvalAI submission JSON."
            ) from None
        predictions.append(prediction_from_row(row, where))
    return predictions


def _parse_whole(text: str, source: str) -> object:
    """The whole text as one JSON value, or ``None`` when it holds several (JSON Lines).

    A syntax error that is not "several values" is reported with its line and column.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return None
        raise UserError(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
            "expected one prediction object per line or an EvalAI submission JSON."
        ) from None


def _scores_array(value: object, num_windows: int, where: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != num_windows:
        raise UserError(f"{where}: must be a list with one number per window ({num_windows}).")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise UserError(f"{where}: must be a list of finite numbers.")
    array = np.asarray(value, dtype=np.float64)
    if not np.isfinite(array).all():
        raise UserError(f"{where}: must be a list of finite numbers.")
    return array


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise UserError(f"{where}: must be a non-empty string, got {value!r}.")
    return value
