"""Output people can read (issue 12): tables that fit a 100-column terminal on every track, n and
the ranking metric's 95% interval beside the table, ``compare --plot`` without matplotlib, the
quoted EvalAI upload command, ``submit`` on a validation file, plural forms, ``validate`` on a
predictions jsonl."""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest

from osgnet_bench.annotations.records import QueryRecord
from osgnet_bench.cli import main
from osgnet_bench.metrics import evaluate
from osgnet_bench.predictions import Prediction
from osgnet_bench.report import render_results
from osgnet_bench.tracks import get_track

WIDTH = 100
QUERY_TYPES = {"nlq_v1": "nlq", "nlq_v2": "nlq", "goalstep": "goal_step", "tacos": "tacos"}
HIT, MISS = [[10.0, 20.0]] * 5, [[50.0, 60.0]] * 5


def write_gt(path: Path, track: str, queries: int) -> str:
    """A jsonl ground truth of ``queries`` queries, each with the window 10-20 s of a 100 s clip."""
    rows = [
        {
            "query": f"query {i}?",
            "query_id": f"ann_{i}",
            "duration": 100.0,
            "video_id": "clip",
            "query_type": QUERY_TYPES[track],
            "timestamps": [[10.0, 20.0]],
        }
        for i in range(queries)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return str(path)


def write_preds(path: Path, queries: int, hit_every: int) -> str:
    """Predictions for ``queries`` queries: every ``hit_every``-th one hits the GT window exactly."""
    rows = [
        {
            "query_id": f"ann_{i}",
            "video_id": "clip",
            "windows": HIT if i % hit_every == 0 else MISS,
            "scores": [1.0, 0.9, 0.8, 0.7, 0.6],
        }
        for i in range(queries)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return str(path)


def cli(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture
def terminal_100(monkeypatch):
    """A terminal 100 columns wide, as ``COLUMNS=100`` sets it for ``shutil.get_terminal_size``."""
    monkeypatch.setenv("COLUMNS", str(WIDTH))


def assert_fits(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, f"lines wider than {WIDTH}: {too_wide}"


@pytest.mark.parametrize("track", list(QUERY_TYPES))
def test_evaluate_and_compare_tables_fit_100_columns(track, tmp_path, capsys, terminal_100):
    gt = write_gt(tmp_path / "gt.jsonl", track, 43)
    first = write_preds(tmp_path / "first-model-predictions.jsonl", 43, 2)
    second = write_preds(tmp_path / "second-model-predictions.jsonl", 40, 3)
    code, out, err = cli(capsys, "evaluate", "--track", track, "--gt", gt, "--pred", first)
    assert code == 0, err
    assert_fits(out)
    assert out.count(f"track {track}") == 1 and "R1@0.5" in out
    code, out, err = cli(capsys, "compare", "--track", track, "--gt", gt, first, second)
    assert code == 0, err
    assert_fits(out)
    assert out.count(f"track {track}") == 1 and "second-model-predictions (-" not in out
    for key in get_track(track).rank_keys:
        assert key in out


@pytest.mark.parametrize("track", list(QUERY_TYPES))
def test_run_table_fits_100_columns(track, terminal_100):
    """``run`` prints ``render_results([model, random], runs=["model", "random"])``."""
    spec_track = get_track(track)
    records = [QueryRecord("clip", "ann", i, f"q{i}", 100.0, ((10.0, 20.0),), QUERY_TYPES[track]) for i in range(43)]
    results = [
        evaluate(records, [Prediction("clip", "ann", i, np.asarray(windows)) for i in range(43)], spec_track)
        for windows in (HIT, MISS)
    ]
    text = render_results(results, "table", runs=["model", "random"])
    assert_fits(text)
    assert text.count(track) == 1 and text.splitlines()[0].split()[0] == "run"


def test_few_queries_give_n_and_the_interval(tmp_path, capsys):
    gt = write_gt(tmp_path / "gt.jsonl", "goalstep", 43)
    preds = write_preds(tmp_path / "preds.jsonl", 43, 2)  # 22 of 43 hit
    code, out, _ = cli(capsys, "evaluate", "--track", "goalstep", "--gt", gt, "--pred", preds)
    assert code == 0
    p = 22 / 43
    half_width = 1.96 * math.sqrt(p * (1 - p) / 43) * 100
    assert "n = 43 queries evaluated; 0 of 43 ground-truth queries missing" in out
    assert f"95% interval of R1@0.3 ±{half_width:.2f} points" in out and "n < 500" in out


def test_many_queries_give_n_without_the_interval(tmp_path, capsys):
    gt = write_gt(tmp_path / "gt.jsonl", "nlq_v2", 500)
    preds = write_preds(tmp_path / "preds.jsonl", 500, 2)
    code, out, _ = cli(capsys, "evaluate", "--track", "nlq_v2", "--gt", gt, "--pred", preds)
    assert code == 0
    assert "n = 500 queries evaluated" in out and "interval" not in out


def test_one_query_is_singular(tmp_path, capsys):
    gt = write_gt(tmp_path / "gt.jsonl", "nlq_v2", 1)
    preds = write_preds(tmp_path / "preds.jsonl", 1, 1)
    code, out, _ = cli(capsys, "evaluate", "--track", "nlq_v2", "--gt", gt, "--pred", preds)
    assert code == 0
    assert "n = 1 query evaluated; 0 of 1 ground-truth query missing" in out and "1 queries" not in out


def test_compare_plot_without_matplotlib_fails_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    gt = write_gt(tmp_path / "gt.jsonl", "nlq_v2", 3)
    before = Path(gt).read_bytes()
    absent_run = tmp_path / "not-yet-written.jsonl"  # reading it would fail with another message
    code, out, err = cli(capsys, "compare", "--track", "nlq", "--gt", gt, absent_run, "--plot", tmp_path / "curves.png")
    assert code == 1 and out == ""
    assert "matplotlib" in err and "pip install -e '.[plot]'" in err and "pip install 'osgnet-bench[plot]'" in err
    assert "Traceback" not in err and str(absent_run) not in err
    assert not (tmp_path / "curves.png").exists() and Path(gt).read_bytes() == before


FAKE_PYPLOT = """
labels = []


class Axes:
    def plot(self, *args, label=None, **kwargs):
        labels.append(label)

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class Figure:
    def tight_layout(self):
        pass

    def savefig(self, handle, format=None, dpi=None):
        handle.write(b"fake png")


def subplots(figsize=None):
    return Figure(), Axes()


def close(figure):
    pass
"""


def test_plot_legend_gives_n(tmp_path, capsys, monkeypatch):
    """A stand-in matplotlib records the legend labels (the real one is an optional extra)."""
    package = tmp_path / "fake" / "matplotlib"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def use(backend):\n    pass\n")
    (package / "pyplot.py").write_text(FAKE_PYPLOT)
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    gt = write_gt(tmp_path / "gt.jsonl", "nlq_v2", 43)
    first = write_preds(tmp_path / "first.jsonl", 43, 2)
    second = write_preds(tmp_path / "second.jsonl", 40, 3)
    try:
        code, _, err = cli(capsys, "compare", "--track", "nlq", "--gt", gt, first, second, "--plot", tmp_path / "c.png")
        labels = sys.modules["matplotlib.pyplot"].labels
    finally:
        for name in ("matplotlib", "matplotlib.pyplot"):
            sys.modules.pop(name, None)
    assert code == 0, err
    assert labels == ["first R@1 (n=43)", "first R@5 (n=43)", "second R@1 (n=40)", "second R@5 (n=40)"]


def test_upload_command_is_shell_quoted(tmp_path, capsys):
    folder = tmp_path / "my runs"
    folder.mkdir()
    preds = write_preds(folder / "preds.jsonl", 3, 1)
    out_path = folder / "sub mission.json"
    code, out, err = cli(
        capsys,
        "submit",
        "--track",
        "nlq",
        "--pred",
        preds,
        "--out",
        out_path,
        "--challenge-id",
        "1629",
        "--phase-id",
        "3300",
    )
    assert code == 0, err
    command = next(line.strip() for line in out.splitlines() if line.strip().startswith("evalai challenge"))
    assert shlex.split(command) == [
        "evalai",
        "challenge",
        "1629",
        "phase",
        "3300",
        "submit",
        "--file",
        str(out_path),
        "--large",
    ]
    assert "3 queries x 5 windows" in out and "0 queries padded" in out and "0 warnings" in out


def test_submit_on_a_validation_file_says_so(tmp_path, capsys):
    gt = write_gt(tmp_path / "val.jsonl", "nlq_v2", 1)
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"query_id": "ann_0", "video_id": "clip", "windows": [[10, 20]], "scores": [1.0]}))
    out_path = tmp_path / "sub.json"
    code, out, err = cli(capsys, "submit", "--track", "nlq", "--pred", preds, "--test-file", gt, "--out", out_path)
    assert code == 0, err
    assert "is a validation file" in out and "osgnet-bench evaluate" in out
    assert "evalai challenge" not in out and "upload it" not in out
    assert "1 query x 5 windows" in out and "1 query padded to 5 by repeating its last window" in out


def test_validate_counts_are_singular_or_plural(tmp_path, capsys):
    preds = write_preds(tmp_path / "preds.jsonl", 1, 1)
    submission = tmp_path / "sub.json"
    assert cli(capsys, "submit", "--track", "nlq", "--pred", preds, "--out", submission)[0] == 0
    gt = write_gt(tmp_path / "gt.jsonl", "nlq_v2", 1)
    code, out, _ = cli(capsys, "validate", submission, "--track", "nlq", "--gt", gt)
    assert code == 0
    assert "1 result, 1 query expected; 0 errors, 0 warnings" in out


def test_validate_on_predictions_says_to_run_submit(tmp_path, capsys):
    (tmp_path / "my runs").mkdir()
    preds = write_preds(tmp_path / "my runs" / "preds.jsonl", 2, 1)
    before = Path(preds).read_bytes()
    code, out, err = cli(capsys, "validate", preds, "--track", "nlq")
    assert code == 1 and out == ""
    assert "predictions jsonl" in err
    suggested = shlex.split(err[err.index("`") + 1 : err.rindex("`")])
    assert suggested[:2] == ["osgnet-bench", "submit"] and suggested[suggested.index("--pred") + 1] == preds
    assert "Traceback" not in err and "internal error" not in err
    assert Path(preds).read_bytes() == before
