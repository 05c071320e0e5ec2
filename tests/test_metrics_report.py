"""Rendering metrics rows (runs x metrics) as table, Markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.errors import UserError
from osgnet_bench.metrics import evaluate
from osgnet_bench.predictions import Prediction
from osgnet_bench.report import render_results, render_rows, result_row
from osgnet_bench.tracks import get_track


def result_for(windows, track="goalstep"):
    record = QueryRecord("v", "a", 0, "step", 100.0, ((0.0, 10.0),), "goal_step")
    return evaluate([record], [Prediction("v", "a", 0, np.asarray(windows, dtype=np.float64))], get_track(track))


def test_result_row_is_flat_and_ordered():
    row = result_row(result_for([[0, 4]]), run="model-a")
    assert list(row) == ["run", "track", "R1@0.3", "R1@0.5", "R5@0.3", "R5@0.5", "mIoU", "rank_metric",
                         "ranked_by", "evaluated", "missing", "gt"]
    assert (row["R1@0.3"], row["R1@0.5"], row["mIoU"], row["ranked_by"]) == (100.0, 0.0, 40.0, "R1@0.3")


def test_several_runs_in_every_format():
    results = [result_for([[0, 10]]), result_for([[0, 4]])]
    runs = ["exact", "partial"]
    table = render_results(results, "table", runs).splitlines()
    assert table[0].split() == ["run", "R1@0.3", "R1@0.5", "R5@0.3", "R5@0.5", "mIoU"]
    assert table[2].split()[:5] == ["exact", "100.00", "100.00", "100.00", "100.00"]
    assert table[3].split()[:3] == ["partial", "100.00", "0.00"]
    assert table[4] == "track goalstep; ranking metric R1@0.3; IoU rule: IoU > t"
    rows = list(csv.DictReader(io.StringIO(render_results(results, "csv", runs))))
    assert [r["run"] for r in rows] == runs and float(rows[1]["mIoU"]) == 40.0
    parsed = json.loads(render_results(results, "json", runs))
    assert [p["run"] for p in parsed] == runs and parsed[1]["metrics"]["R1@0.5"] == 0.0
    single = json.loads(render_results(results[:1], "json"))
    assert single["track"] == "goalstep" and single["num_evaluated"] == 1


def test_rows_with_different_columns_are_united():
    text = render_rows([{"run": "a", "R1@0.3": 1.234}, {"run": "b", "R1@0.7": 5.0}], "csv")
    assert text.splitlines() == ["run,R1@0.3,R1@0.7", "a,1.234,", "b,,5.0"]
    assert json.loads(render_rows([{"x": 1}], "json")) == [{"x": 1}]
    with pytest.raises(UserError, match="unknown output format 'xml'"):
        render_rows([{"x": 1}], "xml")
