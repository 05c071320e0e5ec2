"""The run directory: what it holds, what counts as an earlier run, its lock, and its log.

Layout (written by rank 0; ``checkpoints/`` by :mod:`trainers.train.checkpoints`)::

    config.yaml          the resolved config (written by the launcher)
    log.jsonl            one JSON object per event: train, val, init, resume, recovered
    tensorboard/         the same scalars
    summary.json         epochs, iterations, best metric and epoch, per-epoch metrics, finished
    checkpoints/         last.pt, best.pt, last_official.pth.tar, best_official.pth.tar
    workers.log          torchrun workers' stderr (warnings, tracebacks), appended per launch
    failure.json         the error that ended the workers (torchrun only; cleared per launch)
    .lock                the lock file: the pid of the process that holds the run

Rules:

* **Traces of an earlier run**: any file under ``checkpoints/``, ``summary.json``, ``log.jsonl``,
  a non-empty ``tensorboard/``, or a ``config.yaml`` other than the one about to be written. A new
  run refuses a directory holding any of them (:func:`run_traces`).
* **One writer**: the launcher takes an exclusive OS lock (``flock``) on ``.lock`` before writing
  anything and holds it for the life of the run, workers included. The OS drops it when the
  holder dies, so a crash never leaves a stale lock; a second run is refused, naming the holder's
  pid and host. The launchers of one multi-node job share the lock.
* **Temporary files** (``.NAME.XXXXXXXX.tmp``) left by a save that was killed are removed on the
  next start, under the lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from torch.utils.tensorboard import SummaryWriter

from osgnet_bench.errors import UserError
from trainers.train import faults

CONFIG_FILE = "config.yaml"
SUMMARY = "summary.json"
LOG_FILE = "log.jsonl"
TENSORBOARD_DIR = "tensorboard"
CHECKPOINT_DIR = "checkpoints"
WORKERS_LOG = "workers.log"
FAILURE_FILE = "failure.json"
LOCK_FILE = ".lock"
TEMPORARY_PATTERN = ".*.tmp"

# run directory (resolved) -> [lock file descriptor, holders in this process]
_held: dict[Path, list[int]] = {}


def run_traces(run_dir: Path, config_document: dict | None = None) -> list[str]:
    """The files of ``run_dir`` that show an earlier run (relative names, sorted); a
    ``config.yaml`` equal to ``config_document`` is not one (writing it again changes nothing)."""
    traces = []
    checkpoints = run_dir / CHECKPOINT_DIR
    if checkpoints.is_dir():
        traces += [
            f"{CHECKPOINT_DIR}/{path.name}" for path in checkpoints.iterdir() if not path.match(TEMPORARY_PATTERN)
        ]
    traces += [name for name in (SUMMARY, LOG_FILE) if (run_dir / name).exists()]
    tensorboard = run_dir / TENSORBOARD_DIR
    if tensorboard.is_dir() and any(tensorboard.iterdir()):
        traces.append(f"{TENSORBOARD_DIR}/")
    config = run_dir / CONFIG_FILE
    if config.exists() and (config_document is None or recorded_config(config) != config_document):
        traces.append(CONFIG_FILE)
    return sorted(traces)


def recorded_config(path: Path) -> Any:
    """The YAML in ``path``, or None when it cannot be read (then it differs from any config)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def run_finished(run_dir: Path) -> bool:
    """Whether ``summary.json`` says the run trained all its epochs."""
    try:
        return json.loads((run_dir / SUMMARY).read_text(encoding="utf-8")).get("finished") is True
    except (OSError, ValueError, AttributeError):
        return False


def remove_temporary_files(run_dir: Path) -> list[Path]:
    """Delete the temporary files a killed save left in ``run_dir`` and ``checkpoints/``; returns them."""
    removed = []
    for folder in (run_dir, run_dir / CHECKPOINT_DIR):
        if folder.is_dir():
            for path in folder.glob(TEMPORARY_PATTERN):
                if path.is_file():
                    path.unlink(missing_ok=True)
                    removed.append(path)
    return removed


@contextmanager
def locked_run_dir(run_dir: Path, shared: bool = False) -> Iterator[int]:
    """Hold the lock of ``run_dir`` (created if needed) inside the block; yields the lock file's
    descriptor (pass it to child processes that must keep the lock). Taking it again in the same
    process is allowed (nested blocks share the lock).

    ``shared``: the launchers of one multi-node job (one per node, all given the same ``--out`` on
    a shared filesystem) hold it together; a run on one node is still refused while they do, and
    they while it does.
    """
    created = not run_dir.exists()
    key = _make_dir(run_dir).resolve()
    if key in _held:
        _held[key][1] += 1
        try:
            yield _held[key][0]
        finally:
            _held[key][1] -= 1
        return
    try:
        fd = _acquire(run_dir, shared)
    except UserError:
        _remove_if_unused(run_dir, created)
        raise
    _held[key] = [fd, 1]
    try:
        yield fd
    finally:
        del _held[key]
        _remove_if_unused(run_dir, created)
        os.close(fd)


def _remove_if_unused(run_dir: Path, created: bool) -> None:
    """Remove ``run_dir`` again when this run created it and left nothing in it but the lock file
    (a run refused before it wrote anything leaves no trace)."""
    if not created:
        return
    try:
        if {path.name for path in run_dir.iterdir()} <= {LOCK_FILE}:
            (run_dir / LOCK_FILE).unlink(missing_ok=True)
            run_dir.rmdir()
    except OSError:
        pass


def _make_dir(run_dir: Path) -> Path:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"--out {run_dir} is a file; --out names the run directory. Choose a directory.") from None
    except OSError as exc:
        raise UserError(
            f"--out {run_dir}: the run directory cannot be created ({exc.strerror or exc}). Choose a "
            "directory you can write to."
        ) from None
    if not run_dir.is_dir():
        raise UserError(f"--out {run_dir} is not a directory; --out names the run directory.")
    return run_dir


def _acquire(run_dir: Path, shared: bool) -> int:
    """Open and lock ``run_dir/.lock``, write this pid and host into it; a held lock is a ``UserError``."""
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        raise UserError(
            f"--out {run_dir}: the run directory is not writable ({exc.strerror or exc}); nothing was "
            "written. Choose a directory you can write to."
        ) from None
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as exc:
        holder = _read_holder(fd)
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise UserError(
                f"{run_dir} is in use by another osgnet-bench run ({holder}); two runs must not write "
                "one directory. Wait for it to finish (or stop it), or choose another --out."
            ) from None
        raise UserError(f"{path}: the run directory cannot be locked ({exc.strerror or exc}).") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
    except OSError as exc:
        os.close(fd)
        raise UserError(f"{path}: cannot be written ({exc.strerror or exc}); nothing else was written.") from None
    return fd


def _read_holder(fd: int) -> str:
    """``pid N on HOST`` as the holder wrote it into the lock file."""
    try:
        pid, _, host = os.pread(fd, 300, 0).decode("utf-8", "replace").strip().partition(" ")
    except OSError:
        pid, host = "", ""
    if not pid.isdigit():
        return "pid unknown"
    return f"pid {pid} on {host}" if host else f"pid {pid}"


class RunLogger:
    """Appends one JSON object per event to ``log.jsonl`` and mirrors scalars to TensorBoard.

    On ranks other than 0 every method is a no-op, so the loop can call it unconditionally.
    """

    def __init__(self, run_dir: str | os.PathLike, enabled: bool) -> None:
        self.enabled = enabled
        self.path = Path(run_dir) / LOG_FILE
        self._writer = SummaryWriter(str(Path(run_dir) / TENSORBOARD_DIR)) if enabled else None

    def event(self, kind: str, step: int, **values: Any) -> None:
        """Record ``values`` (scalars are also sent to TensorBoard as ``kind/name``)."""
        if not self.enabled:
            return
        append_event(self.path, {"event": kind, "step": step, "time": time.time(), **values})
        assert self._writer is not None
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self._writer.add_scalar(f"{kind}/{name}", value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def append_event(path: Path, row: dict[str, Any]) -> None:
    """Append one line to the log; a write error (a full disk) is a ``UserError``."""
    faults.point("save.before_append", name=path.name)
    line = (json.dumps(row) + "\n").encode("utf-8")
    try:
        with open(path, "a+b") as handle:
            if handle.seek(0, os.SEEK_END) > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a line cut short by a kill: start on a line of our own
                    line = b"\n" + line
            handle.write(line)
            handle.flush()
    except OSError as exc:
        raise UserError(
            f"{path}: the run's log cannot be written ({exc.strerror or exc}); the checkpoints are "
            "intact. Free some space and continue with --resume auto."
        ) from None
    faults.point("save.after_append", name=path.name)


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """The events of ``log.jsonl`` (a last line cut short by a kill is skipped)."""
    path = run_dir / LOG_FILE
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events
