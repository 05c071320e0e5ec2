"""``osgnet-bench synth``: generate a small synthetic dataset in the real formats."""

from __future__ import annotations

from pathlib import Path

import click

from osgnet_bench.commands.options import track_option
from osgnet_bench.errors import UserError
from osgnet_bench.tracks import get_track, synthetic_profile


@click.command(name="synth")
@track_option(help="Which benchmark to imitate: nlq (nlq_v2), goalstep or tacos.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output directory.")
@click.option("--videos", type=int, default=32, show_default=True, help="Videos over train/val/test (70/15/15).")
@click.option("--queries-per-video", type=float, default=8.0, show_default=True, help="Mean queries per video.")
@click.option("--steps", type=int, default=192, show_default=True, help="Typical video length in feature steps.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same files).")
@click.option("--video-dim", type=int, default=64, show_default=True, help="Video feature width.")
@click.option("--text-dim", type=int, default=32, show_default=True, help="Text token feature width.")
@click.option("--class-dim", type=int, default=32, show_default=True, help="Class-name embedding width.")
@click.option(
    "--amplitude",
    type=float,
    default=2.0,
    show_default=True,
    help="Strength of the planted event pattern (background noise has unit variance).",
)
@click.option("--text-noise", type=float, default=0.2, show_default=True, help="Noise on token features.")
@click.option(
    "--narrations",
    type=int,
    default=0,
    show_default=True,
    help="NLQ only: also write NaQ-style narrations (this many per training clip) and pretrain.yaml.",
)
@click.option("--overwrite", is_flag=True, help="Replace a synthetic dataset already in --out.")
def command(
    track: str,
    out: Path,
    videos: int,
    queries_per_video: float,
    steps: int,
    seed: int,
    video_dim: int,
    text_dim: int,
    class_dim: int,
    amplitude: float,
    text_noise: float,
    narrations: int,
    overwrite: bool,
) -> None:
    """Write annotations (official raw JSON + jsonl), every feature store, the class-name table,
    LaViLa captions and a ready config.yaml into --out (with --narrations, also the narration
    pre-training data and pretrain.yaml). See docs/data.md for the generative model."""
    from trainers.synth import SynthOptions, generate_dataset

    profile = synthetic_profile(get_track(track))
    if (out / "synth.json").exists() and not overwrite:
        raise UserError(f"{out} already holds a synthetic dataset (synth.json); pass --overwrite to replace it.")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, expected a directory.")
    options = SynthOptions(
        track=profile,
        videos=videos,
        queries_per_video=queries_per_video,
        steps=steps,
        seed=seed,
        video_dim=video_dim,
        text_dim=text_dim,
        class_dim=class_dim,
        amplitude=amplitude,
        text_noise=text_noise,
        narrations=narrations,
    )
    result = generate_dataset(out, options)
    for split, count in result.counts.items():
        click.echo(f"{split:5}  {count['videos']:4d} videos  {count['queries']:5d} queries")
    click.echo(f"config: {result.config}")
    if result.pretrain_config is not None:
        click.echo(f"pretrain config: {result.pretrain_config}")
