"""Starting workers: in this process (one process, no torchrun) or through torchrun.

torchrun (``python -m torch.distributed.run``) is used when more than one process per node is
asked for or any multi-node option is given. It restarts the whole worker group up to
``max_restarts`` times when a worker dies; the restarted workers resume from the last checkpoint.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from osgnet_bench.errors import UserError
from trainers.train.failure import clear_failure, raise_reported_failure


@dataclass(frozen=True)
class LaunchOptions:
    """torchrun's process layout. ``nnodes`` is a count or ``MIN:MAX``; with ``rdzv_endpoint``
    (``host:port`` of the c10d rendezvous) the job spans machines, else it is ``--standalone``."""

    nproc_per_node: int = 1
    nnodes: str | None = None
    rdzv_endpoint: str | None = None
    rdzv_id: str = "osgnet-bench"
    max_restarts: int = 0

    @property
    def uses_torchrun(self) -> bool:
        return self.nproc_per_node > 1 or self.nnodes is not None or self.rdzv_endpoint is not None

    def check(self) -> None:
        if self.nproc_per_node < 1:
            raise UserError(f"--nproc-per-node must be at least 1, got {self.nproc_per_node}.")
        if self.max_restarts < 0:
            raise UserError(f"--max-restarts must be 0 or more, got {self.max_restarts}.")
        if self.nnodes is not None and self.nnodes not in ("1", "1:1") and self.rdzv_endpoint is None:
            raise UserError(f"--nnodes {self.nnodes} needs --rdzv-endpoint HOST:PORT (the rendezvous every node joins).")


def torchrun_command(options: LaunchOptions, module: str, args: list[str]) -> list[str]:
    """The torchrun command line that runs ``python -m module args`` on every rank."""
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={options.nproc_per_node}",
               f"--max-restarts={options.max_restarts}"]
    if options.rdzv_endpoint is not None:
        command += [f"--nnodes={options.nnodes or 1}", "--rdzv-backend=c10d",
                    f"--rdzv-endpoint={options.rdzv_endpoint}", f"--rdzv-id={options.rdzv_id}"]
    else:
        command += ["--standalone", f"--nnodes={options.nnodes or 1}"]
    return command + ["-m", module, *args]


def run_torchrun(options: LaunchOptions, module: str, args: list[str], failure_file: str | os.PathLike) -> None:
    """Run the workers under torchrun; a reported failure or a failed worker group is a ``UserError``.

    ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` lets restarted CPU (gloo) workers rendezvous again.
    """
    clear_failure(failure_file)
    env = dict(os.environ)
    env.setdefault("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    try:
        completed = subprocess.run(torchrun_command(options, module, args), env=env, check=False)
    except OSError as exc:
        raise UserError(f"could not start torchrun ({exc}).") from None
    raise_reported_failure(failure_file)
    if completed.returncode != 0:
        raise UserError(f"the workers failed (torchrun exit status {completed.returncode}) after "
                        f"{options.max_restarts} restart(s); see the worker output above. Files so far are in "
                        f"{Path(failure_file).parent}.")
