"""The whole-run config: an official OSGNet YAML (read unchanged) or one of ours, plus overrides.

Sections and what reads them:

| key | read by | notes |
|---|---|---|
| ``dataset`` | :class:`trainers.data.config.DatasetConfig` | relative paths resolve against the working directory; feature widths are the model stems' ``n_in`` |
| ``model`` | :func:`trainers.model.config.parse_model_config` | |
| ``opt`` | :class:`OptimSettings` | ``learning_rate`` is per process when ``trainer.scale_lr`` is on |
| ``loader`` | :class:`LoaderSettings` | ``batch_size`` is per process |
| ``train_cfg`` | ``clip_grad_l2norm`` | the other keys are accepted and unused, as in the reference |
| ``test_cfg`` | ``test_start_epoch`` (first validated epoch, 0-based) | the rest is unused, as in the reference |
| ``init_rand_seed``, ``track`` | seed, evaluation track | ``track`` may be ours or the reference's ``nlq`` / ``goal_step`` |
| ``trainer`` | :class:`TrainerSettings` | ours: device, EMA decay, determinism, lr scaling, logging |

The reference's bookkeeping keys (``dataset_name``, ``devices``, ``model_name``, splits,
``output_folder``) are accepted and ignored: the run directory always comes from ``--out``. Any
other key is a ``UserError``, so a typo never passes silently.

Overrides are ``--set a.b.c=value`` strings; the value is parsed as YAML (``1e-4`` is a float,
``true`` a bool, ``[1, 2]`` a list) and list items are addressed by index (``a.0.b=1``).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from osgnet_bench.errors import UserError
from osgnet_bench.files import atomic_writer, read_yaml_mapping
from trainers.data.config import PATH_KEYS, DatasetConfig
from trainers.model.config import ModelConfig, parse_model_config

DEFAULT_SEED = 12345678
SCIENTIFIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
IGNORED_TOP_KEYS = frozenset({"dataset_name", "devices", "train_split", "val_split", "model_name", "output_folder"})
READ_TOP_KEYS = frozenset({"dataset", "model", "opt", "loader", "train_cfg", "test_cfg", "init_rand_seed",
                           "track", "trainer"})
UNUSED_TRAIN_CFG_KEYS = frozenset({"init_loss_norm", "cls_prior_prob", "center_sample", "center_sample_radius",
                                   "label_smoothing", "loss_weight", "mamba_arch", "droppath", "head_empty_cls"})
UNUSED_TEST_CFG_KEYS = frozenset({"voting_thresh", "pre_nms_topk", "max_seg_num", "min_score", "nms_sigma",
                                  "duration_thresh", "test_num", "iou_threshold", "nms_method", "multiclass_nms",
                                  "pre_nms_thresh"})


@dataclass(frozen=True)
class OptimSettings:
    """``opt:``. Total epochs = ``early_stop_epochs`` if set, else ``epochs + warmup_epochs``."""

    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    backbone_lr_weight: float = 1.0
    epochs: int = 6
    warmup_epochs: int = 4
    early_stop_epochs: int | None = None
    eta_min: float = 1e-8
    type: str = "AdamW"
    warmup: bool = True
    schedule_type: str = "cosine"

    @property
    def total_epochs(self) -> int:
        return self.early_stop_epochs if self.early_stop_epochs else self.epochs + self.warmup_epochs


@dataclass(frozen=True)
class LoaderSettings:
    """``loader:``: per-process batch size and DataLoader workers."""

    batch_size: int = 4
    num_workers: int = 0


@dataclass(frozen=True)
class TrainerSettings:
    """``trainer:`` (ours; absent from official configs, every key has a default).

    ``scale_lr``: multiply ``opt.learning_rate`` by the world size (the reference multiplied by
    the number of visible GPUs); off means ``learning_rate`` is the absolute lr.
    ``deterministic``: deterministic algorithms and no cuDNN autotuning, for bitwise-repeatable runs.
    ``save_every``: also checkpoint every this many iterations (0: only at epoch ends).
    ``log_every``: iterations between loss records in the log and TensorBoard.
    ``eval_batch_size``: queries per inference batch (0: ``loader.batch_size``).
    ``cpu_threads``: intra-op threads per process on CPU (0: torch's default). Small models run
    fastest with 1: splitting tiny tensors across threads costs more than it saves.
    """

    device: str = "auto"
    ema_decay: float = 0.999
    deterministic: bool = False
    scale_lr: bool = True
    save_every: int = 0
    log_every: int = 10
    eval_batch_size: int = 0
    cpu_threads: int = 0
    init_timeout_s: float = 1800.0


@dataclass(frozen=True)
class RunConfig:
    """Everything a training or inference run reads, parsed and checked.

    ``document`` is the resolved YAML (overrides applied, dataset paths made absolute): the file
    saved next to the checkpoints, from which workers rebuild this object.
    """

    source: str
    document: dict
    model: ModelConfig
    dataset: DatasetConfig
    optim: OptimSettings
    loader: LoaderSettings
    trainer: TrainerSettings
    seed: int
    track_name: str | None
    clip_grad_l2norm: float
    val_start_epoch: int

    def dump(self, path: str | os.PathLike) -> None:
        """Write the resolved document as YAML (atomically)."""
        with atomic_writer(path) as handle:
            yaml.safe_dump(self.document, handle, sort_keys=False, default_flow_style=None)


def load_run_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = (),
                    base_dir: str | os.PathLike | None = None) -> RunConfig:
    """Read ``path``, apply ``--set`` overrides and parse every section."""
    document = read_yaml_document(path)
    return parse_run_config(document, str(path), overrides, base_dir)


def read_yaml_document(path: str | os.PathLike) -> dict:
    """The parsed YAML mapping of a config file; syntax errors name the line."""
    return read_yaml_mapping(path)


def parse_run_config(document: dict, source: str, overrides: list[str] | tuple[str, ...] = (),
                     base_dir: str | os.PathLike | None = None) -> RunConfig:
    """Parse an already-read document (see the module docstring)."""
    document = apply_overrides(copy.deepcopy(document), overrides)
    unknown = sorted(set(document) - READ_TOP_KEYS - IGNORED_TOP_KEYS)
    if unknown:
        raise UserError(f"{source}: unknown top-level key(s) {', '.join(unknown)}. Known keys: "
                        f"{', '.join(sorted(READ_TOP_KEYS | IGNORED_TOP_KEYS))}.")
    for key in ("dataset", "model"):
        if key not in document:
            raise UserError(f"{source}: missing the `{key}:` section.")
    root = Path(base_dir) if base_dir is not None else Path.cwd()
    document["dataset"] = _absolute_paths(document["dataset"], root)
    dataset = DatasetConfig.from_mapping(document["dataset"], source, root)
    model = parse_model_config(document, source)
    dataset = _widths_from_model(model, dataset)
    train_cfg = _mapping(document, "train_cfg", source)
    _reject_unknown(train_cfg, {"clip_grad_l2norm"} | UNUSED_TRAIN_CFG_KEYS, "train_cfg", source)
    test_cfg = _mapping(document, "test_cfg", source)
    _reject_unknown(test_cfg, {"test_start_epoch"} | UNUSED_TEST_CFG_KEYS, "test_cfg", source)
    optim = _settings(OptimSettings, _mapping(document, "opt", source), "opt", source)
    if optim.type != "AdamW" or optim.schedule_type != "cosine" or not optim.warmup:
        raise UserError(f"{source}: only opt.type AdamW with warmup and the cosine schedule are supported "
                        f"(the reference's only configuration), got {optim.type}/{optim.schedule_type}"
                        f"/warmup={optim.warmup}.")
    loader = _settings(LoaderSettings, _mapping(document, "loader", source), "loader", source)
    trainer = _settings(TrainerSettings, _mapping(document, "trainer", source), "trainer", source)
    if trainer.device not in ("auto", "cpu", "cuda"):
        raise UserError(f"{source}: trainer.device must be auto, cpu or cuda, got {trainer.device!r}.")
    if loader.batch_size < 1 or optim.total_epochs < 1:
        raise UserError(f"{source}: loader.batch_size and the number of epochs must be at least 1.")
    track = document.get("track")
    if track is not None and not isinstance(track, str):
        raise UserError(f"{source}: `track` must be a string, got {track!r}.")
    return RunConfig(
        source=source,
        document=document,
        model=model,
        dataset=dataset,
        optim=optim,
        loader=loader,
        trainer=trainer,
        seed=_typed(document.get("init_rand_seed", DEFAULT_SEED), int, "init_rand_seed", source),
        track_name=track,
        clip_grad_l2norm=_typed(train_cfg.get("clip_grad_l2norm", 1.0), float, "train_cfg.clip_grad_l2norm", source),
        val_start_epoch=_typed(test_cfg.get("test_start_epoch", 0), int, "test_cfg.test_start_epoch", source),
    )


def apply_overrides(document: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """Apply ``key.path=value`` strings in order (values parsed as YAML); returns ``document``."""
    for text in overrides:
        key, sep, raw_value = text.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {text!r}: expected KEY=VALUE, e.g. --set opt.learning_rate=1e-4.")
        value = _override_value(raw_value, text)
        parts = key.strip().split(".")
        node: Any = document
        for depth, part in enumerate(parts[:-1]):
            node = _child(node, part, parts[: depth + 1], text)
        _assign(node, parts[-1], value, text)
    return document


def _override_value(raw_value: str, text: str) -> Any:
    """The YAML value of an override; ``1e-4`` is a float too (YAML 1.1 would keep it a string)."""
    if SCIENTIFIC.fullmatch(raw_value.strip()):
        return float(raw_value)
    try:
        return yaml.safe_load(raw_value)
    except yaml.YAMLError:
        raise UserError(f"--set {text!r}: the value {raw_value!r} is not valid YAML.") from None


def _child(node: Any, part: str, path: list[str], text: str) -> Any:
    if isinstance(node, list):
        index = _list_index(node, part, text)
        return node[index]
    if not isinstance(node, dict):
        raise UserError(f"--set {text!r}: `{'.'.join(path[:-1])}` is not a mapping.")
    if node.get(part) is None:
        node[part] = {}
    return node[part]


def _assign(node: Any, part: str, value: Any, text: str) -> None:
    if isinstance(node, list):
        node[_list_index(node, part, text)] = value
    elif isinstance(node, dict):
        node[part] = value
    else:
        raise UserError(f"--set {text!r}: cannot set `{part}` inside a {type(node).__name__}.")


def _list_index(node: list, part: str, text: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise UserError(f"--set {text!r}: `{part}` is not an index of a list of {len(node)} items.")
    return int(part)


def _absolute_paths(section: Any, root: Path) -> Any:
    """The ``dataset`` mapping with every path key made absolute against ``root``."""
    if not isinstance(section, dict):
        return section
    resolved = dict(section)
    for key in PATH_KEYS:
        if resolved.get(key):
            resolved[key] = str((root / Path(str(resolved[key]))).absolute())
    return resolved


def _widths_from_model(model: ModelConfig, dataset: DatasetConfig) -> DatasetConfig:
    """The dataset config with the feature widths the model reads.

    The reference model never reads ``dataset.input_vid_dim`` / ``input_txt_dim`` (the TACoS
    GloVe config says 512 for 300-d features); the stems' ``n_in`` are what must match the
    stores, so the store checks compare against those.
    """
    return dataclasses.replace(dataset, input_vid_dim=model.video_stem.in_dim,
                               input_txt_dim=model.text_stem.in_dim)


def _mapping(document: dict, key: str, source: str) -> dict:
    value = document.get(key) or {}
    if not isinstance(value, dict):
        raise UserError(f"{source}: `{key}` must be a mapping, got {type(value).__name__}.")
    return value


def _reject_unknown(section: dict, known: set[str] | frozenset[str], name: str, source: str) -> None:
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise UserError(f"{source}: unknown key(s) in `{name}`: {', '.join(unknown)}. Known keys: "
                        f"{', '.join(sorted(known))}.")


def _settings(cls: type, section: dict, name: str, source: str) -> Any:
    """A settings dataclass from ``section``: unknown keys and wrong types are ``UserError``s."""
    spec = {f.name: f for f in fields(cls)}
    _reject_unknown(section, set(spec), name, source)
    values = {}
    for key, value in section.items():
        kind = spec[key].type.replace(" | None", "")
        if value is None and "None" in spec[key].type:
            values[key] = None
            continue
        values[key] = _typed(value, {"int": int, "float": float, "bool": bool, "str": str}[kind], f"{name}.{key}", source)
    return cls(**values)


def _typed(value: Any, kind: type, where: str, source: str) -> Any:
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind is bool and isinstance(value, int) and value in (0, 1):
        return bool(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"{source}: `{where}` must be {kind.__name__}, got {value!r}.")
    return value
