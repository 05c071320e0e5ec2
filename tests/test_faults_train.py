"""Run integrity of ``osgnet-bench train`` and ``infer``: nothing a user already has is lost, and
every bad input or fault ends in one clear line.

Each bad input goes through the CLI and must exit 1 with a message naming the culprit, without a
traceback or "internal error", leaving every file that existed before byte-identical. Kills are
simulated through the trainer's fault points (``trainers.train.faults``): a callback raises at a
chosen point, exactly where a real kill could stop the process, and the run is then resumed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch

from osgnet_bench.cli import main
from osgnet_bench.errors import UserError
from osgnet_bench.launch_options import LaunchOptions
from osgnet_bench.workflows.demo import prepare_demo
from trainers.config import load_run_config
from trainers.model.checkpoint import TRAIN_STATE_FORMAT, read_checkpoint_record, with_checksum
from trainers.train import faults
from trainers.train.checkpoints import (
    BEST,
    BEST_OFFICIAL,
    LAST,
    LAST_OFFICIAL,
    checkpoint_path,
    load_training_state,
    recover,
)
from trainers.train.launch import train_session
from trainers.train.run_dir import LOCK_FILE, SUMMARY, RunLogger, read_events, run_traces

# 6 synthetic videos, batch 2: 6 steps per epoch, 3 epochs; with this seed and lr the best epoch
# moves from 0 to 1 and stays there, so saves both replace best.pt and leave it alone
TINY = ["opt.epochs=2", "opt.warmup_epochs=1", "opt.learning_rate=1e-2", "init_rand_seed=1", "loader.batch_size=2",
        "trainer.deterministic=true", "trainer.cpu_threads=1"]
SAVE_EVERY = 3
STEPS_PER_EPOCH = 6
TIMEOUT_S = 240


class Killed(BaseException):
    """Stands for a kill: not an ``Exception``, so nothing on the way out handles it."""


def sets(overrides: list[str]) -> list[str]:
    return [arg for override in overrides for arg in ("--set", override)]


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    return prepare_demo(tmp_path_factory.mktemp("data"), "nlq", videos=6, queries_per_video=4, steps=48)


def train(config: Path, run: Path, resume: str | None = None) -> dict:
    """Train in-process (what ``osgnet-bench train`` runs), without a progress bar."""
    return train_session(config, TINY, run, resume, None, SAVE_EVERY, LaunchOptions(), progress=False)


@pytest.fixture(scope="module")
def reference(config, tmp_path_factory) -> tuple[Path, list[tuple[str, dict]]]:
    """An uninterrupted run and every fault point it passed, in order."""
    run = tmp_path_factory.mktemp("reference") / "run"
    points: list[tuple[str, dict]] = []
    with faults.registered(lambda name, details: points.append((name, dict(details)))):
        train(config, run)
    return run, points


@pytest.fixture()
def finished(reference, tmp_path) -> Path:
    """A copy of the finished reference run."""
    run = tmp_path / "finished"
    shutil.copytree(reference[0], run)
    return run


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (the lock file records the last launcher's pid)."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file() and path.name != LOCK_FILE}


def fails(capsys, args: list[str], *culprits: str) -> str:
    """Run the CLI; it must exit 1 with one clean message, its last line, naming every culprit."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert exit_info.value.code == 1, output
    assert "Traceback" not in output and "internal error" not in output, output
    lines = [line for line in captured.err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], output
    for culprit in culprits:
        assert culprit in errors[0], (culprit, output)
    return errors[0]


def train_args(config: Path, run: Path, *extra: str) -> list[str]:
    return ["train", "--config", str(config), "--out", str(run), "--save-every", str(SAVE_EVERY), *sets(TINY), *extra]


def kill_at(index: int):
    """A fault callback that raises ``Killed`` at the ``index``-th fault point (0-based)."""
    seen = [0]

    def callback(name: str, details: Mapping[str, Any]) -> None:
        seen[0] += 1
        if seen[0] - 1 == index:
            raise Killed(f"{name} {dict(details)}")

    return callback


# ---------------------------------------------------------------- consistency after a kill


def assert_loads(run: Path) -> None:
    """Every checkpoint file there loads, its checksum verified."""
    for path in (run / "checkpoints").glob("*"):
        if path.name.endswith(".pt"):
            load_training_state(path)
        else:
            read_checkpoint_record(path)


def assert_consistent(run: Path) -> None:
    """``last.pt``, ``best.pt``, the exports, ``summary.json`` and the log name one best model."""
    last = load_training_state(checkpoint_path(run, LAST))
    progress = last["progress"]
    best_epoch = progress["best_epoch"]
    validated = [h for h in progress["history"] if h["metrics"] is not None]
    val_events = [e for e in read_events(run) if e["event"] == "val"]
    # one per validated epoch; log.jsonl and summary.json number epochs from 1, the training state from 0
    assert [e["epoch"] for e in val_events] == [h["epoch"] + 1 for h in validated]
    for event, entry in zip(val_events, validated):
        assert {k: event[k] for k in entry["metrics"]} == entry["metrics"]
    if not validated:
        assert best_epoch is None and not (run / SUMMARY).exists() and not checkpoint_path(run, BEST).exists()
        return
    metrics = [h["metrics"]["rank_metric"] for h in validated]
    assert best_epoch == validated[metrics.index(max(metrics))]["epoch"]  # the first epoch with the top metric
    summary = json.loads((run / SUMMARY).read_text())
    assert (summary["best_epoch"], summary["best_metric"]) == (best_epoch + 1, progress["best_metric"])
    assert summary["history"] == [{**h, "epoch": h["epoch"] + 1} for h in progress["history"]]
    assert summary["epochs"] == progress["epoch"]
    best = load_training_state(checkpoint_path(run, BEST))
    assert best["progress"]["epoch"] == best_epoch + 1 and best["progress"]["best_epoch"] == best_epoch
    assert best["metrics"] == validated[metrics.index(max(metrics))]["metrics"]
    exported = read_checkpoint_record(checkpoint_path(run, BEST_OFFICIAL))
    assert exported.epoch == best_epoch
    assert all(torch.equal(exported.state[k], best["ema"][k]) for k in exported.state)
    assert read_checkpoint_record(checkpoint_path(run, LAST_OFFICIAL)).epoch == progress["epoch"] - 1


def assert_same_run(a: Path, b: Path) -> None:
    """The two runs ended with bitwise equal weights, EMA, optimiser moments and history."""
    first, second = (load_training_state(checkpoint_path(run, LAST)) for run in (a, b))
    assert first["iteration"] == second["iteration"] and first["epoch"] == second["epoch"]
    for part in ("model", "ema"):
        assert all(torch.equal(first[part][k], second[part][k]) for k in first[part]), part
    for index, moments in first["optimizer"]["state"].items():
        assert torch.equal(moments["exp_avg"], second["optimizer"]["state"][index]["exp_avg"])
    assert first["progress"] == second["progress"]
    assert json.loads((a / SUMMARY).read_text())["finished"] and json.loads((b / SUMMARY).read_text())["finished"]


def assert_recoverable(run: Path, scratch: Path) -> None:
    """Right after a kill: every file loads, and what the next start does first (redo the steps a
    kill cut short, on a copy here) leaves a consistent directory."""
    assert_loads(run)
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(run, scratch)
    logger = RunLogger(scratch, enabled=True)
    try:
        recover(scratch, load_training_state(checkpoint_path(scratch, LAST)), logger)
    finally:
        logger.close()
    assert_consistent(scratch)


def killed_then_resumed(config: Path, run: Path, kills: list[int], reference: Path) -> None:
    """Kill the run at each fault point index of ``kills`` (counted from its own start), check the
    directory after each kill, then let it finish and compare it with ``reference``."""
    document = load_run_config(config, TINY).document
    for index in [*kills, None]:
        resume = "auto" if checkpoint_path(run, LAST).exists() else None
        if resume is None and run.exists() and run_traces(run, document):
            # killed before its first checkpoint: nothing to continue, and a new run says so
            with pytest.raises(UserError, match="already holds a training run"):
                train(config, run)
            shutil.rmtree(run)
        if index is None:
            train(config, run, resume)
            break
        with faults.registered(kill_at(index)), pytest.raises(Killed):
            train(config, run, resume)
        if checkpoint_path(run, LAST).exists():
            assert_recoverable(run, run.with_name(run.name + "-recovered"))
    assert_consistent(run)
    assert not list(run.rglob(".*.tmp"))
    assert_same_run(run, reference)


# ---------------------------------------------------------------- 1. an earlier run is never overwritten


@pytest.mark.parametrize("trace", ["checkpoints/best.pt", "summary.json", "log.jsonl", "tensorboard", "config.yaml"])
def test_a_new_run_refuses_any_trace_of_an_earlier_run(config, reference, tmp_path, capsys, trace):
    run = tmp_path / "run"
    source = reference[0] / trace
    if source.is_dir():
        shutil.copytree(source, run / trace)
    else:
        (run / trace).parent.mkdir(parents=True)
        shutil.copy(source, run / trace)
        if trace == "config.yaml":  # the config of another run
            text = (run / trace).read_text()
            assert "learning_rate: 0.01" in text
            (run / trace).write_text(text.replace("learning_rate: 0.01", "learning_rate: 0.02"))
    before = snapshot(run)
    fails(capsys, train_args(config, run), str(run), trace + ("/" if source.is_dir() else ""), "--resume auto")
    assert snapshot(run) == before


def test_resume_auto_without_last_pt_refuses_instead_of_starting_over(config, finished, tmp_path, capsys):
    checkpoint_path(finished, LAST).unlink()
    before = snapshot(finished)
    fails(capsys, train_args(config, finished, "--resume", "auto"), "last.pt", "nothing was written")
    assert snapshot(finished) == before
    fails(capsys, train_args(config, tmp_path / "new", "--resume", "auto"), "holds no training run")
    assert not (tmp_path / "new").exists()  # a refused run leaves no directory behind


def test_leftover_temporary_files_are_removed_on_the_next_start(config, finished, capsys):
    leftovers = [checkpoint_path(finished, ".last.pt.0badf00d.tmp"), finished / ".summary.json.0badf00d.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a checkpoint")
    checkpoints = snapshot(finished / "checkpoints")
    with pytest.raises(SystemExit) as exit_info:
        main(train_args(config, finished, "--resume", "auto"))
    assert exit_info.value.code == 0, capsys.readouterr()
    assert not any(path.exists() for path in leftovers)
    assert snapshot(finished / "checkpoints") == {k: v for k, v in checkpoints.items() if not k.endswith(".tmp")}


def test_a_run_saved_by_the_previous_version_resumes(config, reference, tmp_path):
    """Training states written before checksums and the commit order (version 1) still continue,
    and the run ends where an uninterrupted one does."""
    run = tmp_path / "run"
    train_session(config, [*TINY, "opt.early_stop_epochs=1"], run, None, None, SAVE_EVERY, LaunchOptions(),
                  progress=False)
    last = checkpoint_path(run, LAST)
    content = torch.load(last, weights_only=True)
    for key in ("checksum", "track", "total_epochs"):
        del content[key]
    torch.save({**content, "version": 1}, last)
    train(config, run, "auto")
    assert_same_run(run, reference[0])
    assert_consistent(run)


# ---------------------------------------------------------------- 3. a kill at any instant


def save_points(points: list[tuple[str, dict]], epoch: int) -> list[int]:
    """Indices of the before/after-rename points of the save at the end of ``epoch``."""
    end = max(i for i, (name, details) in enumerate(points)
              if name == "after_step" and details["iteration"] == (epoch + 1) * STEPS_PER_EPOCH)
    nxt = [i for i, (name, _) in enumerate(points) if i > end and name == "before_step"]
    stop = nxt[0] if nxt else len(points)
    return [i for i in range(end, stop) if points[i][0] in ("save.before_rename", "save.after_rename")]


@pytest.mark.slow
def test_the_save_that_finds_a_new_best_survives_a_kill_at_every_write_and_rename(config, reference, tmp_path):
    run, points = reference
    assert load_training_state(checkpoint_path(run, LAST))["progress"]["best_epoch"] == 1  # best moves at epoch 1
    indices = save_points(points, epoch=1)
    names = [(points[i][0], points[i][1]["name"]) for i in indices]
    assert [name for _, name in names[::2]] == ["checkpoints/last.pt", "checkpoints/last_official.pth.tar",
                                               "checkpoints/best.pt", "checkpoints/best_official.pth.tar",
                                               "summary.json"]
    for index in indices:
        killed_then_resumed(config, tmp_path / f"killed-{index}", [index], run)


@pytest.mark.slow
def test_kills_at_random_points_over_many_seeds(config, reference, tmp_path):
    """Property: wherever a run is killed (inside saves too), once or twice, the directory loads,
    agrees with itself, and the resumed run ends bitwise equal to the uninterrupted one."""
    run, points = reference
    for seed in range(8):
        rng = random.Random(seed)
        first = rng.randrange(len(points))
        kills = [first] + ([rng.randrange(len(points) - first)] if rng.random() < 0.5 else [])
        killed_then_resumed(config, tmp_path / f"seed-{seed}", kills, run)


# ---------------------------------------------------------------- 4. one writer per run directory


def test_a_second_run_on_the_same_directory_is_refused_naming_the_holder(config, finished, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
         "from trainers.train.run_dir import locked_run_dir\n"
         "with locked_run_dir(Path(sys.argv[1])):\n    print('locked', flush=True)\n    time.sleep(600)\n",
         str(finished)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = snapshot(finished)
        fails(capsys, train_args(config, finished, "--resume", "auto"), str(finished), f"pid {holder.pid}")
        assert snapshot(finished) == before
    finally:
        holder.kill()
        holder.wait()
    # the lock died with its holder: nothing stale is left behind
    with pytest.raises(SystemExit) as exit_info:
        main(train_args(config, finished, "--resume", "auto"))
    assert exit_info.value.code == 0, capsys.readouterr()


# ---------------------------------------------------------------- 6. checksums, and checkpoints that are no checkpoint


def flip_bytes_inside_a_tensor(path: Path, count: int = 64) -> None:
    """Invert ``count`` bytes in the middle of the largest model tensor stored in ``path``."""
    state = torch.load(path, weights_only=True)["model"]
    largest = max(state.values(), key=lambda t: t.numel() * t.element_size())
    data = bytearray(path.read_bytes())
    start = data.find(largest.numpy().tobytes())
    assert start >= 0 and largest.numel() * largest.element_size() >= 2 * count
    middle = start + largest.numel() * largest.element_size() // 2
    data[middle:middle + count] = bytes(b ^ 0xFF for b in data[middle:middle + count])
    path.write_bytes(bytes(data))


def test_flipped_bytes_in_last_pt_are_detected(config, finished, tmp_path, capsys):
    last = checkpoint_path(finished, LAST)
    flip_bytes_inside_a_tensor(last)
    before = snapshot(finished)
    fails(capsys, train_args(config, finished, "--resume", "auto"), str(last), "checksum mismatch")
    fails(capsys, ["infer", "--config", str(config), "--checkpoint", str(last), "--out", str(tmp_path / "p.jsonl")],
          str(last), "checksum mismatch")
    assert snapshot(finished) == before and not (tmp_path / "p.jsonl").exists()


def not_a_checkpoint(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "inputs" / f"{kind}.pt"
    path.parent.mkdir()
    if kind == "text":
        path.write_bytes(b"hello")
    else:  # a training state holding neither weights nor optimiser
        torch.save(with_checksum({"format": TRAIN_STATE_FORMAT, "version": 2, "epoch": 1}), path)
    return path


@pytest.mark.parametrize("kind", ["text", "state-without-model"])
@pytest.mark.parametrize("option", ["--resume", "--init", "infer"])
def test_a_file_that_is_no_checkpoint_is_named(config, tmp_path, capsys, kind, option):
    path = not_a_checkpoint(tmp_path, kind)
    before = snapshot(tmp_path)
    if option == "infer":
        args = ["infer", "--config", str(config), "--checkpoint", str(path), "--out", str(tmp_path / "p.jsonl")]
    else:
        args = train_args(config, tmp_path / "run", option, str(path))
    fails(capsys, args, str(path))
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "p.jsonl").exists() and not (tmp_path / "run").exists()


def rewritten(source: Path, target: Path, change) -> Path:
    """A copy of the training state ``source`` changed by ``change`` and saved with a valid checksum."""
    content = torch.load(source, weights_only=True)
    change(content)
    torch.save(with_checksum(content), target)
    return target


def test_infer_refuses_weights_holding_nan(config, finished, tmp_path, capsys):
    def poison(content: dict) -> None:
        for part in ("model", "ema"):
            content[part]["nlq_cls_head.cls_head.conv.bias"].fill_(float("nan"))

    nan = rewritten(checkpoint_path(finished, BEST), tmp_path / "nan.pt", poison)
    fails(capsys, ["infer", "--config", str(config), "--checkpoint", str(nan), "--out", str(tmp_path / "p.jsonl")],
          str(nan), "nlq_cls_head.cls_head.conv.bias", "NaN")
    assert not (tmp_path / "p.jsonl").exists()


def test_infer_refuses_a_checkpoint_of_another_track(config, finished, tmp_path, capsys):
    best = checkpoint_path(finished, BEST)
    for checkpoint in (best, checkpoint_path(finished, BEST_OFFICIAL)):
        fails(capsys, ["infer", "--config", str(config), "--set", "track=goalstep", "--checkpoint", str(checkpoint),
                       "--out", str(tmp_path / "p.jsonl")], str(checkpoint), "nlq_v2", "goalstep")
    assert not (tmp_path / "p.jsonl").exists()


def test_infer_refuses_a_checkpoint_of_another_model_config(config, finished, tmp_path, capsys):
    best = checkpoint_path(finished, BEST)
    fails(capsys, ["infer", "--config", str(config), "--set", "model.quirks.padding_reaches_convs=false",
                   "--checkpoint", str(best), "--out", str(tmp_path / "p.jsonl")],
          str(best), "padding_reaches_convs")
    assert not (tmp_path / "p.jsonl").exists()


# ---------------------------------------------------------------- devices, output folders, full disks


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda_is_a_preflight_error(config, tmp_path, capsys):
    run = tmp_path / "run"
    fails(capsys, train_args(config, run, "--set", "trainer.device=cuda"), "trainer.device", "cuda")
    assert not run.exists()
    fails(capsys, ["infer", "--config", str(config), "--set", "trainer.device=cuda", "--checkpoint", "x.pt",
                   "--out", str(tmp_path / "p.jsonl")], "trainer.device")


def test_an_out_that_cannot_be_a_run_directory(config, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    fails(capsys, train_args(config, blocker), str(blocker))
    fails(capsys, train_args(config, blocker / "run"), str(blocker / "run"))
    assert blocker.read_text() == "mine"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "read-only"
        locked.mkdir(mode=0o500)
        fails(capsys, train_args(config, locked / "run"), str(locked / "run"))


@pytest.mark.parametrize("where", ["write", "device"])
def test_a_full_disk_during_a_checkpoint_write_keeps_the_previous_checkpoint(config, tmp_path, monkeypatch, capsys,
                                                                              where):
    run = tmp_path / "run"
    train_session(config, [*TINY, "opt.early_stop_epochs=1"], run, None, None, SAVE_EVERY, LaunchOptions(),
                  progress=False)
    before = snapshot(run / "checkpoints") | {SUMMARY: snapshot(run)[SUMMARY]}
    if where == "write":  # the write itself fails
        def disk_full(*args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr("trainers.train.checkpoints.torch.save", disk_full)
    else:  # a device that is always full, where torch.save reports the failed write its own way
        if not Path("/dev/full").exists():
            pytest.skip("needs /dev/full")
        monkeypatch.setattr("trainers.train.checkpoints.open", lambda path, mode: open("/dev/full", "wb"),
                            raising=False)
    fails(capsys, train_args(config, run, "--resume", "auto"), str(checkpoint_path(run, LAST)),
          os.strerror(errno.ENOSPC), "previous file is intact")
    assert snapshot(run / "checkpoints") | {SUMMARY: snapshot(run)[SUMMARY]} == before
    assert not list(run.rglob(".*.tmp"))


# ---------------------------------------------------------------- torchrun: dying workers, a killed launcher


CLI = [sys.executable, "-m", "osgnet_bench"]
HOOK = """
import time

from trainers.train import faults


def _fault(name, details):
    if name == "before_step" and details["rank"] == 1 and details["iteration"] == {iteration}:
        {action}


faults.register(_fault)
"""


def torchrun_env(tmp_path: Path, iteration: int, action: str) -> dict[str, str]:
    """The environment of a launcher whose rank-1 worker runs ``action`` before step ``iteration + 1``."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HOOK.format(iteration=iteration, action=action))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def ddp_args(config: Path, run: Path, *extra: str) -> list[str]:
    return [*train_args(config, run), "--nproc-per-node", "2", "--set", "trainer.init_timeout_s=60", *extra]


@pytest.mark.slow
def test_a_worker_that_dies_is_one_line_naming_its_log(config, tmp_path):
    run = tmp_path / "run"
    env = torchrun_env(tmp_path, 1, 'raise RuntimeError("injected worker failure")')
    completed = subprocess.run([*CLI, *ddp_args(config, run)], env=env, capture_output=True, text=True,
                               timeout=TIMEOUT_S)
    assert completed.returncode == 1
    console = completed.stdout + completed.stderr
    assert "Traceback" not in console and "internal error" not in console, console
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and str(run / "workers.log") in errors[0]
    assert "RuntimeError: injected worker failure" in (run / "workers.log").read_text()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killing_the_launcher_stops_every_worker(config, tmp_path, sig):
    run = tmp_path / "run"
    env = torchrun_env(tmp_path, 2, "time.sleep(3600)")  # rank 1 stalls; rank 0 waits for it
    launcher = subprocess.Popen([*CLI, *ddp_args(config, run, "--set", "trainer.log_every=1")], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(e["event"] == "train" for e in read_events(run)) and time.monotonic() < deadline:
            assert launcher.poll() is None, launcher.communicate()
            time.sleep(0.5)
        workers = descendants(launcher.pid)
        assert len(workers) >= 3  # torchrun and its two workers
        launcher.send_signal(sig)
        _, stderr = launcher.communicate(timeout=TIMEOUT_S)
        deadline = time.monotonic() + 90
        while any(running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [pid for pid in workers if running(pid)]
        if sig == signal.SIGTERM:
            assert launcher.returncode == 128 + signal.SIGTERM
            assert "stopped by SIGTERM" in stderr and "Traceback" not in stderr
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
