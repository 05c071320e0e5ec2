"""ModelConfig: the OSGNet architecture and its loss / inference settings, as the network reads them.

It is derived from the ``model:`` section of an official OSGNet YAML config (read unchanged) by
:func:`trainers.model.reference_config.build_model_config`; ``max_seq_len`` comes from the
``dataset:`` section (``trainers.config`` hands it over). Every choice is listed in docs/model.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trainers.model.decode import DecodeConfig


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
    quirks: Quirks = field(default_factory=Quirks)

    @property
    def fpn_strides(self) -> tuple[int, ...]:
        """Stride of every FPN level in level-0 steps, e.g. (1, 2, 4, ..., 64)."""
        return tuple(self.scale_factor**i for i in range(self.fpn_start_level, self.num_fpn_blocks + 1))

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
