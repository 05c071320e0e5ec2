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
from itertools import chain, islice
from typing import NoReturn

import numpy as np

from osgnet_bench.annotations.records import QueryKey, join_query_id, split_query_id
from osgnet_bench.errors import UserError
from osgnet_bench.files import JsonSyntaxError, atomic_writer, describe_json, line_error, parse_json, read_bytes

# Keys of an EvalAI submission's top level besides 'results': a JSON object with one of them is a
# submission (and needs 'results'), not a one-line predictions file.
SUBMISSION_HEADER = frozenset({"version", "challenge"})
# What a parsed JSON value that is not a number was written as, for error messages.
JSON_KIND_NAMES: dict[type, str] = {
    bool: "true/false",
    type(None): "null",
    str: "a string",
    list: "a list",
    dict: "an object",
}


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
    data = read_bytes(path)
    lines = data.splitlines()
    content = list(islice((number for number, line in enumerate(lines) if line and not line.isspace()), 2))
    if not content:
        raise UserError(f"{path}: contains no predictions (the file is empty).")
    whole = None if _is_json_lines(lines, content) else _parse_whole(data, str(path))
    if isinstance(whole, dict) and ("results" in whole or SUBMISSION_HEADER & whole.keys()):
        predictions = predictions_from_submission(whole, str(path))
    elif whole is None or isinstance(whole, dict):
        predictions = _predictions_from_json_lines(lines, str(path))
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
    if "results" not in data:
        header = ", ".join(repr(key) for key in sorted(SUBMISSION_HEADER & data.keys()))
        raise UserError(
            f"{source}: is an EvalAI submission (it has {header}) without 'results', the list of per-query "
            "predictions; a submission needs it (see docs/formats.md)."
        )
    results = data["results"]
    if not isinstance(results, list):
        raise UserError(f"{source}: 'results' must be a list of per-query objects, got {describe_json(results)}.")
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
            raise UserError(f"{where}.query_idx: must be a non-negative JSON integer, got {describe_json(query_idx)}.")
        windows, _ = _windows_and_scores(entry["predicted_times"], None, where, ".predicted_times", "")
        predictions.append(
            Prediction(
                video_id=_string(entry["clip_uid"], where, ".clip_uid"),
                annotation_uid=_string(entry["annotation_uid"], where, ".annotation_uid"),
                query_idx=query_idx,
                windows=windows,
                where=where,
            )
        )
    return predictions


def prediction_from_row(row: object, where: str) -> Prediction:
    """One parsed predictions-jsonl object -> ``Prediction``; ``where`` names file and line."""
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}.")
    try:
        query_id, video_id, windows = row["query_id"], row["video_id"], row["windows"]
    except KeyError as exc:
        raise UserError(f"{where}: missing key {exc.args[0]!r}.") from None
    try:
        annotation_uid, query_idx = split_query_id(_string(query_id, where, ": 'query_id'"))
    except ValueError as exc:
        raise UserError(f"{where}: {exc}.") from None
    window_array, scores = _windows_and_scores(windows, row.get("scores"), where, ": 'windows'", ": 'scores'")
    return Prediction(_string(video_id, where, ": 'video_id'"), annotation_uid, query_idx, window_array, scores, where)


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


def _windows_and_scores(
    windows: object, scores: object, where: str, windows_key: str, scores_key: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """JSON ranked windows -> float64 [k, 2], and JSON scores (or ``None``) -> float64 [k] (or ``None``).

    ``windows`` is a non-empty list of ``[start, end]`` or ``[start, end, extra]`` (extra ignored),
    all of one length; ``scores`` has one number per window. Every number must be a finite JSON
    number (an int or float: ``true`` and ``false`` are not numbers). Errors name ``where`` followed
    by ``windows_key`` or ``scores_key``. Both lists are converted by one numpy call: this function
    is most of the reading time of a large file, so each window is not checked to be a list on its
    own; a window without a length fails ``len``, and the elements of any other (a string, an
    object's keys) are not numbers.
    """
    if not isinstance(windows, list) or not windows:
        raise UserError(f"{where}{windows_key}: must be a non-empty list of [start, end] windows.")
    if not isinstance(windows[0], list):
        raise UserError(f"{where}{windows_key}: must be a list of [start, end] windows, not one flat pair.")
    try:
        widths = set(map(len, windows))
    except TypeError:
        raise UserError(f"{where}{windows_key}: every window must be a list of numbers [start, end].") from None
    if len(widths) > 1:
        raise UserError(f"{where}{windows_key}: every window must have the same length ([start, end]).")
    width = widths.pop()
    if width < 2:
        raise UserError(f"{where}{windows_key}: every window must be a list of numbers [start, end].")
    count = len(windows)
    numbers = list(chain.from_iterable(windows))
    if scores is not None:
        if not isinstance(scores, list) or len(scores) != count:
            raise UserError(f"{where}{scores_key}: must be a list with one number per window ({count}).")
        numbers += scores
    array = _finite_float64(numbers)
    if array is None:
        _refuse_numbers(numbers[: count * width], numbers[count * width :], where + windows_key, where + scores_key)
    window_array = array[: count * width].reshape(count, width)
    if width > 2:
        window_array = np.ascontiguousarray(window_array[:, :2])
    return window_array, None if scores is None else array[count * width :]


def _finite_float64(values: list) -> np.ndarray | None:
    """float64 [n] of ``values`` when every one is a finite int or float (not a bool), else ``None``."""
    if not set(map(type, values)) <= {int, float}:
        return None
    array = np.fromiter(values, np.float64, len(values))
    return array if np.isfinite(array).all() else None


def _refuse_numbers(window_numbers: list, score_numbers: list, windows_where: str, scores_where: str) -> NoReturn:
    """The ``UserError`` for windows or scores that are not all finite JSON numbers (windows first)."""
    for values, where in ((window_numbers, windows_where), (score_numbers, scores_where)):
        kinds = set(map(type, values)) - {int, float}
        found = ", ".join(sorted(JSON_KIND_NAMES.get(kind, kind.__name__) for kind in kinds))
        if found and where == windows_where:
            raise UserError(f"{where}: every window must be a list of numbers [start, end] (found {found}).")
        if found:
            raise UserError(f"{where}: must be a list of finite numbers (found {found}).")
        if _finite_float64(values) is None:
            what = "windows must be finite numbers" if where == windows_where else "must be a list of finite numbers"
            raise UserError(f"{where}: {what} (found NaN, infinity or a number beyond 1e308).")
    raise AssertionError("numbers refused together but accepted apart")


def _is_json_lines(lines: list[bytes], content: list[int]) -> bool:
    """Whether a file is JSON Lines, told from its first two non-blank lines (numbers ``content``):
    there are two, and the first is a JSON object by itself."""
    if len(content) < 2:
        return False
    try:
        return isinstance(parse_json(lines[content[0]], max_depth=None), dict)
    except JsonSyntaxError:
        return False


def _predictions_from_json_lines(lines: list[bytes], source: str) -> list[Prediction]:
    """Every line of a predictions jsonl file; the first bad line is named in the error."""
    predictions = []
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():
            continue
        where = f"{source}: line {number}"
        try:
            row = parse_json(line, max_depth=None)  # prediction_from_row checks every level it reads
        except JsonSyntaxError as exc:
            raise UserError(
                f"{where} is not valid JSON ({line_error(exc)}); expected one prediction object per line or an "
                "EvalAI submission JSON."
            ) from None
        predictions.append(prediction_from_row(row, where))
    return predictions


def _parse_whole(data: bytes, source: str) -> object:
    """The whole file as one JSON value, or ``None`` when it holds several (JSON Lines).

    A syntax error that is not "several values" is reported with its line and column.
    """
    try:
        return parse_json(data)
    except JsonSyntaxError as exc:
        if exc.several_values:
            return None
        raise UserError(
            f"{source}: {exc.located()}; expected one prediction object per line or an EvalAI submission JSON."
        ) from None


def _string(value: object, where: str, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise UserError(f"{where}{key}: must be a non-empty string, got {describe_json(value)}.")
    return value
