"""Worker entry of ``osgnet-bench train``: one process per rank under torchrun, or called in-process.

    python -m trainers.train.worker --run-dir DIR [--resume auto|PATH] [--init PATH] [--save-every N]

The run directory must hold ``config.yaml`` (the launcher writes the resolved config there).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from osgnet_bench.errors import UserError
from trainers.config import load_run_config
from trainers.train.distributed import DistContext, init_distributed, shutdown
from trainers.train.failure import report_failure
from trainers.train.loop import CONFIG_FILE, Progress, Trainer, TrainRequest

FAILURE_FILE = "failure.json"


def train(request: TrainRequest, ctx: DistContext | None = None) -> Progress:
    """Train in ``request.run_dir``; joins the torchrun job (or runs alone) unless ``ctx`` is given."""
    config = load_run_config(Path(request.run_dir) / CONFIG_FILE)
    own_ctx = ctx is None
    ctx = ctx or init_distributed(config.trainer.device, config.trainer.init_timeout_s)
    try:
        return Trainer(config, request, ctx).fit()
    finally:
        if own_ctx:
            shutdown(ctx)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainers.train.worker")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", default=None)
    parser.add_argument("--init", default=None)
    parser.add_argument("--save-every", type=int, default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    request = TrainRequest(run_dir=Path(args.run_dir), resume=args.resume, init=args.init,
                           save_every=args.save_every, progress=not args.no_progress)
    try:
        train(request)
    except UserError as exc:
        report_failure(Path(args.run_dir) / FAILURE_FILE, str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
