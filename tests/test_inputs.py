"""``GroundingSample``: the reference's dict converts to it, the timing fields are required, and a
loss that needs a missing field names the samples."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from trainers.model.inputs import GroundingSample, present


def reference_dict(**changes: object) -> dict:
    """A reference-format sample dict (reference model.md §1.1) without the VTM and object keys."""
    sample = {"video_id": "v0", "query_id": "a0_1", "feats": torch.zeros(8, 20), "query_feats": torch.zeros(4, 3),
              "fps": 30, "duration": 10, "feat_stride": 16, "feat_num_frames": 16,
              "segments": torch.tensor([[2.0, 5.0]], dtype=torch.float64),
              "one_hot_labels": torch.ones(1, 1, dtype=torch.int64)}
    sample.update(changes)
    return sample


def test_from_reference_keeps_every_value_and_makes_the_numbers_floats():
    source = reference_dict(shots=torch.tensor([[0.0, 20.0], [20.0, 1024.0]]))
    sample = GroundingSample.from_reference(source)
    assert (sample.fps, sample.duration, sample.feat_stride, sample.feat_num_frames) == (30.0, 10.0, 16.0, 16.0)
    assert all(type(v) is float for v in (sample.fps, sample.duration, sample.feat_stride, sample.feat_num_frames))
    assert sample.feats is source["feats"] and sample.shots is source["shots"] and sample.num_steps == 20
    assert sample.video_query_feats is None and sample.object_feats is None and sample.query is None


@pytest.mark.parametrize(("changes", "named"), [
    ({"fps": None}, "missing fps"),
    ({"feat_stride": None, "feat_num_frames": None}, "missing feat_stride, feat_num_frames"),
    ({"objects_feats": []}, "unknown objects_feats"),
])
def test_from_reference_names_missing_and_unknown_keys(changes, named):
    source = {k: v for k, v in reference_dict(**changes).items() if v is not None}
    with pytest.raises(ValueError, match=named) as info:
        GroundingSample.from_reference(source)
    assert "object_feats" in str(info.value)  # the valid keys are listed


def test_timing_fields_are_required_and_the_sample_is_frozen():
    values = GroundingSample.from_reference(reference_dict())
    without_fps = {f.name: getattr(values, f.name) for f in dataclasses.fields(GroundingSample) if f.name != "fps"}
    with pytest.raises(TypeError, match="fps"):
        GroundingSample(**without_fps)
    with pytest.raises(dataclasses.FrozenInstanceError):
        values.fps = 25.0  # type: ignore[misc]


def test_present_names_the_samples_without_the_field():
    annotated = GroundingSample.from_reference(reference_dict())
    unannotated = GroundingSample.from_reference(reference_dict(query_id="a0_2", segments=None, one_hot_labels=None))
    assert present([annotated], "segments", "the grounding loss") == [annotated.segments]
    with pytest.raises(ValueError, match=r"the VTM loss reads the samples' shots, which is None for a0_1, a0_2"):
        present([annotated, unannotated], "shots", "the VTM loss")
    with pytest.raises(ValueError, match=r"grounding loss .* segments, which is None for a0_2\.$"):
        present([annotated, unannotated], "segments", "the grounding loss")


def test_training_without_the_vtm_inputs_names_the_field(one_thread):
    """The VTM loss reads shots, video_query_feats and video_segments: a sample without them is an
    error naming the field and the sample, not a KeyError from inside the model."""
    from tiny_model import tiny_config_document

    from trainers.config import parse_model_config
    from trainers.model.osgnet import OSGNet

    torch.manual_seed(0)
    model = OSGNet(parse_model_config(tiny_config_document(), "tiny")).train()
    sample = GroundingSample.from_reference(reference_dict(feats=torch.randn(24, 40), query_feats=torch.randn(12, 5)))
    with pytest.raises(ValueError, match="the VTM loss reads the samples' shots, which is None for a0_1"):
        model([sample])
    losses = model([dataclasses.replace(sample, shots=torch.tensor([[0.0, 40.0], [40.0, 1024.0]]),
                                        video_query_feats=[sample.query_feats], video_segments=[sample.segments])])
    assert "vtm_loss" in losses and torch.isfinite(losses["final_loss"])
