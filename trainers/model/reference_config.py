"""The ``model:`` section of an official OSGNet YAML config, as written, and how it becomes a
:class:`~trainers.model.config.ModelConfig`.

The section is read into :class:`ModelSection` (one frozen dataclass per layer config of the
reference format) by the project's one config reader (:mod:`osgnet_bench.config_reader`), then
:func:`build_model_config` checks that the parts fit together and derives the ``ModelConfig`` the
network reads. Merge rules follow the reference loader: the YAML wins, and a key the YAML lacks
takes the reference default (``DEFAULTS`` in ``libs/core/config.py``, or the layer's own default).
Keys the reference builds nothing from are accepted and ignored (``UNUSED_KEYS`` of each section);
any other key anywhere under ``model:`` is a ``UserError`` listing the valid keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from osgnet_bench.config_reader import (
    ConfigValueError,
    child_path,
    config_error,
    setting,
)
from osgnet_bench.errors import UserError
from trainers.model.config import ModelConfig, Quirks, StemConfig
from trainers.model.decode import DecodeConfig

# keys under ``model:`` that the reference accepts but never builds anything from (model.md 6.3);
# ``max_seq_len`` is overwritten by ``dataset.max_seq_len`` in the reference
DEAD_MODEL_KEYS = frozenset(
    {
        "generator",
        "backbone_type",
        "fpn_type",
        "backbone_arch",
        "n_mha_win_size",
        "n_head",
        "embd_dim",
        "fpn_dim",
        "head_dim",
        "object_dim",
        "object_win_size",
        "object_use_cross_model",
        "use_abs_pe",
        "embd_kernel_size",
        "embd_with_ln",
        "fpn_with_ln",
        "head_kernel_size",
        "head_num_layers",
        "head_with_ln",
        "use_rel_pe",
        "use_lmha_in_fpn",
        "input_vid_dim",
        "input_txt_dim",
        "num_classes",
        "train_cfg",
        "test_cfg",
        "max_shot_num",
        "max_query",
        "max_seq_len",
    }
)
# ``mamba_arch`` of the released finetune configs (object branch) and of the narration
# pre-training configs (``none``: no object attention, no gate)
MAMBA_ARCH_WITH_OBJECTS = ("bimamba1", "mlp", "obj")
MAMBA_ARCH_WITHOUT_OBJECTS = ("bimamba1", "mlp", "none")
REFERENCE_DEFAULT_REGRESSION_RANGE = ((0.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, 32.0), (32.0, 64.0), (64.0, 10000.0))
ZERO_DROPOUT = "Only 0 is supported (every official config leaves it at 0)."


@dataclass(frozen=True, kw_only=True)
class ConvStackCfg:
    """``layer_cfg`` of a ``MaskedConv1DLayer`` stem; ``n_hidden`` and ``n_out`` default to ``n_in``."""

    num_layer: int = setting(minimum=1)
    n_in: int = setting(minimum=1)
    n_hidden: int | None = setting(None, minimum=1)
    n_out: int | None = setting(None, minimum=1)
    kernel_size: int = setting(1, minimum=1)
    stride: Literal[1] = setting(1, note="Stems never downsample in OSGNet.")
    with_ln: Literal[True] = setting(True, note="Stems without LayerNorm are not supported.")
    act: Literal["relu", "gelu"] = "gelu"
    pdrop: float = setting(0.0, minimum=0.0, maximum=0.0, note=ZERO_DROPOUT)
    end_act: Literal[True] = setting(True, note="The last conv is always followed by its activation.")

    def validate(self) -> None:
        if self.kernel_size % 2 == 0:
            raise ConfigValueError("kernel_size", f"must be odd (the conv pads k // 2), got {self.kernel_size}.")


@dataclass(frozen=True, kw_only=True)
class TransformerBlockCfg:
    """``layer_cfg`` of a ``TransformerBlock`` (text encoder, multiscale encoder)."""

    n_embd: int = setting(minimum=1)
    n_head: int = setting(minimum=1)
    n_ds_strides: tuple[int, int] = (1, 1)
    mha_win_size: int = -1
    path_pdrop: float = setting(0.0, minimum=0.0, exclusive_maximum=1.0)
    attn_pdrop: float = setting(0.0, minimum=0.0, maximum=0.0, note=ZERO_DROPOUT)
    proj_pdrop: float = setting(0.0, minimum=0.0, maximum=0.0, note=ZERO_DROPOUT)
    use_rel_pe: Literal[False] = setting(False, note="Relative position bias is off in every official config.")
    use_cross_modal: Literal[False] = setting(
        False, note="TransformerBlocks never attend to the text in OSGNet (the text reaches the video blocks)."
    )

    def validate(self) -> None:
        if min(self.n_ds_strides) < 1:
            raise ConfigValueError("n_ds_strides", f"must be strides of at least 1, got {list(self.n_ds_strides)}.")


@dataclass(frozen=True, kw_only=True)
class ObjectEncoderBlockCfg:
    """``layer_cfg`` of an ``ObjectEncoderBlock``."""

    n_embd: int = setting(minimum=1)
    n_head: int = setting(4, minimum=1)
    mha_win_size: Literal[1] = setting(1, note="Object blocks attend within one time step.")
    path_pdrop: float = setting(0.1, minimum=0.0, exclusive_maximum=1.0)
    attn_pdrop: float = setting(0.0, minimum=0.0, maximum=0.0, note=ZERO_DROPOUT)
    proj_pdrop: float = setting(0.0, minimum=0.0, maximum=0.0, note=ZERO_DROPOUT)


@dataclass(frozen=True, kw_only=True)
class ObjectMambaBlockCfg:
    """``layer_cfg`` of an ``ObjectMambaBlock`` (the video encoder)."""

    n_embd: int = setting(minimum=1)
    n_head: int = setting(4, minimum=1)
    path_pdrop: float = setting(0.1, minimum=0.0, exclusive_maximum=1.0)
    mamba_arch: tuple[str, ...] = ("mamba1", "mlp")
    use_cross_modal: Literal[True] = setting(True, note="The video blocks always attend to the text.")

    def validate(self) -> None:
        if self.mamba_arch not in (MAMBA_ARCH_WITH_OBJECTS, MAMBA_ARCH_WITHOUT_OBJECTS):
            raise ConfigValueError(
                "mamba_arch",
                f"is {list(self.mamba_arch)}; only {list(MAMBA_ARCH_WITH_OBJECTS)} "
                f"(the released OSGNet) and {list(MAMBA_ARCH_WITHOUT_OBJECTS)} "
                "(its narration pre-training) are supported.",
            )


@dataclass(frozen=True, kw_only=True)
class FpnNormCfg:
    """``layer_cfg`` of ``FPNLayernorm``: one LayerNorm per FPN level."""

    in_channels: tuple[int, ...]
    out_channel: int = setting(minimum=1)


@dataclass(frozen=True, kw_only=True)
class StemStage:
    """A ``{layer_type: MaskedConv1DLayer, layer_num: 1, layer_cfg}`` stage (each encoder's first)."""

    layer_type: Literal["MaskedConv1DLayer"]
    layer_num: Literal[1] = setting(1, note="A stem is one MaskedConv1DLayer (its depth is layer_cfg.num_layer).")
    layer_cfg: ConvStackCfg


@dataclass(frozen=True, kw_only=True)
class TextBlocksStage:
    """``text_encoder_cfg[1]``; ``use_abs_pe`` adds the sinusoidal table to the text (TACoS scratch)."""

    layer_type: Literal["TransformerBlock"]
    layer_num: int = setting(minimum=1)
    layer_cfg: TransformerBlockCfg
    use_abs_pe: bool = False


@dataclass(frozen=True, kw_only=True)
class ObjectBlocksStage:
    """``obj_encoder_cfg[1]``."""

    layer_type: Literal["ObjectEncoderBlock"]
    layer_num: int = setting(minimum=1)
    layer_cfg: ObjectEncoderBlockCfg


@dataclass(frozen=True, kw_only=True)
class VideoBlocksStage:
    """``video_encoder_cfg[1]``."""

    layer_type: Literal["ObjectMambaBlock"]
    layer_num: int = setting(minimum=1)
    layer_cfg: ObjectMambaBlockCfg


@dataclass(frozen=True, kw_only=True)
class FpnBlocksStage:
    """``multiscale_encoder_cfg[0]``: ``layer_num`` down-sampling blocks, so ``layer_num + 1`` levels."""

    layer_type: Literal["TransformerBlock"]
    layer_num: int = setting(minimum=1)
    layer_cfg: TransformerBlockCfg


@dataclass(frozen=True, kw_only=True)
class FpnNormStage:
    """``multiscale_encoder_cfg[1]``."""

    layer_type: Literal["FPNLayernorm"]
    layer_num: Literal[1] = 1
    layer_cfg: FpnNormCfg


@dataclass(frozen=True, kw_only=True)
class ClsHeadCfg:
    """``nlq_heads_cfg.cls_head_cfg``; its trunk settings are shared with the regression head."""

    input_dim: int | None = setting(None, minimum=1)
    feat_dim: int = setting(minimum=1)
    num_classes: int = setting(minimum=1)
    kernel_size: int = setting(3, minimum=1)
    prior_prob: float = setting(0.01, exclusive_minimum=0.0, exclusive_maximum=1.0)
    with_ln: bool = False
    num_layers: int = setting(3, minimum=1)
    empty_cls: tuple[int, ...] = setting((), note="Every class has training samples in every track.")

    def validate(self) -> None:
        if self.empty_cls:
            raise ConfigValueError("empty_cls", f"must be empty, got {list(self.empty_cls)}.")


@dataclass(frozen=True, kw_only=True)
class RegHeadCfg:
    """``nlq_heads_cfg.reg_head_cfg``: the same trunk as the classification head."""

    input_dim: int | None = setting(None, minimum=1)
    feat_dim: int | None = setting(None, minimum=1)
    fpn_levels: int = setting(minimum=1)
    kernel_size: int = setting(3, minimum=1)
    with_ln: bool = False
    num_layers: int = setting(3, minimum=1)


@dataclass(frozen=True, kw_only=True)
class NlqHeadsCfg:
    """``nlq_heads_cfg``: the heads, their losses and the inference post-processing."""

    cls_head_cfg: ClsHeadCfg
    reg_head_cfg: RegHeadCfg
    loss_normalizer: float = setting(exclusive_minimum=0.0)
    loss_normalizer_momentum: float = setting(minimum=0.0, maximum=1.0)
    train_label_smoothing: float = setting(minimum=0.0, exclusive_maximum=1.0)
    reg_loss_weight: float
    center_sample_radius: float = setting(minimum=0.0)
    pre_nms_thresh: float = setting(minimum=0.0, maximum=1.0)
    pre_nms_topk: int = setting(minimum=1)
    duration_thresh: float = setting(minimum=0.0)
    iou_threshold: float = setting(minimum=0.0, maximum=1.0)
    min_score: float = setting(minimum=0.0, maximum=1.0)
    max_seg_num: int = setting(minimum=1)
    course_learning: Literal[False] = setting(False, note="The reference's course-learning path is dead code.")


@dataclass(frozen=True, kw_only=True)
class MixerBlockCfg:
    """``block_cfg`` of a Q-Former mixer."""

    n_head: int = setting(minimum=1)
    n_embd: int = setting(minimum=1)


@dataclass(frozen=True, kw_only=True)
class SelfMixerCfg:
    """``self_mixer_cfg`` of the Q-Former."""

    block_type: Literal["MaskedMHCA"]
    block_cfg: MixerBlockCfg


@dataclass(frozen=True, kw_only=True)
class CrossMixerCfg:
    """``cross_mixer_cfg`` of the Q-Former."""

    block_type: Literal["MaskedMHA"]
    block_cfg: MixerBlockCfg


@dataclass(frozen=True, kw_only=True)
class QFormerCfg:
    """``layer_cfg`` of the ``QFormerLayer`` shot / text aggregator."""

    self_mixer_cfg: SelfMixerCfg
    cross_mixer_cfg: CrossMixerCfg | None = None
    path_pdrop: float = setting(minimum=0.0, exclusive_maximum=1.0)
    query_num: int = setting(minimum=1)
    num_layer: int = setting(minimum=1)


@dataclass(frozen=True, kw_only=True)
class AggregatorCfg:
    """``shot_aggregator_cfg`` / ``txt_aggregator_cfg``."""

    layer_type: Literal["QFormerLayer"]
    layer_cfg: QFormerCfg


@dataclass(frozen=True, kw_only=True)
class SimilarityCfg:
    """``layer_cfg`` of the cosine similarity head (a two-layer MLP on each side, ``with_mlp``)."""

    x_dim: int | None = setting(None, minimum=1)
    y_dim: int | None = setting(None, minimum=1)
    con_dim: int = setting(minimum=1)
    with_mlp: Literal[True] = setting(True, note="The similarity head always projects both sides.")


@dataclass(frozen=True, kw_only=True)
class SimilarityHeadCfg:
    """``similarity_head_cfg``."""

    layer_type: Literal["Cosine"]
    layer_cfg: SimilarityCfg


@dataclass(frozen=True, kw_only=True)
class VtmHeadsCfg:
    """``vtm_heads_cfg`` (read when ``tasks`` holds VTM); ``txt_aggregator_cfg`` may only repeat the shot one."""

    shot_aggregator_cfg: AggregatorCfg
    txt_aggregator_cfg: AggregatorCfg | None = None
    similarity_head_cfg: SimilarityHeadCfg
    loss_weight: float = setting(1.0, minimum=0.0)
    multiscale: Literal[False] = setting(False, note="Multi-scale VTM is not supported.")
    soft_label: Literal[False] = setting(False, note="Soft VTM labels are not supported.")

    def validate(self) -> None:
        if self.txt_aggregator_cfg is not None and self.txt_aggregator_cfg != self.shot_aggregator_cfg:
            raise ConfigValueError(
                "txt_aggregator_cfg",
                "must equal shot_aggregator_cfg (the only released setting); leave it out to copy it.",
            )


@dataclass(frozen=True, kw_only=True)
class ModelSection:
    """The ``model:`` section as written. ``regression_range`` defaults to the reference's six
    ranges; ``scale_factor`` / ``fpn_start_level`` give the FPN strides."""

    UNUSED_KEYS: ClassVar[frozenset[str]] = DEAD_MODEL_KEYS

    text_encoder_cfg: tuple[StemStage, TextBlocksStage]
    obj_encoder_cfg: tuple[StemStage, ObjectBlocksStage]
    video_encoder_cfg: tuple[StemStage, VideoBlocksStage]
    multiscale_encoder_cfg: tuple[FpnBlocksStage, FpnNormStage]
    tasks: tuple[Literal["NLQ", "VTM"], ...]
    nlq_heads_cfg: NlqHeadsCfg
    vtm_heads_cfg: VtmHeadsCfg | None = None
    regression_range: tuple[tuple[float, float], ...] = REFERENCE_DEFAULT_REGRESSION_RANGE
    max_buffer_len_factor: float = setting(4.0, exclusive_minimum=0.0)
    scale_factor: int = setting(2, minimum=2)
    fpn_start_level: int = setting(0, minimum=0)
    quirks: Quirks = field(default_factory=Quirks)

    def validate(self) -> None:
        if "NLQ" not in self.tasks:
            raise ConfigValueError("tasks", f"must include NLQ (the grounding heads), got {list(self.tasks)}.")
        if "VTM" in self.tasks and self.vtm_heads_cfg is None:
            raise ConfigValueError("vtm_heads_cfg", "is required when `tasks` includes VTM.")
        for index, (low, high) in enumerate(self.regression_range):
            if not 0 <= low < high:
                raise ConfigValueError(
                    f"regression_range[{index}]",
                    f"must be a [low, high] pair with 0 <= low < high, got [{low}, {high}].",
                )


def build_model_config(section: ModelSection, max_seq_len: int, source: str, path: str = "model") -> ModelConfig:
    """The ModelConfig of a read ``model:`` section; ``max_seq_len`` comes from ``dataset:``.

    Cross-key checks (widths, head counts, FPN levels) raise ``UserError`` naming ``source`` and
    the key path under ``path``.
    """
    video_stem_stage, video_stage = section.video_encoder_cfg
    text_stem_stage, text_stage = section.text_encoder_cfg
    object_stem_stage, object_stage = section.obj_encoder_cfg
    fpn_stage = section.multiscale_encoder_cfg[0]
    video_stem = _stem(video_stem_stage.layer_cfg)
    embed_dim = video_stem.out_dim
    text_cfg, object_cfg, video_cfg, fpn_cfg = (
        text_stage.layer_cfg,
        object_stage.layer_cfg,
        video_stage.layer_cfg,
        fpn_stage.layer_cfg,
    )
    where = _Where(source, path)
    for key, cfg in (
        ("text_encoder_cfg[1]", text_cfg),
        ("obj_encoder_cfg[1]", object_cfg),
        ("video_encoder_cfg[1]", video_cfg),
        ("multiscale_encoder_cfg[0]", fpn_cfg),
    ):
        if cfg.n_embd != embed_dim:
            raise where.error(
                f"{key}.layer_cfg.n_embd",
                f"is {cfg.n_embd}, but the video stem's n_out (the model width) is {embed_dim}; they must be equal.",
            )
    num_heads = video_cfg.n_head
    for key, cfg in (
        ("text_encoder_cfg[1]", text_cfg),
        ("multiscale_encoder_cfg[0]", fpn_cfg),
        ("obj_encoder_cfg[1]", object_cfg),
    ):
        if cfg.n_head != num_heads:
            raise where.error(
                f"{key}.layer_cfg.n_head",
                f"is {cfg.n_head} but the video blocks have {num_heads}; one head count is supported.",
            )
    if text_cfg.mha_win_size > 1 or text_cfg.n_ds_strides != (1, 1):
        raise where.error(
            "text_encoder_cfg[1].layer_cfg",
            "must use global attention without striding (mha_win_size <= 1, n_ds_strides [1, 1]).",
        )
    if fpn_cfg.n_ds_strides[0] != fpn_cfg.n_ds_strides[1]:
        raise where.error(
            "multiscale_encoder_cfg[0].layer_cfg.n_ds_strides",
            f"must be two equal strides, got {list(fpn_cfg.n_ds_strides)}.",
        )
    heads = section.nlq_heads_cfg
    cls_cfg = heads.cls_head_cfg
    quirks = section.quirks
    use_vtm = "VTM" in section.tasks
    config = ModelConfig(
        embed_dim=embed_dim,
        num_heads=num_heads,
        max_seq_len=max_seq_len,
        video_stem=video_stem,
        text_stem=_stem(text_stem_stage.layer_cfg),
        object_stem=_stem(object_stem_stage.layer_cfg),
        num_text_blocks=text_stage.layer_num,
        num_object_blocks=object_stage.layer_num,
        num_video_blocks=video_stage.layer_num,
        num_fpn_blocks=fpn_stage.layer_num,
        text_path_pdrop=text_cfg.path_pdrop,
        object_path_pdrop=object_cfg.path_pdrop,
        video_path_pdrop=video_cfg.path_pdrop,
        fpn_path_pdrop=fpn_cfg.path_pdrop,
        fpn_window=fpn_cfg.mha_win_size,
        fpn_downsample=fpn_cfg.n_ds_strides[0],
        text_abs_pe=text_stage.use_abs_pe,
        regression_range=section.regression_range,
        object_branch=video_cfg.mamba_arch == MAMBA_ARCH_WITH_OBJECTS,
        scale_factor=section.scale_factor,
        fpn_start_level=section.fpn_start_level,
        max_buffer_len_factor=section.max_buffer_len_factor,
        num_classes=cls_cfg.num_classes,
        head_dim=cls_cfg.feat_dim,
        head_num_layers=cls_cfg.num_layers,
        head_kernel_size=cls_cfg.kernel_size,
        head_with_ln=cls_cfg.with_ln,
        cls_prior_prob=cls_cfg.prior_prob,
        init_loss_normalizer=heads.loss_normalizer,
        loss_normalizer_momentum=heads.loss_normalizer_momentum,
        label_smoothing=heads.train_label_smoothing,
        reg_loss_weight=heads.reg_loss_weight,
        center_sample_radius=heads.center_sample_radius,
        decode=DecodeConfig(
            pre_nms_thresh=heads.pre_nms_thresh,
            pre_nms_topk=heads.pre_nms_topk,
            duration_thresh=heads.duration_thresh,
            iou_threshold=heads.iou_threshold,
            min_score=heads.min_score,
            max_seg_num=heads.max_seg_num,
            half_clip_offset=quirks.half_clip_time_offset,
        ),
        use_vtm=use_vtm,
        quirks=quirks,
        **(_vtm_fields(section.vtm_heads_cfg, embed_dim, where) if use_vtm and section.vtm_heads_cfg else {}),
    )
    _check_consistency(config, section, where)
    return config


@dataclass(frozen=True)
class _Where:
    """The file and the key path of the ``model:`` section, for errors."""

    source: str
    path: str

    def error(self, key: str, message: str) -> UserError:
        return config_error(self.source, child_path(self.path, key), message)


def _stem(cfg: ConvStackCfg) -> StemConfig:
    return StemConfig(
        num_layers=cfg.num_layer,
        in_dim=cfg.n_in,
        hidden_dim=cfg.n_hidden or cfg.n_in,
        out_dim=cfg.n_out or cfg.n_in,
        kernel_size=cfg.kernel_size,
        activation=cfg.act,
    )


def _vtm_fields(vtm: VtmHeadsCfg, embed_dim: int, where: _Where) -> dict:
    """The ``vtm_*`` ModelConfig fields of the VTM heads, after their width checks."""
    qformer = vtm.shot_aggregator_cfg.layer_cfg
    self_mixer = qformer.self_mixer_cfg.block_cfg
    similarity = vtm.similarity_head_cfg.layer_cfg
    widths = [
        ("shot_aggregator_cfg.layer_cfg.self_mixer_cfg.block_cfg.n_embd", self_mixer.n_embd),
        ("similarity_head_cfg.layer_cfg.x_dim", similarity.x_dim),
        ("similarity_head_cfg.layer_cfg.y_dim", similarity.y_dim),
    ]
    if qformer.cross_mixer_cfg is not None:
        cross = qformer.cross_mixer_cfg.block_cfg
        widths.append(("shot_aggregator_cfg.layer_cfg.cross_mixer_cfg.block_cfg.n_embd", cross.n_embd))
        if cross.n_head != self_mixer.n_head:
            raise where.error(
                "vtm_heads_cfg.shot_aggregator_cfg.layer_cfg.cross_mixer_cfg.block_cfg.n_head",
                f"is {cross.n_head} but the self mixer has {self_mixer.n_head}; one head count is supported.",
            )
    for key, width in widths:
        if width is not None and width != embed_dim:
            raise where.error(f"vtm_heads_cfg.{key}", f"is {width}, but the model width is {embed_dim}.")
    return {
        "vtm_num_queries": qformer.query_num,
        "vtm_num_layers": qformer.num_layer,
        "vtm_path_pdrop": qformer.path_pdrop,
        "vtm_heads": self_mixer.n_head,
        "vtm_sim_dim": similarity.con_dim,
        "vtm_loss_weight": vtm.loss_weight,
    }


def _check_consistency(config: ModelConfig, section: ModelSection, where: _Where) -> None:
    """Cross-key checks the reference only asserts (or silently relies on)."""
    levels = len(config.fpn_strides)
    if len(config.regression_range) != levels:
        raise where.error(
            "regression_range", f"has {len(config.regression_range)} ranges but the FPN has {levels} levels."
        )
    heads = section.nlq_heads_cfg
    if heads.reg_head_cfg.fpn_levels != levels:
        raise where.error(
            "nlq_heads_cfg.reg_head_cfg.fpn_levels",
            f"is {heads.reg_head_cfg.fpn_levels}; it must equal the number of FPN levels ({levels}).",
        )
    fpn_norm = section.multiscale_encoder_cfg[1].layer_cfg
    if (
        len(fpn_norm.in_channels) != levels
        or set(fpn_norm.in_channels) != {config.embed_dim}
        or fpn_norm.out_channel != config.embed_dim
    ):
        raise where.error(
            "multiscale_encoder_cfg[1].layer_cfg",
            f"must list {levels} in_channels (one per FPN "
            f"level) and an out_channel, all equal to the "
            f"model width {config.embed_dim}.",
        )
    cls_cfg, reg_cfg = heads.cls_head_cfg, heads.reg_head_cfg
    for key in ("kernel_size", "with_ln", "num_layers", "feat_dim"):
        reg_value = getattr(reg_cfg, key)
        if reg_value is not None and reg_value != getattr(cls_cfg, key):
            raise where.error(
                f"nlq_heads_cfg.reg_head_cfg.{key}",
                f"is {reg_value} but cls_head_cfg.{key} is {getattr(cls_cfg, key)}; both heads share one trunk shape.",
            )
    for name, head in (("cls_head_cfg", cls_cfg), ("reg_head_cfg", reg_cfg)):
        if head.input_dim is not None and head.input_dim != config.embed_dim:
            raise where.error(
                f"nlq_heads_cfg.{name}.input_dim",
                f"is {head.input_dim}, but the heads read the FPN features of width {config.embed_dim}.",
            )
    if config.embed_dim % config.num_heads:
        raise where.error(
            "video_encoder_cfg[1].layer_cfg.n_head",
            f"is {config.num_heads}; the model width {config.embed_dim} must be divisible by it.",
        )
    for key, stem in (("text_encoder_cfg[0]", config.text_stem), ("obj_encoder_cfg[0]", config.object_stem)):
        if stem.out_dim != config.embed_dim:
            raise where.error(
                f"{key}.layer_cfg.n_out",
                f"is {stem.out_dim}; the text and object stems must output the model width {config.embed_dim}.",
            )
