"""What ``osgnet-bench train`` and ``infer`` do: check everything, then run the workers (in this
process, or under torchrun) and collect their results."""

from __future__ import annotations

import json
import os
from pathlib import Path

from osgnet_bench.errors import UserError
from trainers.config import load_run_config
from trainers.infer import open_inference_dataset, run_inference, split_records
from trainers.train.distributed import init_distributed
from trainers.train.launch import LaunchOptions, run_torchrun
from trainers.train.loop import SUMMARY, TrainRequest
from trainers.train.preflight import check_weights, prepare_training_run
from trainers.train.worker import FAILURE_FILE, train


def train_session(config_path: str | os.PathLike, overrides: list[str], run_dir: Path, resume: str | None,
                  init: str | None, save_every: int | None, options: LaunchOptions,
                  progress: bool = True) -> dict:
    """Train in ``run_dir``; returns its ``summary.json``."""
    options.check()
    if save_every is not None and save_every < 0:
        raise UserError(f"--save-every must be 0 or more, got {save_every}.")
    prepare_training_run(config_path, overrides, run_dir, resume, init)
    if options.uses_torchrun:
        args = ["--run-dir", str(run_dir.resolve())]
        for flag, value in (("--resume", resume), ("--init", init), ("--save-every", save_every)):
            if value is not None:
                args += [flag, str(value)]
        if not progress:
            args.append("--no-progress")
        run_torchrun(options, "trainers.train.worker", args, run_dir / FAILURE_FILE)
    else:
        train(TrainRequest(run_dir=run_dir, resume=resume, init=init, save_every=save_every, progress=progress))
    return json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))


def infer_session(config_path: str | os.PathLike, overrides: list[str], checkpoint: str | os.PathLike, split: str,
                  jsonl: str | os.PathLike | None, out: Path, options: LaunchOptions, progress: bool = True) -> Path:
    """Predict ``split`` with ``checkpoint`` into ``out`` (predictions jsonl); returns ``out``."""
    options.check()
    config = load_run_config(config_path, overrides)
    records, source = split_records(config.dataset, split, jsonl)
    open_inference_dataset(config.dataset, records, source)
    check_weights(config, checkpoint)
    if options.uses_torchrun:
        args = ["--config", str(Path(config_path).resolve()), "--checkpoint", str(Path(checkpoint).resolve()),
                "--split", split, "--out", str(out.resolve())]
        for override in overrides:
            args += ["--set", override]
        if jsonl is not None:
            args += ["--jsonl", str(Path(jsonl).resolve())]
        run_torchrun(options, "trainers.infer", args, out.with_name(out.name + ".failure.json"))
    else:
        run_inference(config, checkpoint, split, out, jsonl, init_distributed(config.trainer.device),
                      progress=progress)
    return out
