"""``model-info`` through the CLI: the parameter totals of the shipped configs equal the reference
state-dict manifests' figures (the oracle the reference measured, not a count of the same model),
the table prints them, and a missing config is one clean error."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml
from tiny_model import tiny_config_document

from osgnet_bench.cli import main
from trainers.model.selective_scan import scan_backend_name

REPO = Path(__file__).resolve().parents[1]
NLQ_V2 = "nlq_v2_state_dict_manifest.json"

# the TACoS finetune model is the NLQ v2 architecture (no manifest of its own)
CONFIG_MANIFESTS = [
    ("nlq_v2/internvideo_finetune.yaml", NLQ_V2, 121_560_586),
    ("goalstep/internvideo_finetune.yaml", "goalstep_state_dict_manifest.json", 121_560_586),
    ("tacos/internvideo_finetune.yaml", NLQ_V2, 121_560_586),
    ("tacos/c3d_glove_scratch.yaml", "tacos_scratch_state_dict_manifest.json", 124_031_986),
]


def model_info(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["model-info", *args])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(("config", "manifest", "total"), CONFIG_MANIFESTS)
def test_totals_equal_the_reference_manifests(reference_fixtures, capsys, config, manifest, total):
    reference = json.loads((reference_fixtures / "manifests" / manifest).read_text(encoding="utf-8"))
    assert reference["num_parameters"] == total
    assert sum(math.prod(shape) for shape in reference["state_dict"].values()) == total
    path = str(REPO / "configs" / config)
    info = json.loads(model_info(capsys, "--config", path, "--format", "json"))
    assert info["num_parameters"] == total
    assert sum(info["components"].values()) == total
    assert re.search(rf"^total\s+{total:,}$", model_info(capsys, "--config", path), re.MULTILINE)


def test_inputs_and_pyramid_of_a_tiny_config(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_document(video_dim=24)))
    info = json.loads(model_info(capsys, "--config", str(path), "--format", "json"))
    assert info["fpn_strides"] == [1, 2, 4, 8, 16, 32, 64]
    assert info["inputs"] == {"video_dim": 24, "text_dim": 12, "object_dim": 16}
    assert info["scan_backend"] == scan_backend_name(info["device"])
    assert f"{info['num_parameters']:,}" in model_info(capsys, "--config", str(path))


def test_missing_config_is_one_clean_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["model-info", "--config", str(tmp_path / "absent.yaml")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "absent.yaml: no such file" in err and "Traceback" not in err
