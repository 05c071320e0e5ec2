"""Where a training run starts: the checks that run before anything is written, the run
directory taken for this run, and the workers started (in this process, or under torchrun).

Order in :func:`train_session`: parse the config, check the options, the device, the weights to
start from and every data path, store key and feature width (nothing is written); lock the run
directory (``.lock``, held until the workers are gone; a directory this run created is removed
again if it is refused); remove the temporary files of a killed save; refuse a directory holding
another run, or ``--resume auto`` without ``checkpoints/last.pt``; check the training state to
resume from; write ``config.yaml``; run the workers. Every problem is a
``UserError`` raised in the launching process, so a bad input never starts (and never restarts)
a torchrun job.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import IO

import torch

from osgnet_bench.errors import UserError
from osgnet_bench.launch_options import LaunchOptions
from osgnet_bench.paths import same_file
from trainers.config import RunConfig, load_run_config
from trainers.data.dataset import GroundingDataset
from trainers.distributed import DistContext, check_device, init_distributed, run_torchrun, shutdown
from trainers.infer import open_inference_dataset, resolve_track, split_records
from trainers.model.checkpoint import MAX_LISTED, check_state_dict
from trainers.model.partial_load import MIS_SHAPED, check_matching
from trainers.model.summary import build_on_meta
from trainers.train.checkpoints import LAST, checkpoint_path, load_training_state
from trainers.train.loop import Progress, Trainer, TrainRequest
from trainers.train.run_dir import (
    CONFIG_FILE,
    FAILURE_FILE,
    SUMMARY,
    WORKERS_LOG,
    locked_run_dir,
    remove_temporary_files,
    run_traces,
)
from trainers.train.validation import load_ground_truth

WORKER_MODULE = "trainers.train"
# the exit code of a launcher stopped by Ctrl-C (SIGINT), as shells report it
INTERRUPTED_EXIT_CODE = 128 + signal.SIGINT


def train_session(
    config_path: str | os.PathLike,
    overrides: list[str],
    run_dir: Path,
    resume: str | None,
    init: str | None,
    save_every: int | None,
    options: LaunchOptions,
    progress: bool = True,
) -> dict:
    """Train in ``run_dir`` (see the module docstring); returns its ``summary.json``."""
    options.check()
    if save_every is not None and save_every < 0:
        raise UserError(f"--save-every must be 0 or more, got {save_every}.")
    if resume is not None and init is not None:
        raise UserError("--resume continues a run and --init starts a new one from weights; give only one.")
    config = load_run_config(config_path, overrides)
    check_device(config.trainer.device, config.source)
    if init is not None:
        check_init_weights(config, init)
    check_training_data(config)
    with locked_run_dir(run_dir, shared=options.rdzv_endpoint is not None) as lock:
        remove_temporary_files(run_dir)
        resume = check_start(run_dir, config, resume)
        config.dump(run_dir / CONFIG_FILE)
        try:
            if options.uses_torchrun:
                args = ["--run-dir", str(run_dir.resolve())]
                for flag, value in (("--resume", resume), ("--init", init), ("--save-every", save_every)):
                    if value is not None:
                        args += [flag, str(value)]
                if not progress:
                    args.append("--no-progress")
                run_torchrun(
                    options, WORKER_MODULE, args, run_dir / FAILURE_FILE, run_dir / WORKERS_LOG, keep_fds=(lock,)
                )
            else:
                train(TrainRequest(run_dir=run_dir, resume=resume, init=init, save_every=save_every, progress=progress))
        except KeyboardInterrupt:
            print(f"\n{resume_hint(run_dir)}", file=sys.stderr, flush=True)
            raise
        except UserError as exc:
            if exc.exit_code != INTERRUPTED_EXIT_CODE:
                raise
            raise UserError(f"{exc} {resume_hint(run_dir)}", exit_code=exc.exit_code) from None
    return json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))


def resume_hint(run_dir: Path) -> str:
    """One line after Ctrl-C: how to continue the run in ``run_dir`` (or why it cannot be)."""
    out = shlex.quote(str(run_dir))
    if checkpoint_path(run_dir, LAST).exists():
        return (
            f"Interrupted; the run is saved up to its last checkpoint. To continue it, run the same "
            f"command again with --resume auto --out {out}"
        )
    return (
        f"Interrupted before the first checkpoint, so --resume auto has nothing to continue in {out}; "
        "remove that folder (or choose another --out) to start again."
    )


def train(request: TrainRequest, ctx: DistContext | None = None, console: IO[str] | None = None) -> Progress:
    """Train in ``request.run_dir`` (whose ``config.yaml`` the launcher wrote); joins the torchrun
    job (or runs alone) unless ``ctx`` is given."""
    config = load_run_config(Path(request.run_dir) / CONFIG_FILE)
    own_ctx = ctx is None
    ctx = ctx or init_distributed(config.trainer.device, config.trainer.init_timeout_s)
    try:
        return Trainer(config, request, ctx, console).fit()
    finally:
        if own_ctx:
            shutdown(ctx)


def check_start(run_dir: Path, config: RunConfig, resume: str | None) -> str | None:
    """How this run starts in ``run_dir``: None (new), ``"auto"`` (its ``last.pt``) or another
    training state; refuses to start where that would write over an earlier run."""
    last = checkpoint_path(run_dir, LAST)
    if resume is not None and resume != "auto" and same_file(resume, last):
        resume = "auto"
    traces = run_traces(run_dir, config.document)
    shown = ", ".join(traces[:MAX_LISTED])
    if resume == "auto":
        if last.exists():
            check_training_state(config, last)
            return resume
        if traces:
            raise UserError(
                f"--resume auto: {run_dir} holds files of a run ({shown}) but no {last} to continue "
                "from (the run stopped before its first checkpoint, or the file was moved); nothing "
                "was written. Choose another --out, or move those files away to start over."
            )
        raise UserError(
            f"--resume auto: {run_dir} holds no training run to continue (no {last}); drop --resume to start one."
        )
    if traces:
        how = (
            "pass --resume auto to continue it, or choose another --out"
            if resume is None
            else f"continuing from {resume} needs an --out of its own"
        )
        raise UserError(
            f"{run_dir} already holds a training run ({shown}); nothing was written. To keep it intact, {how}."
        )
    if resume is not None:
        check_training_state(config, resume)
    return resume


def check_training_data(config: RunConfig) -> None:
    """Open the train and validation sets and the ground truth (every store key and the feature
    widths are checked)."""
    train_set = GroundingDataset.from_config(config.dataset, "train", seed=config.seed)
    check_class_table(config, train_set)
    records, source = split_records(config.dataset, "val")
    dataset = open_inference_dataset(config.dataset, records, source)
    load_ground_truth(config.dataset, resolve_track(config.track_name, dataset.records))


def check_class_table(config: RunConfig, dataset: GroundingDataset) -> None:
    """The class-name embeddings must be as wide as the object stem's input."""
    table = dataset.sources.class_table
    expected = config.model.object_stem.in_dim
    if isinstance(table, torch.Tensor) and int(table.shape[1]) != expected:
        raise UserError(
            f"the class-name table {config.dataset.classname_feat_dir} holds {int(table.shape[1])}-d "
            f"embeddings but model.obj_encoder_cfg[0].layer_cfg.n_in is {expected}."
        )


def check_init_weights(config: RunConfig, path: str | os.PathLike) -> None:
    """``path`` can start the configured model: tensors the checkpoint lacks start fresh and
    tensors the model lacks are ignored (a pretrained model has no object or VTM parts), but a
    tensor both have with different shapes is an error, as in the reference."""
    report = check_matching(build_on_meta(config.model), path)
    mis_shaped = report.names(MIS_SHAPED)
    if mis_shaped:
        listed = ", ".join(
            f"{name} (checkpoint {report.shapes[name][0]}, model {report.shapes[name][1]})"
            for name in mis_shaped[:MAX_LISTED]
        )
        more = f" and {len(mis_shaped) - MAX_LISTED} more" if len(mis_shaped) > MAX_LISTED else ""
        raise UserError(
            f"{path}: checkpoint does not match the model config; {len(mis_shaped)} tensor(s) have "
            f"another shape: {listed}{more}. Check that --config describes the model to start from."
        )


def check_training_state(config: RunConfig, path: str | os.PathLike) -> None:
    """``path`` is a complete training state whose model fits the configured model."""
    if not Path(path).is_file():
        raise UserError(f"--resume {path}: no such training-state file.")
    state = load_training_state(path)
    check_state_dict(build_on_meta(config.model).state_dict(), state["model"], str(path))
