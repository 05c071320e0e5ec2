"""Parameters, build time and one training step time of the full-size model of each shipped config.

For every config in ``configs/`` (or those named by ``--configs``): build the model
(``OSGNet(load_run_config(path).model)``, timed), then time one training step (forward +
backward, no optimiser) on one synthetic query of the config's widths: B = 1, 24 feature steps
padded to the shortest legal length, objects where the config runs the object branch, and two VTM
queries with shots where it uses VTM (the inputs of ``tests/test_configs_step.py``). The step
time is the best of ``--repeats`` runs (wall and CPU seconds of this process), with
``--threads`` torch intra-op threads.

By default only distinct networks are timed: the GoalStep and TACoS InternVideo configs build the
NLQ v2 finetune network exactly (``tests/test_configs_step.py::test_same_network``); ``--all``
times them too. Usage::

    python bench/config_steps.py                        # distinct networks (~1-2 min)
    python bench/config_steps.py --configs nlq_v1/egovlp_pretrain.yaml nlq_v2/internvideo_finetune.yaml
    python bench/config_steps.py --all --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path

import torch

from trainers.config import load_run_config
from trainers.model.config import ModelConfig
from trainers.model.inputs import GroundingSample
from trainers.model.osgnet import OSGNet

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SAME_NETWORK_AS_NLQ_V2 = ("goalstep/internvideo_finetune.yaml", "tacos/internvideo_finetune.yaml")
LENGTH = 24


@dataclasses.dataclass(frozen=True)
class ConfigStep:
    """One config's row: parameter count, build seconds and best training step seconds."""

    name: str
    parameters: int
    padded_length: int
    build_s: float
    step_wall_s: float
    step_cpu_s: float


def tiny_sample(config: ModelConfig, generator: torch.Generator) -> GroundingSample:
    """One query over LENGTH feature steps (feats ``[D_vid, 24]``, tokens ``[D_txt, 6]``), with
    objects (0-2 per step) and a second VTM query plus two shots where the config reads them."""
    segments = torch.tensor([[4.0, 12.0]], dtype=torch.float64)
    sample = GroundingSample(
        video_id="v0",
        query_id="q0_0",
        fps=30.0,
        duration=LENGTH * 16 / 30,
        feat_stride=16.0,
        feat_num_frames=16.0,
        feats=torch.randn(config.video_stem.in_dim, LENGTH, generator=generator),
        query_feats=torch.randn(config.text_stem.in_dim, 6, generator=generator),
        segments=segments,
        one_hot_labels=torch.ones(1, 1, dtype=torch.int64),
    )
    if config.object_branch:
        objects = [torch.randn(t % 3, config.object_stem.in_dim, generator=generator) for t in range(LENGTH)]
        sample = dataclasses.replace(sample, object_feats=objects)
    if config.use_vtm:
        other_query = torch.randn(config.text_stem.in_dim, 4, generator=generator)
        sample = dataclasses.replace(
            sample,
            video_query_feats=[sample.query_feats, other_query],
            video_segments=[segments, torch.tensor([[14.0, 20.0]], dtype=torch.float64)],
            shots=torch.tensor([[0.0, 10.0, LENGTH], [10.0, LENGTH, config.max_seq_len]]),
        )
    return sample


def measure(name: str, repeats: int) -> ConfigStep:
    """Build the config's model and time ``repeats`` training steps on one tiny sample."""
    config = load_run_config(CONFIGS / name).model
    torch.manual_seed(0)
    start = time.perf_counter()
    model = OSGNet(config).train()
    build_s = time.perf_counter() - start
    sample = tiny_sample(config, torch.Generator().manual_seed(0))
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        model.zero_grad(set_to_none=True)
        wall, cpu = time.perf_counter(), time.process_time()
        model([sample])["final_loss"].backward()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return ConfigStep(
        name=name,
        parameters=sum(p.numel() for p in model.parameters()),
        padded_length=config.padded_length(LENGTH),
        build_s=build_s,
        step_wall_s=best_wall,
        step_cpu_s=best_cpu,
    )


def config_names(selected: list[str] | None, everything: bool) -> list[str]:
    """Config paths relative to ``configs/``: the selected ones, else all (or the distinct networks)."""
    if selected:
        missing = [name for name in selected if not (CONFIGS / name).is_file()]
        if missing:
            raise SystemExit(f"no such config under configs/: {', '.join(missing)}")
        return selected
    names = sorted(str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob("*.yaml"))
    return names if everything else [n for n in names if n not in SAME_NETWORK_AS_NLQ_V2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs", nargs="+", help="config paths relative to configs/ (default: every distinct network)"
    )
    parser.add_argument("--all", action="store_true", help="also the configs whose network is NLQ v2 finetune's")
    parser.add_argument("--repeats", type=int, default=2, help="timed training steps per config (best is shown)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    names = config_names(args.configs, args.all)
    torch.set_num_threads(args.threads)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} torch thread(s), "
        f"torch {torch.__version__}; B = 1, {LENGTH} steps, best of {args.repeats}; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"{'config':40} {'parameters':>12} {'T0':>5} {'build s':>8} {'step wall s':>12} {'step CPU s':>11}")
    for name in names:
        row = measure(name, args.repeats)
        print(
            f"{row.name:40} {row.parameters:>12,} {row.padded_length:>5} {row.build_s:>8.2f} "
            f"{row.step_wall_s:>12.2f} {row.step_cpu_s:>11.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
