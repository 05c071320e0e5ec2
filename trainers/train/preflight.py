"""Checks that run before any worker is spawned: config, data paths and widths, checkpoint fit.

Every problem is a ``UserError`` raised in the launching process, so a bad input never starts
(and never restarts) a torchrun job.
"""

from __future__ import annotations

import os
from pathlib import Path

from osgnet_bench.errors import UserError
from trainers.config import RunConfig, load_run_config
from trainers.data.dataset import GroundingDataset
from trainers.infer import open_inference_dataset, split_records
from trainers.model.checkpoint import MAX_LISTED, check_state_dict, checked_state
from trainers.model.partial_load import MIS_SHAPED, check_matching
from trainers.model.summary import build_on_meta
from trainers.train.evaluation import load_ground_truth, resolve_track
from trainers.train.loop import CONFIG_FILE, LAST, checkpoint_path
from trainers.train.state import load_training_state


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
    if table is not None and int(table.shape[1]) != expected:
        raise UserError(f"the class-name table {config.dataset.classname_feat_dir} holds {int(table.shape[1])}-d "
                        f"embeddings but model.obj_encoder_cfg[0].layer_cfg.n_in is {expected}.")


def check_weights(config: RunConfig, path: str | os.PathLike) -> None:
    """``path`` (ours, official or a training state) loads strictly into the configured model."""
    checked_state(build_on_meta(config.model), path)


def check_init_weights(config: RunConfig, path: str | os.PathLike) -> None:
    """``path`` can start the configured model: tensors the checkpoint lacks start fresh and
    tensors the model lacks are ignored (a pretrained model has no object or VTM parts), but a
    tensor both have with different shapes is an error, as in the reference."""
    report = check_matching(build_on_meta(config.model), path)
    mis_shaped = report.names(MIS_SHAPED)
    if mis_shaped:
        listed = ", ".join(f"{name} (checkpoint {report.shapes[name][0]}, model {report.shapes[name][1]})"
                           for name in mis_shaped[:MAX_LISTED])
        more = f" and {len(mis_shaped) - MAX_LISTED} more" if len(mis_shaped) > MAX_LISTED else ""
        raise UserError(f"{path}: checkpoint does not match the model config; {len(mis_shaped)} tensor(s) have "
                        f"another shape: {listed}{more}. Check that --config describes the model to start from.")


def check_training_state(config: RunConfig, path: str | os.PathLike) -> None:
    """``path`` is a training state whose model fits the configured model."""
    if not Path(path).is_file():
        raise UserError(f"--resume {path}: no such training-state file.")
    state = load_training_state(path)
    check_state_dict(build_on_meta(config.model).state_dict(), state["model"], str(path))


def prepare_training_run(config_path: str | os.PathLike, overrides: list[str], run_dir: Path,
                         resume: str | None, init: str | None) -> RunConfig:
    """Check everything, then write the resolved config into ``run_dir``; returns the config."""
    config = load_run_config(config_path, overrides)
    if resume is not None and init is not None:
        raise UserError("--resume continues a run and --init starts a new one from weights; give only one.")
    last = checkpoint_path(run_dir, LAST)
    if resume is None and last.exists():
        raise UserError(f"{run_dir} already holds a training run ({last}); pass --resume auto to continue it "
                        "or choose another --out.")
    if resume is not None and resume != "auto":
        check_training_state(config, resume)
    if resume == "auto" and last.exists():
        check_training_state(config, last)
    if init is not None:
        check_init_weights(config, init)
    check_training_data(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    config.dump(run_dir / CONFIG_FILE)
    return config
