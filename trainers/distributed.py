"""Running on several processes: the process group and its collectives, starting workers under
torchrun, and how workers report a failure to the launcher. Used by training and inference.

* Process group: under torchrun (``WORLD_SIZE`` > 1) every worker joins one group (CPU: gloo,
  GPU: NCCL); alone, no group is created and the collectives are identities.
* Launch: torchrun (``python -m torch.distributed.run``) is used when more than one process per
  node or any multi-node option is asked for. It restarts the whole worker group up to
  ``max_restarts`` times when a worker dies. The launcher starts torchrun in its own process group
  with the parent-death signal set (Linux), forwards SIGTERM / SIGINT / SIGHUP to it, and each
  worker dies with torchrun: killing the launcher, even with SIGKILL, never leaves workers behind.
  Workers' stdout (the progress bar) goes to the console; their stderr (warnings, tracebacks)
  goes to a log file that the launcher names when something fails.
* Failures: an error a restart cannot fix (bad input, a non-finite loss, a full disk) is written
  to a failure file and the workers exit with status 0, so torchrun does not restart them; the
  launcher then raises it as a ``UserError``.
"""

from __future__ import annotations

import ctypes
import datetime
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch
import torch.distributed as dist

from osgnet_bench.errors import UserError
from osgnet_bench.files import write_json
from osgnet_bench.launch_options import LaunchOptions

PR_SET_PDEATHSIG = 1
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# how long torchrun gets to stop its workers after a forwarded signal before it is killed
STOP_GRACE_S = 60.0


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def restart_count() -> int:
    """How many times torchrun has restarted this worker group (0 on the first attempt)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def check_device(device: str, source: str = "the config") -> None:
    """``trainer.device: cuda`` needs a GPU that torch can use."""
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError(
            f"{source}: trainer.device is cuda but torch sees no CUDA device on this machine "
            f"(torch {torch.__version__}); set trainer.device to cpu or auto (--set trainer.device=auto)."
        )


def init_distributed(device: str = "auto", timeout_s: float = 1800.0) -> DistContext:
    """Join the torchrun job described by the environment, or run alone.

    ``device``: ``auto`` (CUDA when available), ``cpu`` or ``cuda``. The backend follows the
    device: gloo on CPU, NCCL on CUDA.
    """
    check_device(device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if use_cuda else "gloo",
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def set_cpu_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads in this process (0 keeps torch's default)."""
    if threads > 0:
        torch.set_num_threads(threads)


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order (a one-element list when running alone)."""
    if not ctx.distributed:
        return [obj]
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def all_reduce_mean(values: dict[str, float], ctx: DistContext) -> dict[str, float]:
    """Mean of each scalar over ranks (identity when running alone)."""
    if not ctx.distributed or not values:
        return dict(values)
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor)
    tensor /= ctx.world_size
    return dict(zip(keys, tensor.tolist(), strict=True))


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op when running alone)."""
    if ctx.distributed:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    """Leave the process group if one was created."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------- failures reported by workers


def report_failure(path: str | os.PathLike, message: str) -> None:
    """Record ``message`` as the reason the run stopped (atomic; every rank writes the same)."""
    write_json(path, {"error": message})


def clear_failure(path: str | os.PathLike) -> None:
    """Forget a failure left by an earlier launch."""
    Path(path).unlink(missing_ok=True)


def raise_reported_failure(path: str | os.PathLike) -> None:
    """Raise the recorded failure, if any, as a ``UserError``."""
    target = Path(path)
    if not target.exists():
        return
    try:
        message = json.loads(target.read_text(encoding="utf-8")).get("error", "the run failed")
    except (OSError, ValueError, AttributeError):
        message = f"the workers reported a failure that cannot be read back ({target})"
    raise UserError(message)


def run_worker(work: Callable[[], Any], failure_file: str | os.PathLike) -> int:
    """A worker's main: die with torchrun, run ``work``, and record a ``UserError`` in
    ``failure_file`` instead of exiting non-zero (so torchrun does not restart the group)."""
    die_with_parent()
    try:
        work()
    except UserError as exc:
        report_failure(failure_file, str(exc))
    return 0


# ---------------------------------------------------------------- launching workers under torchrun


def torchrun_command(options: LaunchOptions, module: str, args: list[str]) -> list[str]:
    """The torchrun command line that runs ``python -m module args`` on every rank."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc-per-node={options.nproc_per_node}",
        f"--max-restarts={options.max_restarts}",
    ]
    if options.rdzv_endpoint is not None:
        command += [
            f"--nnodes={options.nnodes or 1}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={options.rdzv_endpoint}",
            f"--rdzv-id={options.rdzv_id}",
        ]
    else:
        command += ["--standalone", f"--nnodes={options.nnodes or 1}"]
    return command + ["-m", module, *args]


def run_torchrun(
    options: LaunchOptions,
    module: str,
    args: list[str],
    failure_file: str | os.PathLike,
    log_file: str | os.PathLike,
    keep_fds: Sequence[int] = (),
) -> None:
    """Run the workers under torchrun and wait; a reported failure, a failed worker group or a
    signal that stopped the launcher is a ``UserError``.

    The workers' stderr is appended to ``log_file``; ``keep_fds`` stay open in torchrun (the run
    directory's lock, held until the last worker is gone).
    ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` lets restarted CPU (gloo) workers rendezvous again.
    """
    clear_failure(failure_file)
    env = dict(os.environ)
    env.setdefault("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    command = torchrun_command(options, module, args)
    log = _open_log(log_file, command)
    received: list[int] = []
    try:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=_console(),
            stderr=log,
            start_new_session=True,
            pass_fds=tuple(keep_fds),
            preexec_fn=_parent_death_signal(signal.SIGTERM),
        )
    except OSError as exc:
        log.close()
        raise UserError(f"could not start torchrun ({exc}).") from None
    with log, _forwarding_signals(process, received):
        returncode = _wait(process, received)
    if received:
        name = signal.Signals(received[0]).name
        raise UserError(
            f"stopped by {name}: the workers were stopped (their output is in {log_file}); the files "
            "written so far are kept.",
            exit_code=128 + received[0],
        )
    raise_reported_failure(failure_file)
    if returncode != 0:
        raise UserError(
            f"a worker process failed (torchrun exit status {returncode}, after {options.max_restarts} "
            f"restart(s)); its output, with the error, is in {log_file}. Files written so far are in "
            f"{Path(failure_file).parent}."
        )


def _open_log(path: str | os.PathLike, command: list[str]) -> IO[bytes]:
    """``path`` opened for appending, with a header line for this launch."""
    try:
        log = open(path, "ab")  # noqa: SIM115 - closed by the caller once torchrun has exited
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        log.write(f"==== {stamp} {' '.join(command)}\n".encode())
        log.flush()
    except OSError as exc:
        raise UserError(f"{path}: the workers' log cannot be written ({exc.strerror or exc}).") from None
    return log


def _console() -> int | None:
    """The launcher's stderr for the workers' stdout (None: inherit, where stderr has no descriptor)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _wait(process: subprocess.Popen, received: list[int]) -> int:
    """Wait for torchrun; after a forwarded signal give it ``STOP_GRACE_S`` to stop its workers."""
    while True:
        try:
            return process.wait(timeout=STOP_GRACE_S if received else 1.0)
        except subprocess.TimeoutExpired:
            if received:
                _signal_group(process, signal.SIGKILL)
                return process.wait()


@contextmanager
def _forwarding_signals(process: subprocess.Popen, received: list[int]) -> Iterator[None]:
    """Inside the block, SIGTERM / SIGINT / SIGHUP of the launcher are sent on to torchrun's process
    group as SIGTERM (torchrun then stops its workers) and recorded in ``received``; leaving the
    block by an exception stops torchrun too."""

    def forward(signum: int, frame: Any) -> None:
        received.append(signum)
        _signal_group(process, signal.SIGTERM)

    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in FORWARDED_SIGNALS:
            previous[sig] = signal.signal(sig, forward)
    except ValueError:  # not the main thread: there is nothing to forward from
        pass
    try:
        yield
    except BaseException:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            _wait(process, [signal.SIGTERM])
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this process dies (Linux), and
    exit at once if this process is already gone."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def set_signal() -> None:
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return set_signal


def die_with_parent() -> None:
    """Make this process (a worker) receive SIGKILL when its parent (torchrun) dies, on Linux, and
    exit if the parent is already gone; a no-op elsewhere and outside torchrun."""
    prctl = _prctl()
    if prctl is None or "TORCHELASTIC_RUN_ID" not in os.environ:
        return
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)


def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
