"""The base install (no `train` extra): the leaderboard commands work without torch, lmdb and
tensorboard, and a command that needs them says which extra to install, in one line.

Each case runs in a fresh interpreter whose import system refuses the `train` extra's modules, as
they would be missing after ``pip install osgnet-bench``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from test_faults_files import prediction_rows, raw_gt, write_rows

BLOCKED = ("torch", "lmdb", "tensorboard")

RUNNER = textwrap.dedent(
    """
    import sys

    class RefuseExtras:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, RefuseExtras())
    from osgnet_bench.cli import main

    main(sys.argv[1:])
    """
)


def without_extras(tmp_path: Path, *args: object) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "run_without_extras.py"
    script.write_text(RUNNER.format(blocked=BLOCKED))
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, check=False, cwd=tmp_path
    )


def test_leaderboard_commands_run_without_the_train_extra(tmp_path):
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(raw_gt()))
    a = write_rows(tmp_path / "a.jsonl", prediction_rows())
    b = write_rows(tmp_path / "b.jsonl", prediction_rows(shift=1.0))
    evaluated = without_extras(tmp_path, "evaluate", "--track", "nlq", "--gt", gt, "--pred", a, "--format", "json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["metrics"]["R1@0.3"] == 100.0
    compared = without_extras(tmp_path, "compare", "--track", "nlq", "--gt", gt, a, b, "--format", "csv")
    assert compared.returncode == 0, compared.stderr
    assert "a" in compared.stdout and "b" in compared.stdout
    submission = tmp_path / "submission.json"
    submitted = without_extras(tmp_path, "submit", "--track", "nlq", "--pred", a, "--pred", b, "--out", submission)
    assert submitted.returncode == 0, submitted.stderr
    assert len(json.loads(submission.read_text())["results"]) == 3
    validated = without_extras(tmp_path, "validate", submission, "--track", "nlq")
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_a_command_that_needs_the_train_extra_names_it(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("dataset: {}\nmodel: {}\n")
    for args in (("train", "--config", config, "--out", tmp_path / "run"), ("model-info", "--config", config)):
        completed = without_extras(tmp_path, *args)
        output = completed.stdout + completed.stderr
        assert completed.returncode == 1, output
        assert f"`osgnet-bench {args[0]}` needs torch" in output
        assert "pip install 'osgnet-bench[train]'" in output
        assert "Traceback" not in output and "internal error" not in output
        assert len(output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
