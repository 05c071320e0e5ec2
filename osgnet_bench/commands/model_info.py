"""``osgnet-bench model-info``: parameter counts and shapes of an OSGNet config."""

from __future__ import annotations

import json

import click
from tabulate import tabulate

from osgnet_bench.commands.options import format_option
from osgnet_bench.report import render_rows


@click.command(name="model-info")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=str),
    help="Official OSGNet YAML config (read unchanged).",
)
@format_option(
    "output_format",
    help="table: readable table and notes; json: one JSON object; markdown, csv: the parameter counts.",
)
def command(config_path: str, output_format: str) -> None:
    """Print parameter counts per component and in total, input dims, FPN strides and the scan
    backend that would run on this machine."""
    from trainers.config import load_model_config
    from trainers.model.summary import model_summary

    summary = model_summary(load_model_config(config_path))
    if output_format == "json":
        click.echo(json.dumps(summary, indent=2))
        return
    counts = {**summary["components"], "total": summary["num_parameters"]}
    counts["used at inference"] = summary["inference_parameters"]
    if output_format == "csv":
        click.echo(render_rows([{"component": name, "parameters": count} for name, count in counts.items()], "csv"))
        return
    rows = [(name, f"{count:,}") for name, count in counts.items()]
    tablefmt = "github" if output_format == "markdown" else "simple"
    click.echo(tabulate(rows, headers=["component", "parameters"], colalign=("left", "right"), tablefmt=tablefmt))
    inputs = summary["inputs"]
    click.echo(
        f"\ninputs: video {inputs['video_dim']}, text {inputs['text_dim']}, "
        f"objects {inputs['object_dim']}; width {summary['embed_dim']}"
    )
    click.echo(
        f"max_seq_len {summary['max_seq_len']}, inputs padded to a multiple of "
        f"{summary['pad_multiple']}; FPN strides {summary['fpn_strides']}"
    )
    click.echo(f"VTM branch: {'on (training only)' if summary['vtm'] else 'off'}")
    click.echo(f"selective scan on {summary['device']}: {summary['scan_backend']}")
