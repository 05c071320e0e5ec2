"""Run integrity of ``run``, ``infer`` and ``convert-checkpoint`` through the CLI: a run directory
is reused only under the same config (and says so), another config is refused before any file is
written, an output is never one of the inputs (paths compared after resolving symlinks and
``./``), writing over any other file is said, and outputs follow the umask.

One small synthetic run (8 videos, one epoch) is trained once for the module; tests that would
change it work on a copy.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from osgnet_bench.cli import main
from osgnet_bench.workflows.demo import CONFIG_NAME, prepare_demo

pytestmark = pytest.mark.slow

SMALL = {"videos": 8, "queries_per_video": 3.0, "steps": 64}
ONE_EPOCH = ("--set", "opt.epochs=1", "--set", "opt.warmup_epochs=0")
UMASK = 0o022


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one in-process CLI call."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def run_args(run_dir: Path, *extra: str, config: Path | None = None) -> list[str]:
    config = config if config is not None else run_dir / CONFIG_NAME
    return [
        "run",
        "--track",
        "nlq",
        "--config",
        str(config),
        "--out",
        str(run_dir),
        *ONE_EPOCH,
        "--format",
        "json",
        *extra,
    ]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes), feature stores' lock files aside."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "lock.mdb"
    }


def assert_clean_refusal(code: int, err: str, *named: str) -> None:
    assert code == 1, err
    assert err.startswith("error: ") and "Traceback" not in err and "internal error" not in err
    for text in named:
        assert text in err, (text, err)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, one_thread) -> Path:
    """A finished one-epoch run of the small synthetic NLQ dataset, trained under umask 022."""
    run_dir = tmp_path_factory.mktemp("faults_run") / "run"
    previous = os.umask(UMASK)
    try:
        prepare_demo(run_dir, "nlq", **SMALL)
        with pytest.raises(SystemExit) as exit_info:
            main(run_args(run_dir))
    finally:
        os.umask(previous)
    assert exit_info.value.code == 0
    return run_dir


def copy_run(run_dir: Path, target: Path) -> Path:
    """A copy of the run's own files (its config keeps pointing at the original data)."""
    shutil.copytree(run_dir, target, ignore=lambda folder, names: ["data"] if Path(folder) == run_dir else [])
    return target


def test_repeated_run_with_the_same_config_is_reused_without_training(finished_run, capsys):
    before = snapshot(finished_run)
    stamps = {
        path: path.stat().st_mtime_ns
        for path in finished_run.rglob("*")
        if path.is_file() and path.suffix != ".mdb" and not path.name.startswith(("predictions_", "metrics_"))
    }
    code, out, err = cli(capsys, *run_args(finished_run))
    assert code == 0, err
    assert json.loads(out)["training"] == "reused"
    assert f"reusing the finished run in {finished_run}" in err
    assert snapshot(finished_run) == before
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps


def test_changed_config_is_refused_before_any_write(finished_run, capsys):
    before = snapshot(finished_run)
    code, _, err = cli(capsys, *run_args(finished_run, "--set", "opt.learning_rate=3e-3"))
    assert_clean_refusal(code, err, "opt.learning_rate", "0.001", "0.003", "--out", "--resume auto")
    assert snapshot(finished_run) == before


def test_changed_config_with_given_weights_is_refused(finished_run, capsys):
    before = snapshot(finished_run)
    checkpoint = str(finished_run / "checkpoints" / "last.pt")
    code, _, err = cli(capsys, *run_args(finished_run, "--set", "init_rand_seed=7", "--checkpoint", checkpoint))
    assert_clean_refusal(code, err, "init_rand_seed")
    assert snapshot(finished_run) == before


def test_unfinished_run_with_the_same_config_resumes_and_says_so(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path / "run")
    (run_dir / "summary.json").unlink()
    code, out, err = cli(capsys, *run_args(run_dir, config=finished_run / CONFIG_NAME))
    assert code == 0, err
    assert json.loads(out)["training"] == "resumed"
    assert f"resuming the unfinished run in {run_dir}" in err


def test_resume_auto_continues_under_a_changed_config_only_with_more_epochs(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path / "run")
    config = finished_run / CONFIG_NAME
    before = snapshot(run_dir)
    code, _, err = cli(capsys, *run_args(run_dir, "--set", "opt.learning_rate=3e-3", "--resume", "auto", config=config))
    assert_clean_refusal(code, err, "opt.epochs", "nothing to continue")
    assert snapshot(run_dir) == before
    code, out, err = cli(capsys, *run_args(run_dir, "--set", "opt.epochs=2", "--resume", "auto", config=config))
    assert code == 0, err
    assert json.loads(out)["training"] == "resumed"
    assert "continuing the finished run" in err and "opt.epochs (1 recorded, 2 now)" in err
    assert json.loads((run_dir / "summary.json").read_text())["epochs"] == 2


def test_run_out_that_is_a_file_is_refused(finished_run, tmp_path, capsys):
    out = tmp_path / "notes.txt"
    out.write_text("my notes\n")
    code, _, err = cli(capsys, *run_args(out, config=finished_run / CONFIG_NAME))
    assert_clean_refusal(code, err, str(out), "is a file")
    assert out.read_text() == "my notes\n"


def test_run_output_that_is_an_input_is_refused(finished_run, capsys):
    before = snapshot(finished_run)
    predictions = finished_run / "predictions_val.jsonl"
    code, _, err = cli(capsys, *run_args(finished_run, "--gt", str(predictions)))
    assert_clean_refusal(code, err, "same file as --gt")
    assert snapshot(finished_run) == before


def test_outputs_follow_the_umask(finished_run):
    for name in (CONFIG_NAME, "predictions_val.jsonl", "metrics_val.json"):
        assert (finished_run / name).stat().st_mode & 0o777 == 0o644, name


@pytest.fixture
def infer_inputs(finished_run, tmp_path) -> dict[str, Path]:
    """The run's config, a copy of its weights and a copy of its validation annotations."""
    config = json.loads((finished_run / "data" / "synth.json").read_text())
    jsonl = tmp_path / "val.jsonl"
    shutil.copyfile(finished_run / "data" / config["annotations"]["val"]["lemma_jsonl"], jsonl)
    checkpoint = tmp_path / "best.pt"
    shutil.copyfile(finished_run / "checkpoints" / "best.pt", checkpoint)
    return {"config": finished_run / "config.yaml", "checkpoint": checkpoint, "jsonl": jsonl}


def infer_args(inputs: dict[str, Path], out: str | Path, *extra: str) -> list[str]:
    return [
        "infer",
        "--config",
        str(inputs["config"]),
        "--checkpoint",
        str(inputs["checkpoint"]),
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.parametrize("spelling", ["same", "symlink", "dot"])
def test_infer_out_equal_to_the_annotations_is_refused(infer_inputs, tmp_path, monkeypatch, capsys, spelling):
    jsonl = infer_inputs["jsonl"]
    before = jsonl.read_bytes()
    if spelling == "symlink":
        out: str | Path = tmp_path / "link.jsonl"
        out.symlink_to(jsonl)
    elif spelling == "dot":
        monkeypatch.chdir(tmp_path)
        (tmp_path / "sub").mkdir()
        out = f"./sub/../{jsonl.name}"
    else:
        out = jsonl
    code, _, err = cli(capsys, *infer_args(infer_inputs, out, "--jsonl", str(jsonl)))
    assert_clean_refusal(code, err, "same file as --jsonl")
    assert jsonl.read_bytes() == before


def test_infer_out_equal_to_the_configs_annotations_is_refused(infer_inputs, capsys):
    jsonl = infer_inputs["jsonl"]
    before = jsonl.read_bytes()
    code, _, err = cli(capsys, *infer_args(infer_inputs, jsonl, "--set", f"dataset.val_jsonl_file={jsonl}"))
    assert_clean_refusal(code, err, "dataset.val_jsonl_file")
    assert jsonl.read_bytes() == before


def test_infer_out_equal_to_the_checkpoint_is_refused(infer_inputs, capsys):
    checkpoint = infer_inputs["checkpoint"]
    before = checkpoint.read_bytes()
    code, _, err = cli(capsys, *infer_args(infer_inputs, checkpoint, "--jsonl", str(infer_inputs["jsonl"])))
    assert_clean_refusal(code, err, "same file as --checkpoint")
    assert checkpoint.read_bytes() == before


def test_infer_over_another_file_says_so(infer_inputs, tmp_path, capsys):
    out = tmp_path / "old_predictions.jsonl"
    out.write_text("old\n")
    code, _, err = cli(capsys, *infer_args(infer_inputs, out, "--jsonl", str(infer_inputs["jsonl"])))
    assert code == 0, err
    assert f"overwriting {out}" in err
    assert out.read_text() != "old\n"


@pytest.mark.parametrize("spelling", ["same", "dot"])
def test_convert_checkpoint_onto_its_input_is_refused(finished_run, tmp_path, monkeypatch, capsys, spelling):
    official = tmp_path / "official.pth.tar"
    shutil.copyfile(finished_run / "checkpoints" / "best_official.pth.tar", official)
    before = official.read_bytes()
    monkeypatch.chdir(tmp_path)
    out = str(official) if spelling == "same" else f"./{official.name}"
    code, _, err = cli(
        capsys, "convert-checkpoint", str(official), "--config", str(finished_run / "config.yaml"), "--out", out
    )
    assert_clean_refusal(code, err, "the input checkpoint")
    assert official.read_bytes() == before


def test_convert_checkpoint_over_another_file_says_so(finished_run, tmp_path, capsys):
    out = tmp_path / "converted.pt"
    out.write_bytes(b"old")
    code, out_text, err = cli(
        capsys,
        "convert-checkpoint",
        str(finished_run / "checkpoints" / "best_official.pth.tar"),
        "--config",
        str(finished_run / "config.yaml"),
        "--out",
        str(out),
    )
    assert code == 0, err
    assert f"overwriting {out}" in err
    assert out.read_bytes() != b"old"


def test_demo_refuses_data_generated_with_other_options(tmp_path, capsys):
    run_dir = tmp_path / "demo"
    prepare_demo(run_dir, "nlq", **SMALL)
    before = snapshot(run_dir)
    code, _, err = cli(capsys, "run", "--track", "nlq", "--out", str(run_dir))
    assert_clean_refusal(code, err, str(run_dir / "data"), "videos 8 (now 40)", "another --out")
    assert snapshot(run_dir) == before


def test_demo_refuses_a_data_folder_it_did_not_finish(tmp_path, capsys):
    run_dir = tmp_path / "demo"
    (run_dir / "data").mkdir(parents=True)
    (run_dir / "data" / "notes.txt").write_text("mine\n")
    code, _, err = cli(capsys, "run", "--track", "nlq", "--out", str(run_dir))
    assert_clean_refusal(code, err, str(run_dir / "data"), "synth.json")
    assert snapshot(run_dir) == {"data/notes.txt": b"mine\n"}


def test_demo_keeps_an_edited_demo_config(tmp_path, capsys):
    run_dir = tmp_path / "demo"
    config = prepare_demo(run_dir, "nlq")
    config.write_text(config.read_text().replace("learning_rate: 0.001", "learning_rate: 0.002"))
    before = snapshot(run_dir)
    code, _, err = cli(capsys, "run", "--track", "nlq", "--out", str(run_dir))
    assert_clean_refusal(code, err, str(config), "--config")
    assert snapshot(run_dir) == before
