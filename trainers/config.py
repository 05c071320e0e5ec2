"""The whole-run config: an official OSGNet YAML (read unchanged) or one of ours, plus overrides.

This is the one config loader. Every section is read by
:func:`osgnet_bench.config_reader.read_section` into a frozen dataclass, with one set of coercion
rules (see that module) and the value checks declared next to each field; an unknown key anywhere
is an error that lists the valid keys, and a key repeated in one mapping is an error naming its line.

| key | read into | notes |
|---|---|---|
| ``dataset`` | ``trainers.data.config.DatasetConfig`` | the one home of the dataset timing (1) |
| ``model`` | ``trainers.model.reference_config.ModelSection`` | every layer config of the reference format (2) |
| ``opt`` | :class:`OptimConfig` | ``learning_rate`` is per process when ``trainer.scale_lr`` is on |
| ``loader`` | :class:`LoaderConfig` | ``batch_size`` is per process |
| ``trainer`` | :class:`TrainerConfig` | ours: device, EMA decay, determinism, lr scaling, logging |
| ``train_cfg`` | :class:`TrainCfgSection` | ``clip_grad_l2norm``; the other keys are unused, as in the reference |
| ``test_cfg`` | :class:`TestCfgSection` | ``test_start_epoch`` (first validated epoch, 0-based); the rest unused |
| ``init_rand_seed``, ``track``, ``model_name`` | :class:`ConfigFile` | (3) |

(1) ``feat_stride``, ``num_frames``, ``default_fps``, ``max_seq_len``; relative paths resolve
against the working directory; the feature widths the stores are checked against are the model
stems' ``n_in``. (2) :func:`trainers.model.reference_config.build_model_config` turns it into the
``ModelConfig`` the network reads, with ``max_seq_len`` from ``dataset``. (3) ``track`` may be ours
or the reference's ``nlq`` / ``goal_step``; ``model_name`` must be MultiTaskArch; the seed must lie
in [0, 2**63 - 1].

The reference's bookkeeping keys (``dataset_name``, ``devices``, ``train_split``, ``val_split``,
``output_folder``) are accepted and ignored: the run directory always comes from ``--out``.
A section written as ``null`` (every line commented out) takes its defaults.

Overrides are ``--set a.b.c=value`` strings; the value is parsed as YAML (``1e-4`` is a float,
``true`` a bool, ``[1, 2]`` a list) and list items are addressed by index (``a.0.b=1``). The
overridden document goes through the same reader, so an override can no more add an unknown key
or a bad value than the file can.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from osgnet_bench.config_reader import ConfigValueError, read_section, setting
from osgnet_bench.errors import UserError
from osgnet_bench.files import StrictSafeLoader, atomic_writer, read_yaml_mapping
from trainers.data.config import PATH_KEYS, DatasetConfig
from trainers.model.config import ModelConfig
from trainers.model.reference_config import ModelSection, build_model_config

DEFAULT_SEED = 12345678
# torch.manual_seed takes [-2**63, 2**64 - 1]; the trainer adds rank, epoch and iteration offsets to
# the seed, so the largest allowed seed leaves 2**63 of room above it
MAX_SEED = 2**63 - 1
SCIENTIFIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
IGNORED_TOP_KEYS = frozenset({"dataset_name", "devices", "train_split", "val_split", "output_folder"})
ONLY_REFERENCE_SCHEDULE = "Only AdamW with warm-up and the cosine schedule is supported (the reference's only setting)."


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """``opt:``. Total epochs = ``early_stop_epochs`` if set (and not 0), else ``epochs + warmup_epochs``."""

    learning_rate: float = setting(1e-3, exclusive_minimum=0.0)
    weight_decay: float = setting(0.05, minimum=0.0)
    backbone_lr_weight: float = setting(1.0, minimum=0.0)
    epochs: int = setting(6, minimum=0)
    warmup_epochs: int = setting(4, minimum=0)
    early_stop_epochs: int | None = setting(None, minimum=0)
    eta_min: float = setting(1e-8, minimum=0.0)
    type: Literal["AdamW"] = setting("AdamW", note=ONLY_REFERENCE_SCHEDULE)
    warmup: Literal[True] = setting(True, note=ONLY_REFERENCE_SCHEDULE)
    schedule_type: Literal["cosine"] = setting("cosine", note=ONLY_REFERENCE_SCHEDULE)

    @property
    def total_epochs(self) -> int:
        return self.early_stop_epochs if self.early_stop_epochs else self.epochs + self.warmup_epochs

    def validate(self) -> None:
        if self.total_epochs < 1:
            raise ConfigValueError(
                "", "trains for 0 epochs: epochs + warmup_epochs (or early_stop_epochs, when set) must be at least 1."
            )


@dataclass(frozen=True, kw_only=True)
class LoaderConfig:
    """``loader:``: per-process batch size and DataLoader workers (0: load in the training process)."""

    batch_size: int = setting(4, minimum=1)
    num_workers: int = setting(0, minimum=0)


@dataclass(frozen=True, kw_only=True)
class TrainerConfig:
    """``trainer:`` (ours; absent from official configs, every key has a default).

    ``scale_lr``: multiply ``opt.learning_rate`` by the world size (the reference multiplied by
    the number of visible GPUs); off means ``learning_rate`` is the absolute lr.
    ``deterministic``: deterministic algorithms and no cuDNN autotuning, for bitwise-repeatable runs.
    ``save_every``: also checkpoint every this many iterations (0: only at epoch ends).
    ``log_every``: iterations between loss records in the log and TensorBoard.
    ``eval_batch_size``: queries per inference batch (0: ``loader.batch_size``).
    ``cpu_threads``: intra-op threads per process on CPU (0: torch's default). Small models run
    fastest with 1: splitting tiny tensors across threads costs more than it saves.
    ``init_timeout_s``: how long a process waits for the others to join the process group.
    """

    device: Literal["auto", "cpu", "cuda"] = "auto"
    ema_decay: float = setting(0.999, minimum=0.0, exclusive_maximum=1.0)
    deterministic: bool = False
    scale_lr: bool = True
    save_every: int = setting(0, minimum=0, note="0 checkpoints at epoch ends only.")
    log_every: int = setting(10, minimum=1)
    eval_batch_size: int = setting(0, minimum=0, note="0 uses loader.batch_size.")
    cpu_threads: int = setting(0, minimum=0, note="0 keeps torch's default.")
    init_timeout_s: float = setting(1800.0, exclusive_minimum=0.0)


@dataclass(frozen=True, kw_only=True)
class TrainCfgSection:
    """``train_cfg:``: the trainer reads ``clip_grad_l2norm`` (<= 0: no clipping); the rest is the
    reference's dead copy of model settings (model.md 6.3)."""

    UNUSED_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            "init_loss_norm",
            "cls_prior_prob",
            "center_sample",
            "center_sample_radius",
            "label_smoothing",
            "loss_weight",
            "mamba_arch",
            "droppath",
            "head_empty_cls",
            "dropout",
            "iou_loss_weight",
            "box_loss_weight",
            "num_decoder_layer",
        }
    )

    clip_grad_l2norm: float = 1.0


@dataclass(frozen=True, kw_only=True)
class TestCfgSection:
    """``test_cfg:``: the trainer reads ``test_start_epoch``; the rest is unused, as in the reference
    (``test_num`` is 1 in every config: no validation inside an epoch)."""

    UNUSED_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            "voting_thresh",
            "pre_nms_topk",
            "max_seg_num",
            "min_score",
            "nms_sigma",
            "duration_thresh",
            "test_num",
            "iou_threshold",
            "nms_method",
            "multiclass_nms",
            "pre_nms_thresh",
            "ext_score_file",
        }
    )

    test_start_epoch: int = setting(0, minimum=0)


@dataclass(frozen=True, kw_only=True)
class ConfigFile:
    """The top level of a config file, as written (sections written as ``null`` are None)."""

    UNUSED_KEYS: ClassVar[frozenset[str]] = IGNORED_TOP_KEYS

    model_name: Literal["MultiTaskArch"] = setting(
        "MultiTaskArch",
        note="Only MultiTaskArch (OSGNet) configs can be built (the reference registers no other model either).",
    )
    dataset: DatasetConfig
    model: ModelSection
    opt: OptimConfig | None = None
    loader: LoaderConfig | None = None
    trainer: TrainerConfig | None = None
    train_cfg: TrainCfgSection | None = None
    test_cfg: TestCfgSection | None = None
    init_rand_seed: int = setting(DEFAULT_SEED, minimum=0, maximum=MAX_SEED)
    track: str | None = None


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
    optim: OptimConfig
    loader: LoaderConfig
    trainer: TrainerConfig
    seed: int
    track_name: str | None
    clip_grad_l2norm: float
    val_start_epoch: int

    def dump(self, path: str | os.PathLike) -> None:
        """Write the resolved document as YAML (atomically)."""
        with atomic_writer(path) as handle:
            yaml.safe_dump(self.document, handle, sort_keys=False, default_flow_style=None)


def load_run_config(
    path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = (), base_dir: str | os.PathLike | None = None
) -> RunConfig:
    """Read ``path``, apply ``--set`` overrides and parse every section."""
    return parse_run_config(read_yaml_document(path), str(path), overrides, base_dir)


def read_yaml_document(path: str | os.PathLike) -> dict:
    """The parsed YAML mapping of a config file; syntax errors and repeated keys name the line."""
    return read_yaml_mapping(path)


def parse_run_config(
    document: dict, source: str, overrides: list[str] | tuple[str, ...] = (), base_dir: str | os.PathLike | None = None
) -> RunConfig:
    """Parse an already-read document (see the module docstring); relative dataset paths resolve
    against ``base_dir`` (default: the working directory)."""
    document = apply_overrides(copy.deepcopy(document), overrides)
    root = Path(base_dir) if base_dir is not None else Path.cwd()
    if isinstance(document.get("dataset"), dict):
        document["dataset"] = _absolute_paths(document["dataset"], root)
    config_file = read_section(ConfigFile, document, source)
    model = build_model_config(config_file.model, config_file.dataset.max_seq_len, source)
    train_cfg = config_file.train_cfg or TrainCfgSection()
    test_cfg = config_file.test_cfg or TestCfgSection()
    return RunConfig(
        source=source,
        document=document,
        model=model,
        dataset=_widths_from_model(model, config_file.dataset),
        optim=config_file.opt or OptimConfig(),
        loader=config_file.loader or LoaderConfig(),
        trainer=config_file.trainer or TrainerConfig(),
        seed=config_file.init_rand_seed,
        track_name=config_file.track,
        clip_grad_l2norm=train_cfg.clip_grad_l2norm,
        val_start_epoch=test_cfg.test_start_epoch,
    )


def load_model_config(path: str | os.PathLike) -> ModelConfig:
    """The model of a config file (read and checked whole, as for a run, so ``max_seq_len`` comes
    from its ``dataset:`` section)."""
    return load_run_config(path).model


def parse_model_config(document: dict, source: str = "<config>") -> ModelConfig:
    """The model of an already-read config document (see :func:`load_model_config`)."""
    return parse_run_config(document, source).model


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
        return yaml.load(raw_value, Loader=StrictSafeLoader)
    except (yaml.YAMLError, RecursionError) as exc:
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise UserError(f"--set {text[:200]!r}: the value is not valid YAML ({problem}).") from None


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
    if not part.isdigit() or len(part) > len(str(len(node))) or int(part) >= len(node):
        raise UserError(f"--set {text!r}: `{part}` is not an index of a list of {len(node)} items.")
    return int(part)


def _absolute_paths(section: dict, root: Path) -> dict:
    """The ``dataset`` mapping with every path given as a string made absolute against ``root``
    (other values are left for the reader to refuse)."""
    resolved = dict(section)
    for key in PATH_KEYS:
        if isinstance(resolved.get(key), str) and resolved[key]:
            resolved[key] = str((root / Path(resolved[key])).absolute())
    return resolved


def _widths_from_model(model: ModelConfig, dataset: DatasetConfig) -> DatasetConfig:
    """The dataset config with the feature widths the model reads.

    The reference model never reads ``dataset.input_vid_dim`` / ``input_txt_dim`` (the TACoS
    GloVe config says 512 for 300-d features); the stems' ``n_in`` are what must match the
    stores, so the store checks compare against those.
    """
    return dataclasses.replace(dataset, input_vid_dim=model.video_stem.in_dim, input_txt_dim=model.text_stem.in_dim)
