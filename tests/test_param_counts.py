"""Parameter counts equal the reference's exactly, and official state-dict manifests map 1:1
(names and shapes) onto our parameters. Models are built on the meta device (no storage).

Each case runs on the project's own config (``configs/``, shipped: runs on every clone) and on the
reference's original config (``shared_dir() / "reference/configs"``: skipped when absent, a failure
under ``CI=true``). The manifests are test data in ``tests/data/reference/manifests``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO_ROOT, shared_path

from trainers.config import load_model_config
from trainers.model.summary import build_on_meta, model_summary

# (ours under configs/, the reference's under reference/configs/)
NLQ = ("nlq_v2/internvideo_finetune.yaml", "Ego4D-NLQ/v2/ego4d_nlq_v2_multitask_finetune_2e-4.yaml")
GOALSTEP = ("goalstep/internvideo_finetune.yaml", "goalstep/ego4d_goalstep_v2_baseline_2e-4.yaml")
TACOS_SCRATCH = ("tacos/c3d_glove_scratch.yaml", "tacos/tacos_c3d_glove_weight1_5e-5.yaml")
TACOS_FINETUNE = ("tacos/internvideo_finetune.yaml", "tacos/tacos_baseline_1e-4.yaml")

# reference model.md section 7, measured on the reference implementation
SHARED_COMPONENTS = {
    "obj_encoder": 13_174_784,
    "multiscale_encoder": 18_973_696,
    "nlq_cls_head": 1_576_449,
    "nlq_reg_head": 1_577_993,
    "shot_aggregator": 5_526_528,
    "txt_aggregator": 5_526_528,
    "similarity_head": 4_204_544,
}
CLIP_COMPONENTS = {"text_encoder": 13_170_688, "video_encoder": 57_829_376, **SHARED_COMPONENTS}
GLOVE_C3D_COMPONENTS = {"text_encoder": 12_889_576, "video_encoder": 60_581_888, **SHARED_COMPONENTS}


def config_path(source: str, names: tuple[str, str]) -> Path:
    """The project's config (``source == "ours"``) or the reference's original one."""
    ours, reference = names
    if source == "ours":
        return REPO_ROOT / "configs" / ours
    return shared_path(f"reference/configs/{reference}")


@pytest.mark.parametrize("source", ["ours", "reference"])
@pytest.mark.parametrize(
    ("config", "total", "components"),
    [
        (NLQ, 121_560_586, CLIP_COMPONENTS),
        (GOALSTEP, 121_560_586, CLIP_COMPONENTS),
        (TACOS_FINETUNE, 121_560_586, CLIP_COMPONENTS),
        (TACOS_SCRATCH, 124_031_986, GLOVE_C3D_COMPONENTS),
    ],
    ids=["nlq_v2", "goalstep", "tacos_finetune", "tacos_scratch"],
)
def test_counts_match_reference(source, config, total, components):
    summary = model_summary(load_model_config(config_path(source, config)), device="cpu")
    assert summary["num_parameters"] == total
    assert summary["components"] == components
    assert summary["inference_parameters"] == total - 15_257_600


@pytest.mark.parametrize("source", ["ours", "reference"])
@pytest.mark.parametrize(
    ("config", "manifest"),
    [
        (NLQ, "nlq_v2_state_dict_manifest.json"),
        (GOALSTEP, "goalstep_state_dict_manifest.json"),
        (TACOS_SCRATCH, "tacos_scratch_state_dict_manifest.json"),
    ],
    ids=["nlq_v2", "goalstep", "tacos_scratch"],
)
def test_manifest_maps_one_to_one(reference_fixtures, source, config, manifest):
    reference = json.loads((reference_fixtures / "manifests" / manifest).read_text())
    model = build_on_meta(load_model_config(config_path(source, config)))
    ours = {name: list(p.shape) for name, p in model.named_parameters()}
    assert ours == reference["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == reference["num_parameters"]
