"""Training samples/s and inference queries/s of the built-in trainer on CPU: 1 process vs 2.

Generates the demo's synthetic NLQ dataset (larger validation split), then trains the demo model
(``osgnet_bench/workflows/demo.yaml``) for ``--epochs`` epochs through ``osgnet-bench train``: one
process with one thread and two torchrun processes (DDP, gloo) with one thread each, plus, with
``--two-threads``, one process with two intra-op threads (very slow on a busy machine: threads
of tiny ops contend with every other process). Throughputs are read from each run's ``log.jsonl``: training
samples/s over the last epoch (all ranks together, start-up excluded) and validation queries/s
(sharded inference of the EMA model). Usage::

    python bench/train_throughput.py                # 2 epochs per layout
    python bench/train_throughput.py --epochs 3 --out /path/to/scratch
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from osgnet_bench.cli import cli
from osgnet_bench.workflows.demo import prepare_demo

ONE = ("1 process, 1 thread", 1, 1)
TWO = ("2 processes, 1 thread each", 2, 1)
TWO_THREADS = ("1 process, 2 threads", 1, 2)


def train_once(config: Path, run_dir: Path, processes: int, threads: int, epochs: int) -> dict:
    """Train one layout; returns its throughputs and wall time."""
    args = [
        "train",
        "--config",
        str(config),
        "--out",
        str(run_dir),
        "--nproc-per-node",
        str(processes),
        "--set",
        f"opt.epochs={epochs}",
        "--set",
        "opt.warmup_epochs=0",
        "--set",
        f"trainer.cpu_threads={threads}",
    ]
    started = time.perf_counter()
    result = CliRunner().invoke(cli, args)
    if result.exit_code != 0:
        raise SystemExit(f"training failed: {result.exception}\n{result.output}")
    wall = time.perf_counter() - started
    events = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    last_epoch = max(e["epoch"] for e in events if e["event"] == "train")
    train = [e for e in events if e["event"] == "train" and e["epoch"] == last_epoch][-1]
    val = [e for e in events if e["event"] == "val"][-1]
    return {"samples_per_s": train["samples_per_s"], "queries_per_s": val["queries_per_s"], "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per layout (the last one is measured)")
    parser.add_argument("--out", type=Path, default=None, help="scratch directory (default: a temporary one)")
    parser.add_argument("--two-threads", action="store_true", help="also time one process with two threads")
    args = parser.parse_args()
    layouts = (ONE, TWO, TWO_THREADS) if args.two_threads else (ONE, TWO)
    scratch = args.out or Path(tempfile.mkdtemp(prefix="train-throughput-"))
    config = prepare_demo(scratch / "demo", "nlq", videos=60)
    rows = {
        name: train_once(config, scratch / f"run-{processes}x{threads}", processes, threads, args.epochs)
        for name, processes, threads in layouts
    }
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"demo model, synthetic NLQ, batch 4 per process, {args.epochs} epochs"
    )
    header = f"{'':24}" + "".join(f"{name:>28}" for name in rows)
    print(header)
    for key, label in (
        ("samples_per_s", "train samples/s"),
        ("queries_per_s", "inference queries/s"),
        ("wall_s", "wall time incl. start-up s"),
    ):
        print(f"{label:24}" + "".join(f"{row[key]:28.1f}" for row in rows.values()))
    base, two = rows[ONE[0]], rows[TWO[0]]
    print(
        f"2 processes vs 1: training x{two['samples_per_s'] / base['samples_per_s']:.2f}, "
        f"inference x{two['queries_per_s'] / base['queries_per_s']:.2f}"
    )


if __name__ == "__main__":
    main()
