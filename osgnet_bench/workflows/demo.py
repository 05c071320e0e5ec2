"""The built-in demo of ``osgnet-bench run``: a synthetic dataset in the real formats and the
small model of ``demo.yaml`` beside this module, sized to train on two CPU cores in minutes.

A repeated demo reuses what an earlier one generated in the same directory and never writes over
a file with other content: the generator is deterministic, so the same options give the same data,
and different options (or an edited config) are refused before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import yaml

from osgnet_bench.errors import UserError
from osgnet_bench.files import atomic_writer, read_json
from trainers.config import read_yaml_document
from trainers.synth import SynthOptions, generate_dataset

DATA_DIR = "data"
MARKER = "synth.json"
CONFIG_NAME = "demo_config.yaml"
# 40 videos of ~96 feature steps (~51 s), ~6 queries each: about 190 training queries
DEMO_VIDEOS = 40
DEMO_QUERIES_PER_VIDEO = 6.0
DEMO_STEPS = 96


def demo_sections() -> dict:
    """The model / optimisation sections of the packaged demo config."""
    text = resources.files("osgnet_bench.workflows").joinpath("demo.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def prepare_demo(
    out: Path,
    track: str,
    seed: int = 0,
    videos: int = DEMO_VIDEOS,
    queries_per_video: float = DEMO_QUERIES_PER_VIDEO,
    steps: int = DEMO_STEPS,
) -> Path:
    """Generate (or reuse) the synthetic ``track`` dataset under ``out/data`` and write the demo
    config next to it; returns the config path. The sizes default to the demo's (tests shrink them)."""
    options = SynthOptions(track=track, videos=videos, queries_per_video=queries_per_video, steps=steps, seed=seed)
    data = out / DATA_DIR
    if data.exists():
        check_generated_with(data, options)
    else:
        generate_dataset(data, options)
    document = read_yaml_document(data / "config.yaml")
    document.update(demo_sections())
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=None)
    config = out / CONFIG_NAME
    if config.exists():
        if config.read_text(encoding="utf-8") != text:
            raise UserError(
                f"{config} differs from the demo config this version writes (edited, or written by "
                "another version); it is left as it is. Choose another --out, or pass it as --config "
                "to run it as it is."
            )
        return config
    with atomic_writer(config) as handle:
        handle.write(text)
    return config


def check_generated_with(data: Path, options: SynthOptions) -> None:
    """``data`` must be a finished synthetic dataset generated with ``options``."""
    marker = data / MARKER
    if not marker.is_file():
        raise UserError(
            f"{data} exists but is not a finished synthetic dataset (no {MARKER}; an interrupted demo "
            "leaves this). Its files are left as they are: delete the directory or choose another --out."
        )
    summary = read_json(marker)
    recorded = summary.get("options", {}) if isinstance(summary, dict) else {}
    wanted = json.loads(json.dumps(asdict(options)))
    differing = sorted(key for key in wanted.keys() | recorded.keys() if wanted.get(key) != recorded.get(key))
    if differing:
        shown = ", ".join(f"{key} {recorded.get(key)!r} (now {wanted.get(key)!r})" for key in differing)
        raise UserError(
            f"{data} holds a synthetic dataset generated with other options: {shown}. It is left as "
            "it is; choose another --out."
        )


def demo_test_jsonl(out: Path) -> Path:
    """The test-split annotation jsonl of the demo dataset."""
    synth = read_json(out / DATA_DIR / MARKER)
    return out / DATA_DIR / synth["annotations"]["test"]["lemma_jsonl"]
