"""Worker entry of ``osgnet-bench train`` under torchrun, one process per rank::

    python -m trainers.train --run-dir DIR [--resume auto|PATH] [--init PATH] [--save-every N] [--no-progress]

The run directory must hold ``config.yaml`` (the launcher writes the resolved config there). A
``UserError`` is recorded in ``failure.json`` for the launcher instead of failing the worker.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainers.distributed import run_worker
from trainers.train.launch import train
from trainers.train.loop import TrainRequest
from trainers.train.run_dir import FAILURE_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainers.train")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", default=None)
    parser.add_argument("--init", default=None)
    parser.add_argument("--save-every", type=int, default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    request = TrainRequest(
        run_dir=Path(args.run_dir),
        resume=args.resume,
        init=args.init,
        save_every=args.save_every,
        progress=not args.no_progress,
    )
    return run_worker(lambda: train(request, console=sys.stdout), Path(args.run_dir) / FAILURE_FILE)


if __name__ == "__main__":
    sys.exit(main())
