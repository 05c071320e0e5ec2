"""Training step (forward + backward) and inference time per sample, with peak memory, of the
OSGNet model on CPU.

Scenarios (each in a fresh subprocess, so peak memory is that process's RSS high-water mark,
``ru_maxrss``, above the RSS it had after building the model; inference runs before the training
step, so each mode's peak is its own):

* small - the parity fixture's config and its two samples (T = 300, 700; T0 = 1024), B = 2.
* full  - an official config (NLQ v2 finetune) at ``--length`` steps (2560), B = 1, synthetic
          inputs of the real sizes (2304-d video, 512-d CLIP tokens and objects, VTM texts, shots).
* full-1024 - the full config at B = 2, T0 = 1024, train-mode forward without gradients: the
          scenario for which model.md section 8 records the reference's CPU time (about 9 s, with
          its Python-loop scan, on another CPU), printed next to ours as the only available
          reference figure.

Times are the best of ``--repeats`` runs after one warm-up run (the full scenarios: no warm-up,
``--full-repeats`` runs). The fixture defaults to the copy in ``tests/data/reference`` and the
config to ``configs/nlq_v2/internvideo_finetune.yaml``. Usage::

    python bench/model_step.py                      # all three scenarios (minutes)
    python bench/model_step.py --skip-full          # seconds, small only
    python bench/model_step.py --fixture FIXTURE.pt --config NLQ_V2.yaml --threads 2
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainers.model.inputs import GroundingSample

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FIXTURE = ROOT / "tests" / "data" / "reference" / "osgnet_small_nlq.pt"
DEFAULT_CONFIG = ROOT / "configs" / "nlq_v2" / "internvideo_finetune.yaml"
SCENARIOS = ("small", "full", "full-1024")
REFERENCE_FULL_1024_FORWARD_S = 9.0  # model.md section 8: reference, train-mode forward, no grad


def rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux /proc)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_sample(
    length: int, seed: int, video_dim: int, text_dim: int, object_dim: int, max_seq_len: int
) -> GroundingSample:
    """One query with realistic sizes."""
    import torch

    from trainers.model.inputs import GroundingSample

    g = torch.Generator().manual_seed(seed)
    cuts = torch.linspace(0, length, 21)
    shots = torch.stack([cuts, torch.cat([cuts[1:], torch.tensor([float(max_seq_len)])])])
    segments = [torch.tensor([[s, s + 20.0]], dtype=torch.float64) for s in torch.linspace(10, length - 40, 6).tolist()]
    return GroundingSample(
        video_id=f"v{seed}",
        query_id=f"q{seed}",
        feats=torch.randn(video_dim, length, generator=g),
        query_feats=torch.randn(text_dim, 14, generator=g),
        object_feats=[torch.randn(t % 3, object_dim, generator=g) for t in range(length)],
        segments=segments[0],
        one_hot_labels=torch.ones(1, 1, dtype=torch.int64),
        video_query_feats=[torch.randn(text_dim, 8 + i, generator=g) for i in range(6)],
        video_segments=segments,
        shots=shots,
        fps=30.0,
        duration=length * 16 / 30,
        feat_stride=16.0,
        feat_num_frames=16.0,
    )


def worker(args: argparse.Namespace) -> dict:
    """Build one scenario's model and inputs, then time train steps and inference."""
    import torch
    import yaml

    from trainers.config import load_model_config, parse_model_config
    from trainers.model.inputs import GroundingSample
    from trainers.model.osgnet import OSGNet

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.worker == "small":
        fixture = torch.load(args.fixture, weights_only=True)
        config = parse_model_config(yaml.safe_load(fixture["config_yaml"]), str(args.fixture))
        samples = [GroundingSample.from_reference(inputs) for inputs in fixture["inputs"]]
        repeats, warmup = args.repeats, 1
    else:
        config = load_model_config(args.config)
        lengths = [args.length] if args.worker == "full" else [900, 700]
        samples = [
            synthetic_sample(
                t, i, config.video_stem.in_dim, config.text_stem.in_dim, config.object_stem.in_dim, config.max_seq_len
            )
            for i, t in enumerate(lengths)
        ]
        repeats, warmup = args.full_repeats, 0
    model = OSGNet(config)
    base = rss_mib()

    def train_step() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        model(samples)["final_loss"].backward()

    def train_forward_no_grad() -> None:
        model.train()
        with torch.no_grad():
            model(samples)

    def inference() -> None:
        model.eval()
        with torch.no_grad():
            model(samples)

    timed = {"full-1024": {"train forward (no grad)": train_forward_no_grad}}.get(
        args.worker, {"inference": inference, "train step": train_step}
    )
    result = {
        "scenario": args.worker,
        "batch": len(samples),
        "T0": config.padded_length(max(s.num_steps for s in samples)),
        "parameters": sum(p.numel() for p in model.parameters()),
        "threads": args.threads,
        "model_mib": base,
        "times": {},
        "peaks": {},
    }
    for name, run in timed.items():
        for _ in range(warmup):
            run()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        result["times"][name] = best
        result["peaks"][name] = peak_rss_mib() - base  # monotonic: run the lighter mode first
    return result


def run_scenario(args: argparse.Namespace, scenario: str) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        scenario,
        "--threads",
        str(args.threads),
        "--repeats",
        str(args.repeats),
        "--full-repeats",
        str(args.full_repeats),
        "--length",
        str(args.length),
    ]
    command += ["--fixture", args.fixture, "--config", args.config]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{scenario} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(result: dict) -> None:
    batch = result["batch"]
    for name, seconds in result["times"].items():
        line = (
            f"{result['scenario']:10s} B={batch} T0={result['T0']:5d} {name:24s} "
            f"{seconds:8.2f} s/batch {seconds / batch:8.2f} s/sample  "
            f"peak +{result['peaks'][name]:7.0f} MiB (model {result['model_mib']:.0f} MiB)"
        )
        if result["scenario"] == "full-1024":
            line += (
                f"  reference {REFERENCE_FULL_1024_FORWARD_S:.0f} s (model.md 8, other CPU), "
                f"ratio {REFERENCE_FULL_1024_FORWARD_S / seconds:.1f}x"
            )
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", default=str(DEFAULT_FIXTURE), help="the parity fixture (osgnet_small_nlq.pt)")
    parser.add_argument(
        "--config", default=str(DEFAULT_CONFIG), help="official config for the full scenarios (NLQ v2 finetune)"
    )
    parser.add_argument("--length", type=int, default=2560, help="T of the full scenario")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, small scenario")
    parser.add_argument("--full-repeats", type=int, default=2, help="timed runs, full scenarios")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--skip-full", action="store_true", help="only the small scenario")
    parser.add_argument("--worker", choices=SCENARIOS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    scenarios = [s for s in SCENARIOS if s == "small" or not args.skip_full]
    needed = [("--fixture", args.fixture)] + ([("--config", args.config)] if len(scenarios) > 1 else [])
    for option, path in needed:
        if not Path(path).is_file():
            parser.error(f"{option} {path}: no such file")
    import torch

    print(f"{platform.processor() or platform.machine()}, {args.threads} torch thread(s), torch {torch.__version__}")
    for scenario in scenarios:
        report(run_scenario(args, scenario))


if __name__ == "__main__":
    main()
