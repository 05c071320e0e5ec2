"""``osgnet-bench convert-checkpoint``: official OSGNet checkpoint -> osgnet-bench checkpoint."""

from __future__ import annotations

import click


@click.command(name="convert-checkpoint")
@click.argument("checkpoint", type=click.Path(path_type=str))
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=str),
    help="The official YAML config the checkpoint was trained with.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=str),
    help="Where to write the converted checkpoint (written atomically).",
)
def command(checkpoint: str, config_path: str, out_path: str) -> None:
    """Check CHECKPOINT strictly against the model CONFIG builds (every missing, unexpected or
    mis-shaped key is listed) and write it in osgnet-bench's format. --out may not be one of the
    inputs; an existing file is written over, and that is said on stderr."""
    from osgnet_bench.paths import refuse_output_among_inputs, say_overwrite
    from trainers.config import load_model_config
    from trainers.model.checkpoint import convert_checkpoint
    from trainers.model.summary import build_on_meta

    refuse_output_among_inputs(out_path, {"the input checkpoint": checkpoint, "--config": config_path})
    model = build_on_meta(load_model_config(config_path))
    say_overwrite(out_path, lambda line: click.echo(line, err=True))
    summary = convert_checkpoint(checkpoint, model, out_path)
    click.echo(
        f"{out_path}: {summary['tensors']} tensors, {summary['parameters']:,} parameters "
        f"from the {summary['kind']} checkpoint {checkpoint} ({shown_epoch(summary['kind'], summary['epoch'])})."
    )


def shown_epoch(kind: str, recorded: int | None) -> str:
    """The epoch a checkpoint's weights come from, numbered from 1 as training shows it: official
    files (and ours converted from them) record the 0-based index of the epoch, training states
    the number of epochs completed (docs/training.md)."""
    if recorded is None:
        return "epoch unknown"
    if kind == "train-state":
        return f"epoch {recorded}" if recorded > 0 else "before the first epoch ended"
    return f"epoch {recorded + 1}"
