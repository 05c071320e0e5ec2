"""The project's configs (configs/): one per track + feature set + stage, each with exactly the
hyperparameters and architecture of the reference file it replaces, relative paths, and a README
row. Models are built on the meta device here; tests/test_configs_step.py trains a step."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from osgnet_bench.config_reader import read_section
from osgnet_bench.errors import UserError
from trainers.config import load_model_config, parse_run_config
from trainers.data.config import PATH_KEYS, DatasetConfig
from trainers.model.summary import build_on_meta, model_summary

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
V2_FINETUNE_REF = "Ego4D-NLQ/v2/ego4d_nlq_v2_multitask_finetune_2e-4.yaml"
V2_PRETRAIN_DEAD_REF = "Ego4D-NLQ/v2/ego4d_nlq_v2_object_bimamba1_noobj_mlp_pretrainall_2e-4.yaml"
# ours -> the reference file it replaces (the v2 pretrain config is upstream's a26def6, not in the
# reference snapshot; it is checked against the finetune config and the spec below)
REFERENCE_OF = {
    "nlq_v1/egovlp_pretrain.yaml": "Ego4D-NLQ/v1/ego4d_nlq_v1_multitask_egovlp_pretrain_2e-4.yaml",
    "nlq_v1/egovlp_finetune.yaml": "Ego4D-NLQ/v1/ego4d_nlq_v1_multitask_egovlp_256_finetune_2e-4.yaml",
    "nlq_v2/internvideo_finetune.yaml": V2_FINETUNE_REF,
    "nlq_v2/egovideo_finetune.yaml": "Ego4D-NLQ/v2/ego4d_nlq_v2_egovideo_finetune_4e-4.yaml",
    "goalstep/internvideo_finetune.yaml": "goalstep/ego4d_goalstep_v2_baseline_2e-4.yaml",
    "tacos/internvideo_finetune.yaml": "tacos/tacos_baseline_1e-4.yaml",
    "tacos/c3d_glove_scratch.yaml": "tacos/tacos_c3d_glove_weight1_5e-5.yaml",
}
V2_PRETRAIN = "nlq_v2/internvideo_pretrain.yaml"
ALL_OURS = sorted([*REFERENCE_OF, V2_PRETRAIN])

# model.md section 7 building blocks: what an ObjectMamba block loses without its object branch
# (obj_attn + obj_mlp + gate_mlp + LN_obj + LN_objmlp + LN_gate(2C) + the obj-mlp layer scale)
OBJECT_BRANCH_PER_BLOCK = 1_050_624 + 2_099_712 + 3_148_288 + 1_024 + 1_024 + 2_048 + 512
VTM_HEADS = 15_257_600
V2_FINETUNE_TOTAL = 121_560_586


def _document(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _run_config(path: Path, tmp_path: Path):
    return parse_run_config(_document(path), str(path), base_dir=tmp_path)


def _without_paths(dataset) -> dict:
    return {k: v for k, v in dataclasses.asdict(dataset).items() if k not in PATH_KEYS}


def test_every_config_file_is_covered():
    assert sorted(str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob("*.yaml")) == ALL_OURS


@pytest.mark.parametrize("ours", sorted(REFERENCE_OF))
def test_same_hyperparameters_as_the_reference(shared_reference, tmp_path, ours):
    mine = _run_config(CONFIGS / ours, tmp_path)
    reference = _run_config(shared_reference / "configs" / REFERENCE_OF[ours], tmp_path)
    assert mine.model == reference.model
    assert _without_paths(mine.dataset) == _without_paths(reference.dataset)
    assert (mine.optim, mine.loader, mine.trainer, mine.seed) == (
        reference.optim, reference.loader, reference.trainer, reference.seed)
    assert (mine.track_name, mine.clip_grad_l2norm, mine.val_start_epoch) == (
        reference.track_name, reference.clip_grad_l2norm, reference.val_start_epoch)


def test_v2_pretrain_is_the_finetune_model_without_objects_and_vtm(shared_reference, tmp_path):
    pretrain = _run_config(CONFIGS / V2_PRETRAIN, tmp_path)
    finetune = _run_config(shared_reference / "configs" / V2_FINETUNE_REF, tmp_path)
    assert not pretrain.model.object_branch and not pretrain.model.use_vtm
    assert pretrain.model == dataclasses.replace(
        finetune.model, object_branch=False, use_vtm=False,
        **{f.name: f.default for f in dataclasses.fields(finetune.model) if f.name.startswith("vtm_")})
    assert (pretrain.optim, pretrain.trainer, pretrain.track_name) == (finetune.optim, finetune.trainer, None)
    assert pretrain.loader.batch_size == 4
    assert pretrain.dataset.mul_query_input == 0
    assert pretrain.dataset.object_feat_dir is None and pretrain.dataset.lavila_caption_dir is None
    # the dataset section of the (unbuildable) v2 pretrain config in the snapshot: same data
    dead_path = shared_reference / "configs" / V2_PRETRAIN_DEAD_REF
    dead = read_section(DatasetConfig, _document(dead_path)["dataset"], str(dead_path), "dataset")
    assert _without_paths(pretrain.dataset) == _without_paths(dead) | {"mul_query_input": 0}
    assert pretrain.dataset.text_feat_dir.name == dead.text_feat_dir.name == "narration_clip_token_features"
    assert pretrain.dataset.train_jsonl_file.name == dead.train_jsonl_file.name


def test_the_unbuildable_reference_config_is_refused_by_name(shared_reference):
    with pytest.raises(UserError, match="ObjectLocPointTransformer"):
        load_model_config(shared_reference / "configs" / V2_PRETRAIN_DEAD_REF)


@pytest.mark.parametrize("ours", ALL_OURS)
def test_paths_are_relative_under_ego4d_data(tmp_path, ours):
    dataset = _document(CONFIGS / ours)["dataset"]
    paths = [dataset[key] for key in PATH_KEYS if key in dataset]
    assert len(paths) >= 6
    assert all(p.startswith("ego4d_data/") and ".." not in p for p in paths)
    resolved = _run_config(CONFIGS / ours, tmp_path).dataset
    assert tmp_path / "ego4d_data" / "features" in resolved.video_feat_dir.parents


@pytest.mark.parametrize(("ours", "total"), [
    ("nlq_v2/internvideo_finetune.yaml", V2_FINETUNE_TOTAL),
    ("goalstep/internvideo_finetune.yaml", V2_FINETUNE_TOTAL),
    ("tacos/internvideo_finetune.yaml", V2_FINETUNE_TOTAL),
    ("tacos/c3d_glove_scratch.yaml", 124_031_986),
    (V2_PRETRAIN, V2_FINETUNE_TOTAL - VTM_HEADS - 4 * OBJECT_BRANCH_PER_BLOCK),
])
def test_parameter_counts(ours, total):
    assert model_summary(load_model_config(CONFIGS / ours), device="cpu")["num_parameters"] == total


def _shapes(config_name: str) -> dict[str, tuple[int, ...]]:
    model = build_on_meta(load_model_config(CONFIGS / config_name))
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def _module_of(name: str) -> str:
    """The top-level module, or the sub-module inside an ObjectMamba block (video_encoder.1.k.<it>)."""
    parts = name.split(".")
    return parts[3] if parts[0] == "video_encoder" else parts[0]


@pytest.mark.parametrize(("pretrain", "finetune"), [
    ("nlq_v1/egovlp_pretrain.yaml", "nlq_v1/egovlp_finetune.yaml"),
    (V2_PRETRAIN, "nlq_v2/internvideo_finetune.yaml"),
    (V2_PRETRAIN, "goalstep/internvideo_finetune.yaml"),
    (V2_PRETRAIN, "tacos/internvideo_finetune.yaml"),
])
def test_pretrain_checkpoints_fit_their_finetune_configs(pretrain, finetune):
    """A pretrain -> finetune pair differs only by the object branch and the VTM heads."""
    source, target = _shapes(pretrain), _shapes(finetune)
    assert set(source) < set(target)
    assert all(target[name] == shape for name, shape in source.items())
    assert {_module_of(name) for name in set(target) - set(source)} == {
        "shot_aggregator", "txt_aggregator", "similarity_head", "obj_attn", "ln_obj", "obj_mlp", "ln_obj_mlp",
        "gate_mlp", "ln_gate_mlp", "drop_path_obj_mlp"}


def test_readme_maps_every_config_to_its_reference():
    readme = (CONFIGS / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    for ours, reference in [*REFERENCE_OF.items(), (V2_PRETRAIN, "ego4d_nlq_v2_multitask_pretrain_2e-4.yaml")]:
        row = next((r for r in rows if r.startswith(f"| `{ours}`")), None)
        assert row is not None, ours
        assert Path(reference).name in row
