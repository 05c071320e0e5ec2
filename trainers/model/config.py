"""ModelConfig: the OSGNet architecture and its loss / inference settings, read from an official
OSGNet YAML config without changing it.

Merge rules follow the reference loader: the YAML wins, and a key the YAML lacks takes the
reference default (``DEFAULTS`` in ``libs/core/config.py``). Only ``model``, ``dataset`` and a
few defaults are read; keys the reference builds nothing from are accepted and ignored
(``DEAD_MODEL_KEYS``); any other key under ``model:`` is a ``UserError`` so that a typo is not
silently ignored. Every choice is listed in docs/model.md.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from osgnet_bench.errors import UserError
from osgnet_bench.files import read_yaml_mapping
from trainers.model.decode import DecodeConfig

# keys under ``model:`` that the reference accepts but never builds anything from (model.md 6.3)
DEAD_MODEL_KEYS = frozenset({
    "generator", "backbone_type", "fpn_type", "backbone_arch", "n_mha_win_size", "n_head",
    "embd_dim", "fpn_dim", "head_dim", "object_dim", "object_win_size", "object_use_cross_model",
    "use_abs_pe", "embd_kernel_size", "embd_with_ln", "fpn_with_ln", "head_kernel_size",
    "head_num_layers", "head_with_ln", "use_rel_pe", "use_lmha_in_fpn", "input_vid_dim",
    "input_txt_dim", "num_classes", "train_cfg", "test_cfg", "max_shot_num", "max_query",
})
READ_MODEL_KEYS = frozenset({
    "text_encoder_cfg", "obj_encoder_cfg", "video_encoder_cfg", "multiscale_encoder_cfg", "tasks",
    "nlq_heads_cfg", "vtm_heads_cfg", "regression_range", "max_buffer_len_factor",
    "scale_factor", "fpn_start_level", "max_seq_len", "quirks",
})
# ``mamba_arch`` of the released finetune configs (object branch) and of the narration
# pre-training configs (``none``: no object attention, no gate)
MAMBA_ARCH_WITH_OBJECTS = ["bimamba1", "mlp", "obj"]
MAMBA_ARCH_WITHOUT_OBJECTS = ["bimamba1", "mlp", "none"]
REFERENCE_DEFAULT_REGRESSION_RANGE = ((0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000))


@dataclass(frozen=True)
class StemConfig:
    """A stack of ``num_layers`` masked convs (the reference ``MaskedConv1DLayer``):
    conv(k) -> LayerNorm -> activation, ``in_dim -> hidden_dim -> ... -> out_dim``."""

    num_layers: int
    in_dim: int
    hidden_dim: int
    out_dim: int
    kernel_size: int = 1
    activation: str = "relu"


@dataclass(frozen=True)
class Quirks:
    """Reference behaviours that released checkpoints and published numbers depend on.

    Each default reproduces the reference; set it to False (``model.quirks`` in the YAML) for the
    fixed behaviour. See the bug table in docs/model.md.
    """

    qformer_fc_padding: bool = True  # B1: the k5/s5 aggregator conv is padded by 2 (sees queries 0-2)
    half_clip_time_offset: bool = True  # B10: +0.5*num_frames frames added to predicted times
    vtm_loss_over_normalizer: bool = True  # B8: VTM loss divided by the NLQ loss normaliser
    # a padded step holds LN(0) = the LayerNorm bias (or an activation of it) and the k3 stem and
    # q/k/v convs read it beside the last valid step, so outputs depend on the batch's padding;
    # False zeroes padded steps before those convs
    padding_reaches_convs: bool = True


@dataclass(frozen=True)
class ModelConfig:
    """Everything the OSGNet network, its losses and its post-processing read.

    Shapes use C = ``embed_dim`` (512 in every official config), H = ``num_heads``.
    """

    embed_dim: int
    num_heads: int
    max_seq_len: int
    video_stem: StemConfig
    text_stem: StemConfig
    object_stem: StemConfig
    num_text_blocks: int
    num_object_blocks: int
    num_video_blocks: int
    num_fpn_blocks: int
    text_path_pdrop: float
    object_path_pdrop: float
    video_path_pdrop: float
    fpn_path_pdrop: float
    fpn_window: int
    fpn_downsample: int
    text_abs_pe: bool
    regression_range: tuple[tuple[float, float], ...]
    object_branch: bool = True  # ObjectMamba blocks fuse objects (False: ``mamba_arch[2] == none``)
    scale_factor: int = 2
    fpn_start_level: int = 0
    max_buffer_len_factor: float = 4.0
    # NLQ heads
    num_classes: int = 1
    head_dim: int = 512
    head_num_layers: int = 3
    head_kernel_size: int = 3
    head_with_ln: bool = True
    cls_prior_prob: float = 0.01
    # NLQ loss
    init_loss_normalizer: float = 200.0
    loss_normalizer_momentum: float = 0.9
    label_smoothing: float = 0.1
    reg_loss_weight: float = 1.0
    center_sample_radius: float = 1.5
    # inference
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    # VTM (training-only video-text matching)
    use_vtm: bool = True
    vtm_num_queries: int = 5
    vtm_num_layers: int = 1
    vtm_path_pdrop: float = 0.1
    vtm_heads: int = 4
    vtm_sim_dim: int = 512
    vtm_loss_weight: float = 1.0
    vtm_temperature: float = 0.05
    # dataset
    feat_stride: float = 16.0
    num_frames: float = 32.0
    default_fps: float | None = None
    quirks: Quirks = field(default_factory=Quirks)

    @property
    def fpn_strides(self) -> tuple[int, ...]:
        """Stride of every FPN level in level-0 steps, e.g. (1, 2, 4, ..., 64)."""
        return tuple(self.scale_factor ** i
                     for i in range(self.fpn_start_level, self.num_fpn_blocks + 1))

    @property
    def max_stride(self) -> int:
        """Inputs are padded to a multiple of this: the largest stride times the local window."""
        largest = max(self.fpn_strides)
        if self.fpn_window > 1:
            return largest * (self.fpn_window // 2) * 2
        return largest

    def padded_length(self, length: int) -> int:
        """T0 = ceil(length / max_stride) * max_stride."""
        return math.ceil(length / self.max_stride) * self.max_stride


class _Section:
    """Typed access to one dict of the YAML; errors name the file and the key path."""

    def __init__(self, source: str, path: str, value: Any) -> None:
        if not isinstance(value, dict):
            raise UserError(f"{source}: `{path}` must be a mapping, got {type(value).__name__}.")
        self.source, self.path, self.value = source, path, value

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def section(self, key: str) -> _Section:
        if key not in self.value:
            raise UserError(f"{self.source}: missing key `{self._where(key)}`.")
        return _Section(self.source, self._where(key), self.value[key])

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        value = self.value.get(key)
        if value is None:  # absent, or null in the YAML
            if default is ...:
                raise UserError(f"{self.source}: missing key `{self._where(key)}`.")
            return default
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise UserError(
                f"{self.source}: `{self._where(key)}` must be {kind.__name__}, got {value!r}.")
        return value

    def stages(self, key: str, count: int) -> list[_Section]:
        stages = self.value.get(key)
        if not isinstance(stages, list) or len(stages) != count:
            raise UserError(
                f"{self.source}: `{self._where(key)}` must be a list of {count} stages "
                "({layer_type, layer_num, layer_cfg}).")
        return [_Section(self.source, f"{self._where(key)}[{i}]", s) for i, s in enumerate(stages)]


def _expect_type(stage: _Section, layer_type: str) -> None:
    found = stage.get("layer_type", str)
    if found != layer_type:
        raise UserError(f"{stage.source}: `{stage.path}.layer_type` is {found!r}; this model "
                        f"supports only {layer_type!r} there.")


def _stem(stage: _Section) -> StemConfig:
    _expect_type(stage, "MaskedConv1DLayer")
    cfg = stage.section("layer_cfg")
    in_dim = cfg.get("n_in", int)
    hidden = cfg.get("n_hidden", int, in_dim)
    if not cfg.get("with_ln", bool, True):
        raise UserError(f"{stage.source}: `{cfg.path}.with_ln: False` is not supported.")
    activation = cfg.get("act", str, "gelu")
    if activation not in ("relu", "gelu"):
        raise UserError(f"{stage.source}: `{cfg.path}.act` must be relu or gelu, got {activation!r}.")
    return StemConfig(
        num_layers=cfg.get("num_layer", int), in_dim=in_dim, hidden_dim=hidden,
        out_dim=cfg.get("n_out", int, in_dim), kernel_size=cfg.get("kernel_size", int, 1),
        activation=activation)


def _blocks(stage: _Section, layer_type: str) -> tuple[int, _Section]:
    _expect_type(stage, layer_type)
    return stage.get("layer_num", int), stage.section("layer_cfg")


def _check_width(cfg: _Section, embed_dim: int) -> None:
    width = cfg.get("n_embd", int)
    if width != embed_dim:
        raise UserError(f"{cfg.source}: `{cfg.path}.n_embd` is {width}, but the video stem's n_out "
                        f"(the model width) is {embed_dim}; they must be equal.")


def parse_model_config(raw: dict, source: str = "<config>") -> ModelConfig:
    """Build a ModelConfig from an already-parsed official YAML document."""
    root = _Section(source, "", raw)
    if raw.get("model_name", "MultiTaskArch") != "MultiTaskArch":
        raise UserError(f"{source}: `model_name` is {raw['model_name']!r}; only MultiTaskArch (OSGNet) "
                        "configs can be built (the reference registers no other model either).")
    model = root.section("model")
    unknown = sorted(set(model.value) - READ_MODEL_KEYS - DEAD_MODEL_KEYS)
    if unknown:
        raise UserError(f"{source}: unknown key(s) under `model`: {', '.join(unknown)}. Only "
                        "MultiTaskArch (OSGNet) configs are supported; see docs/model.md.")
    dataset = root.section("dataset") if "dataset" in raw else _Section(source, "dataset", {})

    video_stem_stage, video_stage = model.stages("video_encoder_cfg", 2)
    text_stem_stage, text_stage = model.stages("text_encoder_cfg", 2)
    object_stem_stage, object_stage = model.stages("obj_encoder_cfg", 2)
    fpn_stage, fpn_norm_stage = model.stages("multiscale_encoder_cfg", 2)

    video_stem = _stem(video_stem_stage)
    embed_dim = video_stem.out_dim
    num_video, video_cfg = _blocks(video_stage, "ObjectMambaBlock")
    num_text, text_cfg = _blocks(text_stage, "TransformerBlock")
    num_object, object_cfg = _blocks(object_stage, "ObjectEncoderBlock")
    num_fpn, fpn_cfg = _blocks(fpn_stage, "TransformerBlock")
    _expect_type(fpn_norm_stage, "FPNLayernorm")
    for cfg in (video_cfg, text_cfg, object_cfg, fpn_cfg):
        _check_width(cfg, embed_dim)
    arch = video_cfg.get("mamba_arch", list, ["mamba1", "mlp"])
    if arch not in (MAMBA_ARCH_WITH_OBJECTS, MAMBA_ARCH_WITHOUT_OBJECTS):
        raise UserError(f"{source}: `{video_cfg.path}.mamba_arch` is {arch}; only "
                        f"{MAMBA_ARCH_WITH_OBJECTS} (the released OSGNet) and "
                        f"{MAMBA_ARCH_WITHOUT_OBJECTS} (its narration pre-training) are supported.")
    num_heads = video_cfg.get("n_head", int, 4)
    for cfg, heads in ((text_cfg, text_cfg.get("n_head", int)), (fpn_cfg, fpn_cfg.get("n_head", int)),
                       (object_cfg, object_cfg.get("n_head", int, 4))):
        if heads != num_heads:
            raise UserError(f"{source}: `{cfg.path}.n_head` is {heads} but the video blocks have "
                            f"{num_heads}; one head count is supported.")
    if text_cfg.get("mha_win_size", int, -1) > 1 or text_cfg.get("n_ds_strides", list, [1, 1]) != [1, 1]:
        raise UserError(f"{source}: `{text_cfg.path}` must use global attention without striding.")
    strides = fpn_cfg.get("n_ds_strides", list, [1, 1])
    if len(strides) != 2 or strides[0] != strides[1]:
        raise UserError(f"{source}: `{fpn_cfg.path}.n_ds_strides` must be two equal strides.")
    regression_range = tuple(tuple(float(v) for v in pair) for pair in model.value.get(
        "regression_range", REFERENCE_DEFAULT_REGRESSION_RANGE))

    heads = model.section("nlq_heads_cfg")
    cls_cfg = heads.section("cls_head_cfg")
    reg_cfg = heads.section("reg_head_cfg")
    tasks = model.get("tasks", list)
    use_vtm = "VTM" in tasks
    vtm_fields: dict[str, Any] = {}
    if use_vtm:
        vtm = model.section("vtm_heads_cfg")
        shot = vtm.section("shot_aggregator_cfg")
        _expect_type(shot, "QFormerLayer")
        if "txt_aggregator_cfg" in vtm.value and vtm.value["txt_aggregator_cfg"] != shot.value:
            raise UserError(f"{source}: `{vtm.path}.txt_aggregator_cfg` must equal the shot "
                            "aggregator's config (the only released setting).")
        qformer = shot.section("layer_cfg")
        self_mixer = qformer.section("self_mixer_cfg").section("block_cfg")
        similarity = vtm.section("similarity_head_cfg").section("layer_cfg")
        if vtm.get("multiscale", bool, False) or vtm.get("soft_label", bool, False):
            raise UserError(f"{source}: `{vtm.path}.multiscale` / `soft_label` are not supported.")
        vtm_fields = dict(
            vtm_num_queries=qformer.get("query_num", int), vtm_num_layers=qformer.get("num_layer", int),
            vtm_path_pdrop=qformer.get("path_pdrop", float), vtm_heads=self_mixer.get("n_head", int),
            vtm_sim_dim=similarity.get("con_dim", int), vtm_loss_weight=vtm.get("loss_weight", float, 1.0))

    quirk_cfg = model.section("quirks") if "quirks" in model.value else _Section(source, "model.quirks", {})
    unknown_quirks = sorted(set(quirk_cfg.value) - set(Quirks.__dataclass_fields__))
    if unknown_quirks:
        raise UserError(f"{source}: unknown key(s) under `model.quirks`: {', '.join(unknown_quirks)}.")
    quirks = Quirks(**{k: quirk_cfg.get(k, bool, v.default) for k, v in Quirks.__dataclass_fields__.items()})

    config = ModelConfig(
        embed_dim=embed_dim,
        num_heads=num_heads,
        max_seq_len=dataset.get("max_seq_len", int, 2560),
        video_stem=video_stem,
        text_stem=_stem(text_stem_stage),
        object_stem=_stem(object_stem_stage),
        num_text_blocks=num_text,
        num_object_blocks=num_object,
        num_video_blocks=num_video,
        num_fpn_blocks=num_fpn,
        text_path_pdrop=text_cfg.get("path_pdrop", float, 0.0),
        object_path_pdrop=object_cfg.get("path_pdrop", float, 0.1),
        video_path_pdrop=video_cfg.get("path_pdrop", float, 0.1),
        fpn_path_pdrop=fpn_cfg.get("path_pdrop", float, 0.0),
        fpn_window=fpn_cfg.get("mha_win_size", int, -1),
        fpn_downsample=strides[0],
        text_abs_pe=text_stage.get("use_abs_pe", bool, False),
        regression_range=regression_range,
        object_branch=arch == MAMBA_ARCH_WITH_OBJECTS,
        scale_factor=model.get("scale_factor", int, 2),
        fpn_start_level=model.get("fpn_start_level", int, 0),
        max_buffer_len_factor=model.get("max_buffer_len_factor", float, 4.0),
        num_classes=cls_cfg.get("num_classes", int),
        head_dim=cls_cfg.get("feat_dim", int),
        head_num_layers=cls_cfg.get("num_layers", int, 3),
        head_kernel_size=cls_cfg.get("kernel_size", int, 3),
        head_with_ln=cls_cfg.get("with_ln", bool, False),
        cls_prior_prob=cls_cfg.get("prior_prob", float, 0.01),
        init_loss_normalizer=heads.get("loss_normalizer", float),
        loss_normalizer_momentum=heads.get("loss_normalizer_momentum", float),
        label_smoothing=heads.get("train_label_smoothing", float),
        reg_loss_weight=heads.get("reg_loss_weight", float),
        center_sample_radius=heads.get("center_sample_radius", float),
        decode=DecodeConfig(
            pre_nms_thresh=heads.get("pre_nms_thresh", float),
            pre_nms_topk=heads.get("pre_nms_topk", int),
            duration_thresh=heads.get("duration_thresh", float),
            iou_threshold=heads.get("iou_threshold", float),
            min_score=heads.get("min_score", float),
            max_seg_num=heads.get("max_seg_num", int),
            half_clip_offset=quirks.half_clip_time_offset),
        use_vtm=use_vtm,
        feat_stride=dataset.get("feat_stride", float, 16.0),
        num_frames=dataset.get("num_frames", float, 32.0),
        default_fps=dataset.get("default_fps", float, None),
        quirks=quirks,
        **vtm_fields,
    )
    _check_consistency(config, reg_cfg, source)
    return config


def _check_consistency(config: ModelConfig, reg_cfg: _Section, source: str) -> None:
    """Cross-key checks the reference only asserts (or silently relies on)."""
    if len(config.fpn_strides) != len(config.regression_range):
        raise UserError(f"{source}: `model.regression_range` has {len(config.regression_range)} "
                        f"ranges but the FPN has {len(config.fpn_strides)} levels.")
    if reg_cfg.get("fpn_levels", int) != len(config.fpn_strides):
        raise UserError(f"{source}: `{reg_cfg.path}.fpn_levels` must equal the number of FPN "
                        f"levels ({len(config.fpn_strides)}).")
    if config.embed_dim % config.num_heads:
        raise UserError(f"{source}: the model width {config.embed_dim} is not divisible by "
                        f"{config.num_heads} heads.")
    if config.object_stem.out_dim != config.embed_dim or config.text_stem.out_dim != config.embed_dim:
        raise UserError(f"{source}: the text and object stems must output the model width "
                        f"{config.embed_dim} (`n_out`).")


def load_model_config(path: str | os.PathLike) -> ModelConfig:
    """Read an official OSGNet YAML config (unchanged) into a ModelConfig."""
    return parse_model_config(read_yaml_mapping(path), str(path))
