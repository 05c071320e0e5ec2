"""The built-in demo of ``osgnet-bench run``: a synthetic dataset in the real formats and the
small model of ``demo.yaml`` beside this module, sized to train on two CPU cores in minutes."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import yaml

from osgnet_bench.errors import UserError
from osgnet_bench.files import atomic_writer
from trainers.config import read_yaml_document
from trainers.synth import SynthOptions, generate_dataset

DATA_DIR = "data"
CONFIG_NAME = "demo_config.yaml"
# 40 videos of ~96 feature steps (~51 s), ~6 queries each: about 190 training queries
DEMO_VIDEOS = 40
DEMO_QUERIES_PER_VIDEO = 6.0
DEMO_STEPS = 96


def demo_sections() -> dict:
    """The model / optimisation sections of the packaged demo config."""
    text = resources.files("osgnet_bench.workflows").joinpath("demo.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def prepare_demo(out: Path, track: str, seed: int = 0, videos: int = DEMO_VIDEOS,
                 queries_per_video: float = DEMO_QUERIES_PER_VIDEO, steps: int = DEMO_STEPS) -> Path:
    """Generate (or reuse) the synthetic ``track`` dataset under ``out/data`` and write the demo
    config next to it; returns the config path. The sizes default to the demo's (tests shrink them)."""
    data = out / DATA_DIR
    marker = data / "synth.json"
    if marker.exists():
        options = json.loads(marker.read_text(encoding="utf-8")).get("options", {})
        if options.get("track") != track:
            raise UserError(f"{data} holds a synthetic {options.get('track')!r} dataset, not {track!r}; "
                            "use another --out.")
    else:
        generate_dataset(data, SynthOptions(track=track, videos=videos, queries_per_video=queries_per_video,
                                            steps=steps, seed=seed))
    document = read_yaml_document(data / "config.yaml")
    document.update(demo_sections())
    config = out / CONFIG_NAME
    with atomic_writer(config) as handle:
        yaml.safe_dump(document, handle, sort_keys=False, default_flow_style=None)
    return config


def demo_test_jsonl(out: Path) -> Path:
    """The test-split annotation jsonl of the demo dataset."""
    synth = json.loads((out / DATA_DIR / "synth.json").read_text(encoding="utf-8"))
    return out / DATA_DIR / synth["annotations"]["test"]["lemma_jsonl"]
