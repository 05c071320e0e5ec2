"""Process-group set-up for torchrun (CPU: gloo, GPU: NCCL) and the collectives the loop needs.

Without torchrun (``WORLD_SIZE`` unset or 1) everything degrades to a single process and no
process group is created.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


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


def init_distributed(device: str = "auto", timeout_s: float = 1800.0) -> DistContext:
    """Join the torchrun job described by the environment, or run alone.

    ``device``: ``auto`` (CUDA when available), ``cpu`` or ``cuda``. The backend follows the
    device: gloo on CPU, NCCL on CUDA.
    """
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
    return dict(zip(keys, tensor.tolist()))


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op when running alone)."""
    if ctx.distributed:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    """Leave the process group if one was created."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
