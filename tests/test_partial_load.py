"""Starting a model from another one's weights: what matches is loaded, the rest stays fresh, and
the report says which is which, grouped by module."""

from __future__ import annotations

import pytest
import torch
from tiny_model import tiny_config_document

from osgnet_bench.errors import UserError
from trainers.config import parse_model_config
from trainers.model.checkpoint import MODEL_FORMAT
from trainers.model.osgnet import OSGNet
from trainers.model.partial_load import (INITIALISED, LOADED, MIS_SHAPED, RESET, UNEXPECTED, check_matching,
                                         group_by_module, load_matching)
from trainers.model.summary import build_on_meta

OBJECT_MODULES = ("obj_attn", "ln_obj", "obj_mlp", "ln_obj_mlp", "gate_mlp", "ln_gate_mlp", "drop_path_obj_mlp")


def _pretrain_document(**kwargs) -> dict:
    document = tiny_config_document(tasks=("NLQ",), blocks=2, path_pdrop=0.1, **kwargs)
    document["model"]["video_encoder_cfg"][1]["layer_cfg"]["mamba_arch"] = ["bimamba1", "mlp", "none"]
    return document


def _model(document: dict, seed: int) -> OSGNet:
    torch.manual_seed(seed)
    return OSGNet(parse_model_config(document))


@pytest.fixture()
def pretrained(tmp_path):
    model = _model(_pretrain_document(), seed=1)
    model.loss_normalizer.fill_(17.0)  # training bookkeeping that must not carry over
    path = tmp_path / "pretrain.pt"
    torch.save({"format": MODEL_FORMAT, "version": 1, "epoch": 4, "state_dict": model.state_dict()}, path)
    return model, path


def test_pretrain_to_finetune_loads_everything_shared(pretrained):
    source, path = pretrained
    finetune = _model(tiny_config_document(blocks=2, path_pdrop=0.1), seed=2)
    fresh = {k: v.clone() for k, v in finetune.state_dict().items()}
    report = load_matching(finetune, path)

    state = finetune.state_dict()
    source_state = source.state_dict()
    loaded = report.names(LOADED)
    assert set(loaded) == set(source_state) - {"loss_normalizer"}
    for name in loaded:
        assert torch.equal(state[name], source_state[name]), name
    initialised = report.names(INITIALISED)
    assert initialised and set(initialised) == set(state) - set(source_state)
    for name in initialised:
        assert torch.equal(state[name], fresh[name]), name
        top, rest = name.split(".")[0], name.split(".")
        assert top in ("shot_aggregator", "txt_aggregator", "similarity_head") or rest[3] in OBJECT_MODULES, name
    assert report.names(RESET) == ["loss_normalizer"] and float(finetune.loss_normalizer) == 200.0
    assert report.names(UNEXPECTED) == report.names(MIS_SHAPED) == []
    assert report.epoch == 4 and report.kind == "ours"
    assert report.loaded_values == sum(source_state[n].numel() for n in loaded)


def test_report_groups_by_module(pretrained):
    _, path = pretrained
    report = load_matching(_model(tiny_config_document(blocks=2, path_pdrop=0.1), seed=2), path)
    text = report.render()
    lines = text.splitlines()
    assert lines[0].startswith(f"init from {path} (ours checkpoint, epoch 4): {len(report.names(LOADED))} of ")
    fresh_section = lines[lines.index(next(line for line in lines if "initialised fresh" in line)) + 1:]
    fresh_groups = {line.split()[0] for line in fresh_section if line.startswith("    ")
                    and not line.lstrip().startswith("loss_normalizer")}
    assert fresh_groups == {"shot_aggregator", "txt_aggregator", "similarity_head",
                            *(f"video_encoder.1.*.{m}" for m in OBJECT_MODULES)}
    assert "    text_encoder " in text and "    multiscale_encoder " in text  # whole modules loaded: one line
    assert len(lines) < 40


def test_shape_mismatch_and_unexpected_are_skipped_with_shapes(pretrained, tmp_path):
    source, _ = pretrained
    state = dict(source.state_dict())
    state["extra.weight"] = torch.zeros(3)
    path = tmp_path / "official.pth.tar"
    torch.save({"epoch": 7, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    wider_text = _model(tiny_config_document(blocks=2, path_pdrop=0.1, text_dim=20), seed=3)
    stem_weight = wider_text.state_dict()["text_encoder.0.0.convs.0.conv.weight"].clone()
    report = load_matching(wider_text, path)
    assert report.kind == "official"
    assert report.names(UNEXPECTED) == ["extra.weight"]
    # the text stem is text_dim -> text_dim -> 32: its first conv and norm changed shape
    assert report.names(MIS_SHAPED) == ["text_encoder.0.0.convs.0.conv.weight", "text_encoder.0.0.convs.1.conv.weight",
                                        "text_encoder.0.0.norms.0.weight", "text_encoder.0.0.norms.0.bias"]
    assert report.shapes["text_encoder.0.0.convs.0.conv.weight"] == ((12, 12, 1), (20, 20, 1))
    assert torch.equal(wider_text.state_dict()["text_encoder.0.0.convs.0.conv.weight"], stem_weight)
    text = report.render()
    assert "(12, 12, 1) -> (20, 20, 1)" in text and "\n    extra " in text


def test_meta_check_reports_without_loading(pretrained):
    _, path = pretrained
    report = check_matching(build_on_meta(parse_model_config(tiny_config_document(blocks=2, path_pdrop=0.1))), path)
    assert report.counts()[LOADED] > 0 and report.counts()[INITIALISED] > 0


def test_nothing_in_common_is_an_error(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"backbone.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(UserError, match="no tensor of this checkpoint matches"):
        load_matching(_model(tiny_config_document(), seed=0), path)


def test_grouping_falls_back_to_exact_names_when_blocks_differ():
    status = {"a.1.0.x.weight": LOADED, "a.1.1.x.weight": MIS_SHAPED, "a.1.0.y.weight": LOADED,
              "a.1.1.y.weight": LOADED, "b.w": LOADED}
    assert group_by_module(["a.1.0.x.weight", "a.1.0.y.weight", "a.1.1.y.weight", "b.w"], status) == {
        "a.1.0.x.weight": ["a.1.0.x.weight"], "a.1.*.y": ["a.1.0.y.weight", "a.1.1.y.weight"], "b": ["b.w"]}
