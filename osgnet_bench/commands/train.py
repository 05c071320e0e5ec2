"""``osgnet-bench train``: train OSGNet from a config, in this process or under torchrun."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from osgnet_bench.launch_options import LaunchOptions
from osgnet_bench.report import FORMATS, render_rows

LAUNCH_HELP = {
    "nproc": "Processes per node; more than 1 launches torchrun (DDP: gloo on CPU, NCCL on GPU).",
    "nnodes": "Number of nodes (or MIN:MAX) for a multi-node torchrun job.",
    "rdzv": "host:port of the c10d rendezvous that every node joins (multi-node).",
    "restarts": "How many times torchrun restarts a failed worker group; restarts resume from the last checkpoint.",
}


def launch_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The torchrun options shared by ``train``, ``infer`` and ``run``, handed to the command as one
    ``launch: LaunchOptions`` argument; the defaults are :class:`LaunchOptions`'s."""
    defaults = LaunchOptions()

    @functools.wraps(function)
    def command(
        *args: Any,
        nproc_per_node: int,
        nnodes: str | None,
        rdzv_endpoint: str | None,
        rdzv_id: str,
        max_restarts: int,
        **kwargs: Any,
    ) -> Any:
        launch = LaunchOptions(nproc_per_node, nnodes, rdzv_endpoint, rdzv_id, max_restarts)
        return function(*args, launch=launch, **kwargs)

    for option in reversed(
        [
            click.option(
                "--nproc-per-node",
                type=int,
                default=defaults.nproc_per_node,
                show_default=True,
                help=LAUNCH_HELP["nproc"],
            ),
            click.option("--nnodes", default=defaults.nnodes, help=LAUNCH_HELP["nnodes"]),
            click.option("--rdzv-endpoint", default=defaults.rdzv_endpoint, help=LAUNCH_HELP["rdzv"]),
            click.option(
                "--rdzv-id", default=defaults.rdzv_id, show_default=True, help="Rendezvous id shared by the nodes."
            ),
            click.option(
                "--max-restarts",
                type=int,
                default=defaults.max_restarts,
                show_default=True,
                help=LAUNCH_HELP["restarts"],
            ),
        ]
    ):
        command = option(command)
    return command


@click.command(name="train")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="OSGNet YAML config (official configs are read unchanged).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set opt.learning_rate=1e-4 (repeatable; YAML-typed).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Run directory (default: runs/<config name>)."
)
@click.option(
    "--resume",
    default=None,
    metavar="auto|PATH",
    help="Continue a run: 'auto' takes checkpoints/last.pt of --out, or give a training-state file.",
)
@click.option(
    "--init",
    "init",
    default=None,
    type=click.Path(dir_okay=False),
    help="Start a new run from these weights (ours or official); tensors the checkpoint lacks start fresh.",
)
@click.option(
    "--save-every",
    type=int,
    default=None,
    help="Also checkpoint every N iterations (default: the config's trainer.save_every, 0 = epoch ends only).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="How the closing summary is printed (progress always goes to stderr).",
)
@launch_options
def command(
    config_path: str,
    overrides: tuple[str, ...],
    out: Path | None,
    resume: str | None,
    init: str | None,
    save_every: int | None,
    fmt: str,
    launch: LaunchOptions,
) -> None:
    """Train with AdamW, warm-up + cosine per iteration, EMA and gradient clipping; validate every
    epoch with the track's metrics and keep last/best checkpoints (see docs/training.md)."""
    from trainers.train.launch import train_session

    run_dir = out if out is not None else Path("runs") / Path(config_path).stem
    summary = train_session(config_path, list(overrides), run_dir, resume, init, save_every, launch)
    click.echo(render_summary(summary, fmt))


# what the closing output shows of summary.json, in this order
SUMMARY_KEYS = (
    "track",
    "epochs",
    "iterations",
    "ranked_by",
    "best_metric",
    "best_epoch",
    "last_checkpoint",
    "best_checkpoint",
)


def render_summary(summary: dict[str, Any], fmt: str) -> str:
    """The closing output of ``train``: a few readable lines (table), one row (markdown, csv) or
    the JSON object of :data:`SUMMARY_KEYS`. Epochs are numbered from 1, as in the progress lines."""
    row = {key: summary[key] for key in SUMMARY_KEYS}
    if fmt == "json":
        return json.dumps(row, indent=2)
    if fmt != "table":
        return render_rows([row], fmt)
    total = summary.get("total_epochs", row["epochs"])
    lines = [f"track {row['track']}: trained {row['epochs']} of {total} epochs, {row['iterations']} iterations"]
    if row["best_epoch"] is None:
        lines.append("best: no validated epoch yet")
    else:
        lines.append(f"best: epoch {row['best_epoch']} of {total}, {row['ranked_by']} {row['best_metric']:.2f}")
    lines.append(f"last checkpoint: {row['last_checkpoint']}")
    if row["best_checkpoint"] is not None:
        lines.append(f"best checkpoint: {row['best_checkpoint']}")
    return "\n".join(lines)
