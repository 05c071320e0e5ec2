"""torchrun's process layout, as the ``train``, ``infer`` and ``run`` commands take it.

Torch-free, so the command line reads its option defaults from here without importing torch;
``trainers.distributed`` turns it into a torchrun command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from osgnet_bench.errors import UserError


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
            raise UserError(
                f"--nnodes {self.nnodes} needs --rdzv-endpoint HOST:PORT (the rendezvous every node joins)."
            )
