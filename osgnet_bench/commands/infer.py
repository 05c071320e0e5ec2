"""``osgnet-bench infer``: predict a split with a checkpoint (ours or official) into a predictions jsonl."""

from __future__ import annotations

from pathlib import Path

import click

from osgnet_bench.commands.train import launch_options
from osgnet_bench.launch_options import LaunchOptions


@click.command(name="infer")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The config the checkpoint was trained with (official configs are read unchanged).",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config value (repeatable).")
@click.option(
    "--checkpoint",
    required=True,
    type=click.Path(dir_okay=False),
    help="Our checkpoint (last.pt, best.pt, exported weights) or an official {epoch, state_dict} file.",
)
@click.option("--split", type=click.Choice(["val", "test"]), default="val", show_default=True, help="Split to predict.")
@click.option(
    "--jsonl",
    type=click.Path(dir_okay=False),
    default=None,
    help="Annotation jsonl of the split (default: dataset.val_jsonl_file; required for test).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Predictions jsonl to write (format: docs/formats.md).",
)
@launch_options
def command(
    config_path: str,
    overrides: tuple[str, ...],
    checkpoint: str,
    split: str,
    jsonl: str | None,
    out: Path,
    launch: LaunchOptions,
) -> None:
    """Top-k windows (seconds, with scores) for every query of the split, sharded across processes
    and gathered in annotation order. --out may not be one of the inputs; an existing file is
    written over, and that is said on stderr."""
    from osgnet_bench.paths import refuse_output_among_inputs, say_overwrite
    from trainers.config import load_run_config
    from trainers.data.config import PATH_KEYS
    from trainers.infer import infer_session

    dataset = load_run_config(config_path, list(overrides)).dataset
    inputs = {
        "--config": config_path,
        "--checkpoint": checkpoint,
        "--jsonl": jsonl,
        **{f"dataset.{key}": getattr(dataset, key) for key in PATH_KEYS},
    }
    refuse_output_among_inputs(out, inputs)
    say_overwrite(out, lambda line: click.echo(line, err=True))
    infer_session(config_path, list(overrides), checkpoint, split, jsonl, out, launch)
    click.echo(f"predictions: {out}")
