"""OSGNet (the reference ``MultiTaskArch``): text, object and video encoders, the FPN, the
grounding heads, and the training-only VTM branch.

``forward(samples)`` takes a list of ``GroundingSample`` (inputs.py). In training mode it returns
the loss dict ``{final_loss, cls_loss, reg_loss, vtm_loss}``; in eval mode one prediction dict
per sample with the top ``max_seg_num`` windows in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainers.model.assign import assign_batch
from trainers.model.batching import Batch, collate, pad_sequences
from trainers.model.config import ModelConfig
from trainers.model.decode import VideoTiming, decode_batch
from trainers.model.encoders import MultiscaleEncoder, ObjectEncoder, TextEncoder, VideoEncoder
from trainers.model.heads import ClassificationHead, RegressionHead
from trainers.model.inputs import GroundingSample, present
from trainers.model.layers import sinusoid_table
from trainers.model.losses import nlq_losses, shot_spans, vtm_labels, vtm_loss
from trainers.model.points import PointGenerator
from trainers.model.vtm import CosineHead, QFormer, shot_features


@dataclass
class Encoded:
    """One forward pass up to the heads. Per FPN level l: feats ``[B, C, T_l]``, masks
    ``[B, 1, T_l]``, cls_logits ``[B, T_l, K]``, offsets ``[B, T_l, 2]``, points ``[T_l, 4]``."""

    batch: Batch
    text: torch.Tensor  # [B, C, L]
    video: torch.Tensor  # level 0 before the FPN norms, [B, C, T0]
    fpn_feats: list[torch.Tensor]
    fpn_masks: list[torch.Tensor]
    cls_logits: list[torch.Tensor]
    offsets: list[torch.Tensor]
    points: list[torch.Tensor]


class OSGNet(nn.Module):
    """The grounding network. Shapes: B samples, C = ``config.embed_dim``, T0 = padded length."""

    pos_embd: torch.Tensor  # [C, max_seq_len] buffer, not saved
    loss_normalizer: torch.Tensor  # float64 [] buffer, saved

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.text_encoder = TextEncoder(config)
        self.obj_encoder = ObjectEncoder(config)
        self.video_encoder = VideoEncoder(config)
        self.multiscale_encoder = MultiscaleEncoder(config)
        self.nlq_cls_head = ClassificationHead(config)
        self.nlq_reg_head = RegressionHead(config)
        if config.use_vtm:
            self.shot_aggregator = QFormer(config)
            self.txt_aggregator = QFormer(config)
            self.similarity_head = CosineHead(config)
        table = sinusoid_table(config.max_seq_len, config.embed_dim) / config.embed_dim**0.5
        self.register_buffer("pos_embd", table, persistent=False)
        self.point_generator = PointGenerator(
            config.max_seq_len, config.fpn_strides, config.regression_range, config.max_buffer_len_factor
        )
        # EMA of the number of positive points; float64 like the reference's python float
        self.register_buffer("loss_normalizer", torch.tensor(config.init_loss_normalizer, dtype=torch.float64))

    @property
    def device(self) -> torch.device:
        return self.pos_embd.device

    def encode(self, samples: list[GroundingSample]) -> Encoded:
        """Batch ``samples`` and run the encoders and the heads."""
        t0 = self.config.padded_length(max(s.num_steps for s in samples))
        batch = collate(samples, t0, self.config.object_stem.in_dim, self.device)
        text = self.text_encoder(batch.text, batch.text_mask, self.pos_embd)
        objects = None
        if batch.objects is not None and self.config.object_branch:
            objects = self.obj_encoder(batch.objects, batch.object_mask, text, batch.text_mask)
        video = self.video_encoder(
            batch.video, batch.video_mask, self.pos_embd, objects, batch.object_mask, text, batch.text_mask
        )
        feats, masks = self.multiscale_encoder(video, batch.video_mask)
        return Encoded(
            batch=batch,
            text=text,
            video=video,
            fpn_feats=feats,
            fpn_masks=masks,
            cls_logits=self.nlq_cls_head(feats, masks),
            offsets=self.nlq_reg_head(feats, masks),
            points=self.point_generator([f.shape[-1] for f in feats]),
        )

    def forward(self, samples: list[GroundingSample]) -> dict[str, torch.Tensor] | list[dict]:
        encoded = self.encode(samples)
        if self.training:
            return self.losses(samples, encoded)
        return self.predict(samples, encoded)

    def losses(self, samples: list[GroundingSample], encoded: Encoded) -> dict[str, torch.Tensor]:
        """Focal + DIoU grounding losses (+ weighted VTM loss); updates the loss normaliser when
        training with gradients (not in a no-grad validation-loss pass)."""
        config = self.config
        cls_targets, reg_targets = assign_batch(
            encoded.points,
            present(samples, "segments", "the grounding loss"),
            present(samples, "one_hot_labels", "the grounding loss"),
            config.center_sample_radius,
        )
        nlq = nlq_losses(
            encoded.cls_logits,
            encoded.offsets,
            [m.squeeze(1) for m in encoded.fpn_masks],
            cls_targets,
            reg_targets,
            float(self.loss_normalizer),
            config.loss_normalizer_momentum,
            config.label_smoothing,
            config.reg_loss_weight,
        )
        if self.training and torch.is_grad_enabled():
            self.loss_normalizer.fill_(nlq.normalizer)
        losses = {"final_loss": nlq.total, "cls_loss": nlq.cls, "reg_loss": nlq.reg}
        if config.use_vtm:
            normalizer = nlq.normalizer if config.quirks.vtm_loss_over_normalizer else 1.0
            losses["vtm_loss"] = self.vtm_loss(samples, encoded.batch, normalizer)
            losses["final_loss"] = losses["final_loss"] + config.vtm_loss_weight * losses["vtm_loss"]
        return losses

    def vtm_loss(self, samples: list[GroundingSample], batch: Batch, normalizer: float) -> torch.Tensor:
        """InfoNCE between every query of each video and the shots of the batch, computed on the
        text- and object-free video encoding (model.md 2.8, 3.3). Zero when the batch has no
        non-empty shot."""
        spans = [shot_spans(shots).to(self.device) for shots in present(samples, "shots", "the VTM loss")]
        if not any(len(sample_spans) for sample_spans in spans):
            return torch.zeros((), device=self.device)
        pure_video = self.video_encoder(batch.video, batch.video_mask, self.pos_embd)
        shots, shot_mask = shot_features(pure_video, spans)
        texts_per_sample = present(samples, "video_query_feats", "the VTM loss")
        tokens, token_mask = pad_sequences([q for texts in texts_per_sample for q in texts])
        token_mask = token_mask.to(self.device)
        texts = self.text_encoder(tokens.to(self.device), token_mask, self.pos_embd)
        shot_vectors, shot_vector_mask = self.shot_aggregator(shots, shot_mask)
        text_vectors, text_vector_mask = self.txt_aggregator(texts, token_mask)
        similarity = self.similarity_head(text_vectors, text_vector_mask, shot_vectors, shot_vector_mask)
        labels = vtm_labels(spans, present(samples, "video_segments", "the VTM loss"))
        return vtm_loss(similarity, labels, normalizer, self.config.vtm_temperature)

    @torch.no_grad()
    def predict(self, samples: list[GroundingSample], encoded: Encoded) -> list[dict]:
        """Per sample: ``video_id``, ``query_id``, ``segments`` ``[K, 2]`` seconds, ``scores``
        ``[K]``, ``labels`` ``[K]``, best first (K <= max_seg_num)."""
        timings = [
            VideoTiming(fps=s.fps, duration=s.duration, feat_stride=s.feat_stride, feat_num_frames=s.feat_num_frames)
            for s in samples
        ]
        detections = decode_batch(
            encoded.points,
            [m.squeeze(1) for m in encoded.fpn_masks],
            encoded.cls_logits,
            encoded.offsets,
            timings,
            self.config.decode,
        )
        return [
            {
                "video_id": s.video_id,
                "query_id": s.query_id,
                "segments": d.segments.cpu(),
                "scores": d.scores.cpu(),
                "labels": d.labels.cpu(),
            }
            for s, d in zip(samples, detections, strict=True)
        ]
