"""The training loop: one DDP wrapper for the whole run, per-iteration warm-up + cosine, EMA,
gradient clipping, validation on gathered predictions, and full-state checkpoints that a
restarted worker resumes from.

Run directory layout::

    config.yaml                  the resolved config (written by the launcher)
    log.jsonl  tensorboard/      events (rank 0)
    summary.json                 final epoch, iteration, best metric, per-epoch metrics
    checkpoints/last.pt          full training state after the latest epoch (or --save-every step)
    checkpoints/best.pt          full training state of the best validated epoch
    checkpoints/last_official.pth.tar, best_official.pth.tar   EMA weights, reference layout
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from osgnet_bench.errors import UserError
from osgnet_bench.files import write_json
from trainers.config import RunConfig
from trainers.data.dataset import GroundingDataset
from trainers.data.loader import collate_samples, seed_worker
from trainers.infer import open_inference_dataset, predict, split_records
from trainers.model.checkpoint import check_state_dict, official_state_dict
from trainers.model.osgnet import OSGNet
from trainers.model.partial_load import load_matching
from trainers.train.distributed import (
    DistContext,
    all_reduce_mean,
    barrier,
    gather_objects,
    restart_count,
    set_cpu_threads,
)
from trainers.train.ema import ModelEma
from trainers.train.evaluation import load_ground_truth, resolve_track, score
from trainers.train.failure import NonFiniteLossError
from trainers.train.optim import OptimConfig, make_optimizer
from trainers.train.run_log import RunLogger
from trainers.train.sampling import SkipFirstBatches, training_batches
from trainers.train.schedule import WarmupCosineSchedule
from trainers.train.seeding import configure_determinism, seed_everything
from trainers.train.state import export_official, load_training_state, restore_rng_state, rng_state, save_training_state

CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"
BEST = "best.pt"
LAST_OFFICIAL = "last_official.pth.tar"
BEST_OFFICIAL = "best_official.pth.tar"
SUMMARY = "summary.json"
CONFIG_FILE = "config.yaml"
# fault injection for the restart tests: the worker of rank FAULT_RANK_ENV (default 0) dies
# before optimiser step FAULT_AT_ENV + 1 of the first attempt (torchrun restart count 0)
FAULT_AT_ENV = "OSGNET_BENCH_FAULT_AT_ITERATION"
FAULT_RANK_ENV = "OSGNET_BENCH_FAULT_RANK"
FAULT_EXIT_CODE = 75


@dataclass(frozen=True)
class TrainRequest:
    """What to do in ``run_dir``: ``resume`` is None (fresh; a torchrun restart still resumes),
    ``"auto"`` (``checkpoints/last.pt`` if present) or a training-state path; ``init`` is a
    weights-only checkpoint (ours or official) to start from."""

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


def checkpoint_path(run_dir: str | os.PathLike, name: str) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / name


def resume_source(request: TrainRequest) -> Path | None:
    """The training state to continue from, or None for a fresh start."""
    last = checkpoint_path(request.run_dir, LAST)
    if request.resume is None:
        return last if restart_count() > 0 and last.exists() else None
    if request.resume == "auto":
        return last if last.exists() else None
    return Path(request.resume)


class Trainer:
    """Builds everything from a :class:`RunConfig` and trains; see the module docstring."""

    def __init__(self, config: RunConfig, request: TrainRequest, ctx: DistContext) -> None:
        self.config = config
        self.request = request
        self.ctx = ctx
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
        source = resume_source(request)
        if source is not None:
            self.resume_from(source)
        # one wrapper for the whole run; the VTM and object branches can sit idle for a batch
        self.ddp = (DistributedDataParallel(self.model, find_unused_parameters=True)
                    if ctx.distributed else self.model)
        self.logger = RunLogger(self.run_dir, enabled=ctx.is_main)
        if init_report is not None:
            if ctx.is_main and request.progress:
                tqdm.write(init_report.render())
            self.logger.event("init", 0, source=str(request.init), **init_report.counts())
        if source is not None:
            self.logger.event("resume", self.progress.iteration, source=str(source), epoch=self.progress.epoch,
                              restart=restart_count())

    def _open_data(self) -> None:
        """Training set and its batch sampler, validation set, track and ground truth."""
        config, ctx = self.config, self.ctx
        self.train_set = GroundingDataset.from_config(config.dataset, "train", seed=config.seed)
        val_records, val_source = split_records(config.dataset, "val")
        self.val_set = open_inference_dataset(config.dataset, val_records, val_source)
        self.track = resolve_track(config.track_name, self.val_set.records)
        self.gt_records, self.gt_source = load_ground_truth(config.dataset, self.track)
        self.batch_sampler = training_batches(self.train_set, self.batch_size, config.loader.num_workers,
                                              config.seed, num_replicas=ctx.world_size, rank=ctx.rank)
        self.iters_per_epoch = len(self.batch_sampler)
        if self.iters_per_epoch == 0:
            raise UserError(f"{config.dataset.train_jsonl_file}: {len(self.train_set)} training queries give no full "
                            f"batch of {self.batch_size} per process over {ctx.world_size} process(es).")

    def _make_optimisation(self) -> None:
        """AdamW (lr scaled by the world size when ``trainer.scale_lr``) and the per-iteration schedule."""
        optim = self.config.optim
        scale = self.ctx.world_size if self.config.trainer.scale_lr else 1
        self.optimizer = make_optimizer(self.model, OptimConfig(
            learning_rate=optim.learning_rate * scale, weight_decay=optim.weight_decay,
            backbone_lr_weight=optim.backbone_lr_weight))
        self.schedule = WarmupCosineSchedule(
            self.optimizer, optim.warmup_epochs * self.iters_per_epoch,
            (optim.epochs + optim.warmup_epochs) * self.iters_per_epoch, optim.eta_min)

    def resume_from(self, path: Path) -> None:
        """Restore weights, EMA, optimiser, schedule, counters and RNG states from ``path``."""
        state = load_training_state(path)
        check_state_dict(self.model.state_dict(), state["model"], str(path))
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        saved = state["progress"]
        self.progress = Progress(**saved)
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
                metrics = self.validate(epoch) if epoch >= self.config.val_start_epoch else None
                self.progress.epoch = epoch + 1
                self.progress.epoch_iteration = 0
                improved = metrics is not None and (self.progress.best_metric is None
                                                    or metrics["rank_metric"] > self.progress.best_metric)
                if improved:
                    self.progress.best_metric = metrics["rank_metric"]
                    self.progress.best_epoch = epoch
                self.progress.history.append({"epoch": epoch, "iteration": self.progress.iteration,
                                              "metrics": metrics})
                self.save(epoch_end=True, improved=improved)
            if self.ctx.is_main:
                write_json(self.run_dir / SUMMARY, self.summary(), indent=2)
        finally:
            self.logger.close()
        return self.progress

    def summary(self) -> dict:
        best = checkpoint_path(self.run_dir, BEST)
        return {"track": self.track.name, "epochs": self.progress.epoch, "iterations": self.progress.iteration,
                "world_size": self.ctx.world_size, "best_metric": self.progress.best_metric,
                "best_epoch": self.progress.best_epoch, "ranked_by": self.track.rank_metric_name,
                "last_checkpoint": str(checkpoint_path(self.run_dir, LAST)),
                "best_checkpoint": str(best) if best.exists() else None, "history": self.progress.history}

    def loader(self, epoch: int) -> DataLoader:
        """This epoch's batches, minus the ``epoch_iteration`` first ones a resumed run already
        trained on (the batch order depends only on seed and epoch)."""
        self.batch_sampler.set_epoch(epoch)
        self.train_set.set_epoch(epoch)
        batches = SkipFirstBatches(self.batch_sampler, self.progress.epoch_iteration)
        generator = torch.Generator().manual_seed(self.config.seed + 1000003 * epoch + self.ctx.rank)
        return DataLoader(self.train_set, batch_sampler=batches, num_workers=self.config.loader.num_workers,
                          collate_fn=collate_samples, worker_init_fn=seed_worker, generator=generator)

    def train_epoch(self, epoch: int) -> None:
        self.ddp.train()
        bar = tqdm(total=self.iters_per_epoch, initial=self.progress.epoch_iteration,
                   desc=f"epoch {epoch + 1}/{self.total_epochs}", unit="it", dynamic_ncols=True,
                   disable=not (self.request.progress and self.ctx.is_main))
        started, steps = time.perf_counter(), 0
        for batch in self.loader(epoch):
            inject_fault(self.progress.iteration, self.ctx)
            values = self.step(batch)
            steps += 1
            rate = steps * self.batch_size * self.ctx.world_size / (time.perf_counter() - started)
            bar.update(1)
            bar.set_postfix(loss=f"{values['final_loss']:.4f}", lr=f"{self.schedule.current_lrs()[0]:.2e}",
                            samples_per_s=f"{rate:.1f}")
            if self.progress.iteration % self.config.trainer.log_every == 0 or \
                    self.progress.epoch_iteration == self.iters_per_epoch:
                self.logger.event("train", self.progress.iteration, epoch=epoch, samples_per_s=rate,
                                  lr=self.schedule.current_lrs()[0], **values)
            if self.save_every and self.progress.iteration % self.save_every == 0 \
                    and self.progress.epoch_iteration < self.iters_per_epoch:
                self.save(epoch_end=False, improved=False)
        bar.close()

    def step(self, batch: list[dict]) -> dict[str, float]:
        """One optimiser step; returns the loss terms averaged over ranks (before the step)."""
        losses = self.ddp(batch)
        values = all_reduce_mean({k: float(v.detach()) for k, v in losses.items()}, self.ctx)
        if not all(math.isfinite(v) for v in values.values()):
            raise NonFiniteLossError(
                f"the training loss became non-finite at iteration {self.progress.iteration + 1} "
                f"(epoch {self.progress.epoch + 1}): {values}. Training stopped; the last good checkpoint "
                f"{checkpoint_path(self.run_dir, LAST)} (if any) is intact. Lower opt.learning_rate "
                "or check the features for NaN values.")
        self.optimizer.zero_grad(set_to_none=True)
        losses["final_loss"].backward()
        if self.config.clip_grad_l2norm > 0:
            values["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                                                      self.config.clip_grad_l2norm))
        self.optimizer.step()
        self.schedule.step()
        self.ema.update(self.model)
        self.progress.iteration += 1
        self.progress.epoch_iteration += 1
        return values

    def validate(self, epoch: int) -> dict[str, float]:
        """The track's metrics of the EMA weights (what is saved) on the whole validation split."""
        batch_size = self.config.trainer.eval_batch_size or self.batch_size
        started = time.perf_counter()
        predictions = predict(self.ema.module, self.val_set, self.ctx, batch_size)
        rate = len(predictions) / (time.perf_counter() - started)
        metrics = score(predictions, self.gt_records, self.track, self.gt_source) if self.ctx.is_main else {}
        metrics = gather_objects(metrics, self.ctx)[0]
        self.logger.event("val", self.progress.iteration, epoch=epoch, queries_per_s=rate, **metrics)
        if self.ctx.is_main and self.request.progress:
            shown = ", ".join(f"{k} {v:.2f}" for k, v in metrics.items())
            tqdm.write(f"epoch {epoch + 1}: {shown}")
        return metrics

    def save(self, epoch_end: bool, improved: bool) -> None:
        """Write ``last.pt`` (and ``best.pt``, official exports) atomically; every rank takes part
        because the RNG states of all ranks are stored."""
        rngs = gather_objects(rng_state(), self.ctx)
        if self.ctx.is_main:
            state = {"model": self.model.state_dict(), "ema": self.ema.state_dict(),
                     "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                     "epoch": self.progress.epoch, "iteration": self.progress.iteration,
                     "epoch_iteration": self.progress.epoch_iteration, "progress": vars(self.progress),
                     "rng": rngs, "world_size": self.ctx.world_size, "config": self.config.document,
                     "metrics": self.progress.history[-1]["metrics"] if epoch_end else None}
            save_training_state(checkpoint_path(self.run_dir, LAST), state)
            weights_epoch = max(self.progress.epoch - 1, 0)
            if epoch_end:
                export_official(checkpoint_path(self.run_dir, LAST_OFFICIAL), weights_epoch, official_state_dict(self.ema.state_dict()))
            if improved:
                save_training_state(checkpoint_path(self.run_dir, BEST), state)
                export_official(checkpoint_path(self.run_dir, BEST_OFFICIAL), weights_epoch, official_state_dict(self.ema.state_dict()))
        barrier(self.ctx)


def inject_fault(iteration: int, ctx: DistContext) -> None:
    """Kill this worker at the configured iteration of the first attempt (test hook, see docs/training.md)."""
    target = os.environ.get(FAULT_AT_ENV)
    if target is None or restart_count() > 0:
        return
    if iteration == int(target) and ctx.rank == int(os.environ.get(FAULT_RANK_ENV, "0")):
        os._exit(FAULT_EXIT_CODE)
