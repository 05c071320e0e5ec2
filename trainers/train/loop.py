"""The training loop (:class:`Trainer`): one DDP wrapper for the whole run, per-iteration warm-up +
cosine, EMA, gradient clipping, validation on gathered predictions, and full-state checkpoints
that a restarted worker resumes from.

What the run directory holds is in :mod:`trainers.train.run_dir`, how a checkpoint is written in
:mod:`trainers.train.checkpoints`, how workers are started in :mod:`trainers.train.launch`.

Seeds and determinism (pipeline.md §4.7, §8.4): every rank seeds python, numpy and torch with the
config's seed, builds the same initial weights (and EMA copy), then reseeds with ``seed + rank``
for its own draws (drop-path). The reference disabled cuDNN and forced deterministic algorithms
on every run; here ``trainer.deterministic`` turns that on, and off nothing slows the run down.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from osgnet_bench.errors import UserError
from osgnet_bench.progress import progress_display
from trainers.config import RunConfig
from trainers.data.dataset import GroundingDataset
from trainers.data.loader import collate_samples, seed_worker, without_worker_tracebacks
from trainers.distributed import DistContext, all_reduce_mean, barrier, gather_objects, restart_count, set_cpu_threads
from trainers.infer import open_inference_dataset, predict, resolve_track, split_records
from trainers.model.checkpoint import check_state_dict
from trainers.model.osgnet import OSGNet
from trainers.model.partial_load import load_matching
from trainers.train import faults
from trainers.train.batches import SkipFirstBatches, training_batches
from trainers.train.checkpoints import (
    LAST,
    checkpoint_path,
    commit_save,
    load_training_state,
    recover,
    restore_rng_state,
    rng_state,
    shown_epoch,
    training_state_content,
)
from trainers.train.optimisation import ModelEma, WarmupCosineSchedule, make_optimizer
from trainers.train.run_dir import RunLogger, remove_temporary_files
from trainers.train.validation import load_ground_truth, score


class NonFiniteLossError(UserError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainRequest:
    """What to do in ``run_dir``: ``resume`` is None (fresh; a torchrun restart still resumes),
    ``"auto"`` (``checkpoints/last.pt``) or a training-state path; ``init`` is a weights-only
    checkpoint (ours or official) to start from."""

    run_dir: Path
    resume: str | None = None
    init: str | None = None
    save_every: int | None = None
    progress: bool = True


@dataclass
class Progress:
    """Counters that a checkpoint must restore."""

    epoch: int = 0  # epochs fully completed
    iteration: int = 0  # optimiser steps in total
    epoch_iteration: int = 0  # optimiser steps inside the current epoch
    best_metric: float | None = None
    best_epoch: int | None = None
    history: list[dict] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_determinism(deterministic: bool) -> None:
    """Require deterministic kernels (and set the cuBLAS workspace they need), or allow the fast ones."""
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)


def resume_source(request: TrainRequest) -> Path | None:
    """The training state to continue from, or None for a fresh start (the launcher has checked
    that ``--resume auto`` has a ``last.pt``)."""
    last = checkpoint_path(request.run_dir, LAST)
    if request.resume is None:
        return last if restart_count() > 0 and last.exists() else None
    if request.resume == "auto":
        return last
    return Path(request.resume)


class Trainer:
    """Builds everything from a :class:`RunConfig` and trains; see the module docstring.

    ``console``: where rank 0 shows progress (stderr in-process; a torchrun worker's stdout,
    which the launcher sends to its console).
    """

    def __init__(
        self, config: RunConfig, request: TrainRequest, ctx: DistContext, console: IO[str] | None = None
    ) -> None:
        self.config = config
        self.request = request
        self.ctx = ctx
        self.console = console or sys.stderr
        self.run_dir = Path(request.run_dir)
        self.batch_size = config.loader.batch_size
        self.total_epochs = config.optim.total_epochs
        self.save_every = request.save_every if request.save_every is not None else config.trainer.save_every
        configure_determinism(config.trainer.deterministic)
        set_cpu_threads(config.trainer.cpu_threads)
        self._open_data()
        seed_everything(config.seed)  # the same initial weights (and EMA copy) on every rank
        self.model = OSGNet(config.model)
        init_report = load_matching(self.model, request.init) if request.init else None
        self.model.to(ctx.device)
        self.ema = ModelEma(self.model, config.trainer.ema_decay)
        seed_everything(config.seed + ctx.rank)  # then rank-specific draws (drop-path)
        self._make_optimisation()
        self.progress = Progress()
        self.logger = RunLogger(self.run_dir, enabled=ctx.is_main)
        source = resume_source(request)
        if source is not None:
            self.resume_from(source)
        # one wrapper for the whole run; the VTM and object branches can sit idle for a batch
        self.ddp = DistributedDataParallel(self.model, find_unused_parameters=True) if ctx.distributed else self.model
        if init_report is not None:
            if ctx.is_main and request.progress:
                tqdm.write(init_report.render(), file=self.console)
            self.logger.event("init", 0, source=str(request.init), **init_report.counts())
        if source is not None:
            self.logger.event(
                "resume",
                self.progress.iteration,
                source=str(source),
                epoch=self.progress.epoch + 1,
                restart=restart_count(),
            )

    def _open_data(self) -> None:
        """Training set and its batch sampler, validation set, track and ground truth."""
        config, ctx = self.config, self.ctx
        self.train_set = GroundingDataset.from_config(config.dataset, "train", seed=config.seed)
        val_records, val_source = split_records(config.dataset, "val")
        self.val_set = open_inference_dataset(config.dataset, val_records, val_source)
        self.track = resolve_track(config.track_name, self.val_set.records)
        self.gt_records, self.gt_source = load_ground_truth(config.dataset, self.track)
        self.batch_sampler = training_batches(
            self.train_set,
            self.batch_size,
            config.loader.num_workers,
            config.seed,
            num_replicas=ctx.world_size,
            rank=ctx.rank,
        )
        self.iters_per_epoch = len(self.batch_sampler)
        if self.iters_per_epoch == 0:
            raise UserError(
                f"{config.dataset.train_jsonl_file}: {len(self.train_set)} training queries give no full "
                f"batch of {self.batch_size} per process over {ctx.world_size} process(es)."
            )

    def _make_optimisation(self) -> None:
        """AdamW (lr scaled by the world size when ``trainer.scale_lr``) and the per-iteration schedule."""
        optim = self.config.optim
        scale = self.ctx.world_size if self.config.trainer.scale_lr else 1
        self.optimizer = make_optimizer(self.model, optim, lr_scale=scale)
        self.schedule = WarmupCosineSchedule(
            self.optimizer,
            optim.warmup_epochs * self.iters_per_epoch,
            (optim.epochs + optim.warmup_epochs) * self.iters_per_epoch,
            optim.eta_min,
        )

    def resume_from(self, path: Path) -> None:
        """Restore weights, EMA, optimiser, schedule, counters and RNG states from ``path``. When
        ``path`` is this run's ``last.pt``, rank 0 first removes what a killed save left behind and
        redoes its missing steps (:func:`trainers.train.checkpoints.recover`)."""
        state = load_training_state(path)
        if self.ctx.is_main and path == checkpoint_path(self.run_dir, LAST):
            remove_temporary_files(self.run_dir)
            recover(self.run_dir, state, self.logger)
        barrier(self.ctx)
        check_state_dict(self.model.state_dict(), state["model"], str(path))
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.progress = Progress(**state["progress"])
        rngs = state["rng"]
        if len(rngs) == self.ctx.world_size:
            restore_rng_state(rngs[self.ctx.rank])
        else:
            seed_everything(self.config.seed + self.ctx.rank + 7919 * self.progress.iteration)

    def fit(self) -> Progress:
        """Train the remaining epochs; returns the final counters and metrics."""
        try:
            for epoch in range(self.progress.epoch, self.total_epochs):
                self.train_epoch(epoch)
                metrics, rate = self.validate(epoch) if epoch >= self.config.val_start_epoch else (None, None)
                self.progress.epoch = epoch + 1
                self.progress.epoch_iteration = 0
                metric = None if metrics is None else metrics["rank_metric"]
                improved = metric is not None and (
                    self.progress.best_metric is None or metric > self.progress.best_metric
                )
                if improved:
                    self.progress.best_metric = metric
                    self.progress.best_epoch = epoch
                self.progress.history.append({"epoch": epoch, "iteration": self.progress.iteration, "metrics": metrics})
                self.save(epoch_end=True, improved=improved, val_values={"queries_per_s": rate})
        finally:
            self.logger.close()
        return self.progress

    def loader(self, epoch: int) -> DataLoader:
        """This epoch's batches, minus the ``epoch_iteration`` first ones a resumed run already
        trained on (the batch order depends only on seed and epoch)."""
        self.batch_sampler.set_epoch(epoch)
        self.train_set.set_epoch(epoch)
        batches = SkipFirstBatches(self.batch_sampler, self.progress.epoch_iteration)
        generator = torch.Generator().manual_seed(self.config.seed + 1000003 * epoch + self.ctx.rank)
        return DataLoader(
            self.train_set,
            batch_sampler=batches,
            num_workers=self.config.loader.num_workers,
            collate_fn=collate_samples,
            worker_init_fn=seed_worker,
            generator=generator,
        )

    def train_epoch(self, epoch: int) -> None:
        self.ddp.train()
        started, steps = time.perf_counter(), 0
        with progress_display(
            self.console,
            self.iters_per_epoch,
            f"epoch {epoch + 1}/{self.total_epochs}",
            "it",
            enabled=self.request.progress and self.ctx.is_main,
            initial=self.progress.epoch_iteration,
        ) as bar:
            for batch in without_worker_tracebacks(self.loader(epoch)):
                faults.point("before_step", iteration=self.progress.iteration, epoch=epoch, rank=self.ctx.rank)
                values = self.step(batch)
                faults.point("after_step", iteration=self.progress.iteration, epoch=epoch, rank=self.ctx.rank)
                steps += 1
                rate = steps * self.batch_size * self.ctx.world_size / (time.perf_counter() - started)
                bar.set_status(
                    f"loss {values['final_loss']:.4f}  lr {self.schedule.current_lrs()[0]:.2e}  {rate:.1f} samples/s"
                )
                bar.update(1)
                if (
                    self.progress.iteration % self.config.trainer.log_every == 0
                    or self.progress.epoch_iteration == self.iters_per_epoch
                ):
                    self.logger.event(
                        "train",
                        self.progress.iteration,
                        epoch=shown_epoch(epoch),
                        samples_per_s=rate,
                        lr=self.schedule.current_lrs()[0],
                        **values,
                    )
                if (
                    self.save_every
                    and self.progress.iteration % self.save_every == 0
                    and self.progress.epoch_iteration < self.iters_per_epoch
                ):
                    self.save(epoch_end=False, improved=False)

    def step(self, batch: list) -> dict[str, float]:
        """One optimiser step; returns the loss terms averaged over ranks (before the step)."""
        losses = self.ddp(batch)
        values = all_reduce_mean({k: float(v.detach()) for k, v in losses.items()}, self.ctx)
        if not all(math.isfinite(v) for v in values.values()):
            raise NonFiniteLossError(
                f"the training loss became non-finite at iteration {self.progress.iteration + 1} "
                f"(epoch {self.progress.epoch + 1}): {values}. Training stopped; the last good checkpoint "
                f"{checkpoint_path(self.run_dir, LAST)} (if any) is intact. Lower opt.learning_rate "
                "or check the features for NaN values."
            )
        self.optimizer.zero_grad(set_to_none=True)
        losses["final_loss"].backward()
        if self.config.clip_grad_l2norm > 0:
            values["grad_norm"] = float(
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_l2norm)
            )
        self.optimizer.step()
        self.schedule.step()
        self.ema.update(self.model)
        self.progress.iteration += 1
        self.progress.epoch_iteration += 1
        return values

    def validate(self, epoch: int) -> tuple[dict[str, float], float]:
        """The track's metrics of the EMA weights (what is saved) on the whole validation split, and
        the queries per second; logged with the save that records them."""
        batch_size = self.config.trainer.eval_batch_size or self.batch_size
        started = time.perf_counter()
        predictions = predict(self.ema.module, self.val_set, self.ctx, batch_size)
        rate = len(predictions) / (time.perf_counter() - started)
        metrics = score(predictions, self.gt_records, self.track, self.gt_source) if self.ctx.is_main else {}
        metrics = gather_objects(metrics, self.ctx)[0]
        if self.ctx.is_main and self.request.progress:
            shown = ", ".join(f"{k} {v:.2f}" for k, v in metrics.items())
            tqdm.write(f"epoch {epoch + 1}: {shown}", file=self.console)
        return metrics, rate

    def training_state(self, epoch_end: bool, rngs: list[dict[str, Any]]) -> dict[str, Any]:
        """Everything a resume restores, and what the run directory's other files are made from."""
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "epoch": self.progress.epoch,
            "iteration": self.progress.iteration,
            "epoch_iteration": self.progress.epoch_iteration,
            "progress": vars(self.progress),
            "rng": rngs,
            "world_size": self.ctx.world_size,
            "config": self.config.document,
            "track": self.track.name,
            "total_epochs": self.total_epochs,
            "metrics": self.progress.history[-1]["metrics"] if epoch_end else None,
        }

    def save(self, epoch_end: bool, improved: bool, val_values: dict[str, Any] | None = None) -> None:
        """Commit ``last.pt`` (and at epoch ends the exports, ``best.pt`` when ``improved``, the
        summary and the ``val`` event) on rank 0; every rank takes part because the RNG states of
        all ranks are stored, and every rank stops with rank 0's error if the save fails."""
        rngs = gather_objects(rng_state(), self.ctx)
        error = None
        if self.ctx.is_main:
            try:
                content = training_state_content(self.training_state(epoch_end, rngs))
                commit_save(self.run_dir, content, epoch_end, improved, self.logger, val_values)
            except UserError as exc:
                error = str(exc)
        error = gather_objects(error, self.ctx)[0]
        if error is not None:
            raise UserError(error)
