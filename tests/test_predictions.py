"""The predictions file: reading jsonl and EvalAI submissions, writing, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from osgnet_bench.errors import UserError
from osgnet_bench.predictions import Prediction, read_predictions, write_predictions


def write_lines(path, rows):
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return path


def submission(results):
    return {"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": results}


def test_jsonl_is_read_in_order_with_scores(tmp_path):
    path = write_lines(
        tmp_path / "pred.jsonl",
        [
            {"query_id": "ann_x_3", "video_id": "clip", "windows": [[1, 2.5], [0, 4]],
             "scores": [0.9, 0.1], "extra": 1},
            {"query_id": "ann_y_0", "video_id": "clip", "windows": [[5.0, 6.0]]},
        ],
    )
    first, second = read_predictions(path)
    assert (first.video_id, first.annotation_uid, first.query_idx) == ("clip", "ann_x", 3)
    assert first.windows.dtype == np.float64 and first.windows.tolist() == [[1.0, 2.5], [0.0, 4.0]]
    assert first.scores.tolist() == [0.9, 0.1]
    assert second.scores is None and second.key == ("clip", "ann_y", 0)
    assert first.where.endswith("line 1")


def test_single_line_jsonl_without_results_key(tmp_path):
    path = write_lines(tmp_path / "one.json", [{"query_id": "a_1", "video_id": "c", "windows": [[0, 1]]}])
    (prediction,) = read_predictions(path)
    assert prediction.query_id == "a_1"


def test_submission_third_element_is_ignored(tmp_path):
    path = tmp_path / "sub.json"
    path.write_text(json.dumps(submission([
        {"clip_uid": "c", "annotation_uid": "a", "query_idx": 2, "predicted_times": [[1, 2, 0.7], [3, 4, 0.2]]}
    ]), indent=2))
    (prediction,) = read_predictions(path)
    assert prediction.key == ("c", "a", 2)
    assert prediction.windows.shape == (2, 2)
    assert prediction.windows.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert prediction.scores is None


def test_write_then_read_round_trips(tmp_path):
    predictions = [
        Prediction("clip", "ann", 4, np.array([[1.25, 3.0], [0.0, 9.5]]), np.array([0.8, 0.3])),
        Prediction("clip2", "ann_b", 0, np.array([[2.0, 2.0]])),
    ]
    path = tmp_path / "out" / "pred.jsonl"
    write_predictions(path, predictions)
    back = read_predictions(path)
    assert [p.key for p in back] == [p.key for p in predictions]
    assert back[0].windows.tolist() == [[1.25, 3.0], [0.0, 9.5]]
    assert back[0].scores.tolist() == [0.8, 0.3]
    assert back[1].scores is None
    assert sorted(p.name for p in path.parent.iterdir()) == ["pred.jsonl"]


def test_failed_write_leaves_previous_file(tmp_path):
    path = tmp_path / "pred.jsonl"
    path.write_text("old\n")

    class Broken(Prediction):
        @property
        def query_id(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_predictions(path, [Broken("c", "a", 0, np.zeros((1, 2)))])
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.jsonl"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"predicted_times": [1.0, 2.0]}, "predicted_times: must be a list of [start, end] windows, not one flat pair"),
        ({"predicted_times": []}, "results[0].predicted_times: must be a non-empty list"),
        ({"query_idx": "1"}, "results[0].query_idx: must be a non-negative JSON integer"),
        ({"query_idx": -1}, "results[0].query_idx: must be a non-negative JSON integer"),
        ({"query_idx": True}, "results[0].query_idx: must be a non-negative JSON integer"),
        ({"predicted_times": [[1, 2], [3, 4, 5]]}, "every window must have the same length"),
        ({"predicted_times": [[1, "x"]]}, "must be a list of numbers"),
        ({"predicted_times": [[1]]}, "must be a list of numbers"),
        ({"clip_uid": 7}, "results[0].clip_uid: must be a non-empty string"),
    ],
)
def test_bad_submission_entries_name_the_json_path(tmp_path, entry, message):
    good = {"clip_uid": "c", "annotation_uid": "a", "query_idx": 0, "predicted_times": [[1, 2]]}
    path = tmp_path / "sub.json"
    path.write_text(json.dumps(submission([{**good, **entry}])))
    with pytest.raises(UserError) as info:
        read_predictions(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_key_in_submission(tmp_path):
    path = tmp_path / "sub.json"
    path.write_text(json.dumps(submission([{"clip_uid": "c", "annotation_uid": "a", "query_idx": 0}])))
    with pytest.raises(UserError, match=r"results\[0\]: missing key 'predicted_times'"):
        read_predictions(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"video_id": "c", "windows": [[0, 1]]}, "line 2: missing key 'query_id'"),
        ({"query_id": "noindex", "video_id": "c", "windows": [[0, 1]]},
         "line 2: query_id 'noindex' does not end in '_<integer>'"),
        ({"query_id": "a_1", "video_id": "c", "windows": [[0, 1]], "scores": [1, 2]},
         "line 2: 'scores': must be a list with one number per window (1)"),
        ({"query_id": "a_1", "video_id": "c", "windows": [[0, float("nan")]]},
         "line 2: 'windows': windows must be finite"),
        ([1, 2], "line 2: expected a JSON object, got list"),
    ],
)
def test_bad_jsonl_rows_name_the_line(tmp_path, row, message):
    path = tmp_path / "pred.jsonl"
    first = {"query_id": "a_0", "video_id": "c", "windows": [[0, 1]]}
    path.write_text(json.dumps(first) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(UserError) as info:
        read_predictions(path)
    assert f"{path}: {message}" in str(info.value)


def test_invalid_json_line_is_named(tmp_path):
    path = tmp_path / "pred.jsonl"
    good = json.dumps({"query_id": "a_0", "video_id": "c", "windows": [[0, 1]]})
    path.write_text(good + "\n" + good.replace("a_0", "a_1") + "\n{broken\n")
    with pytest.raises(UserError, match=r"line 3 is not valid JSON"):
        read_predictions(path)


def test_invalid_submission_json_names_line_and_column(tmp_path):
    path = tmp_path / "sub.json"
    path.write_text('{\n  "version": "1.0",\n  "results": [\n    {"clip_uid": }\n  ]\n}\n')
    with pytest.raises(UserError, match=r"invalid JSON at line 4, column 18"):
        read_predictions(path)


def test_empty_and_wrong_top_level(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(UserError, match="contains no predictions"):
        read_predictions(empty)
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    with pytest.raises(UserError, match="got a JSON list"):
        read_predictions(array)
    no_results = tmp_path / "sub.json"
    no_results.write_text(json.dumps(submission([])))
    with pytest.raises(UserError, match="contains no predictions"):
        read_predictions(no_results)
    with pytest.raises(UserError, match="no such file"):
        read_predictions(tmp_path / "absent.jsonl")


def test_nested_list_among_scores_is_a_clear_error(tmp_path):
    from osgnet_bench.errors import UserError
    from osgnet_bench.predictions import read_predictions

    path = tmp_path / "p.jsonl"
    path.write_text('{"query_id": "a_0", "video_id": "v", "windows": [[0, 1], [2, 3]], "scores": [0.5, [1]]}\n')
    with pytest.raises(UserError, match="line 1.*scores.*finite numbers"):
        read_predictions(path)


@pytest.mark.parametrize(
    ("windows", "scores", "message"),
    [
        ([[True, 5.0]], None, "'windows': every window must be a list of numbers [start, end] (found true/false)"),
        ([[0.0, 1.0], "ab"], None, "'windows': every window must be a list of numbers [start, end] (found a string)"),
        ([[0.0, 1.0], 7], None, "'windows': every window must be a list of numbers [start, end]"),
        ([[0.0, None]], None, "(found null)"),
        ([[0.0, 1.0]], [False], "'scores': must be a list of finite numbers (found true/false)"),
        ([[0.0, 1.0]], ["0.5"], "'scores': must be a list of finite numbers (found a string)"),
    ],
)
def test_values_that_are_not_numbers_are_named(tmp_path, windows, scores, message):
    row = {"query_id": "a_0", "video_id": "c", "windows": windows, **({"scores": scores} if scores else {})}
    path = write_lines(tmp_path / "pred.jsonl", [{"query_id": "a_1", "video_id": "c", "windows": [[0, 1]]}, row])
    with pytest.raises(UserError) as info:
        read_predictions(path)
    assert f"{path}: line 2: " in str(info.value) and message in str(info.value)


def test_windows_with_scores_inside_are_contiguous_pairs(tmp_path):
    path = write_lines(tmp_path / "pred.jsonl", [
        {"query_id": "a_0", "video_id": "c", "windows": [[1, 2, 0.9], [3, 4, 0.1]]},
        {"query_id": "a_1", "video_id": "c", "windows": [[5, 6]], "scores": [1]},
    ])
    first, second = read_predictions(path)
    assert first.windows.tolist() == [[1.0, 2.0], [3.0, 4.0]] and first.windows.flags.c_contiguous
    assert second.scores.dtype == np.float64 and second.scores.tolist() == [1.0]


def test_line_ends_and_line_separators_inside_strings(tmp_path):
    rows = [{"query_id": "a_0", "video_id": "clip\u2028one", "windows": [[0, 1]]},
            {"query_id": "a_1", "video_id": "c", "windows": [[2, 3]]}]
    path = tmp_path / "pred.jsonl"
    path.write_bytes("\r\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode("utf-8") + b"\r\n\r\n")
    first, second = read_predictions(path)
    assert first.video_id == "clip\u2028one" and second.where.endswith("line 2")
