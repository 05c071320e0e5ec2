"""``osgnet-bench run``: the main job. Train, predict, evaluate and print the metrics table beside
a random-guess baseline; with no config, a built-in demo on synthetic data that runs on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import click

from osgnet_bench.commands.options import format_option, gt_option, track_option
from osgnet_bench.commands.train import launch_options
from osgnet_bench.launch_options import LaunchOptions
from osgnet_bench.report import render_results


@click.command(name="run")
@track_option(help="Benchmark track; without --config the demo imitates nlq (nlq_v2), goalstep or tacos.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="OSGNet YAML config; without it the built-in demo runs (synthetic data, small model).",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config value (repeatable).")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False),
    default=None,
    help="Skip training and predict with these weights (ours or official).",
)
@click.option(
    "--split",
    type=click.Choice(["val", "test"]),
    default="val",
    show_default=True,
    help="Evaluation split; test writes and validates the EvalAI submission.",
)
@click.option(
    "--jsonl",
    type=click.Path(dir_okay=False),
    default=None,
    help="Annotation jsonl of the split (required for test with a config).",
)
@gt_option("Ground truth to score against (default: the config's validation ground truth).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Run directory (default: runs/demo-<track> or runs/<config name>). A finished run there is "
    "reused only with the same config, an unfinished one resumed; another config is refused.",
)
@click.option(
    "--resume",
    type=click.Choice(["auto"]),
    default=None,
    help="Continue the run in --out even under a changed config (a finished run only with more epochs).",
)
@format_option()
@launch_options
def command(
    track: str,
    config_path: str | None,
    overrides: tuple[str, ...],
    checkpoint: str | None,
    split: str,
    jsonl: str | None,
    gt_path: str | None,
    out: Path | None,
    resume: str | None,
    fmt: str,
    launch: LaunchOptions,
) -> None:
    """Train (skipped with --checkpoint), infer on the evaluation split, evaluate with the exact
    metrics and print them beside a random-guess baseline. A run already in --out is reused (same
    config, finished), resumed (same config, unfinished) or refused (another config); the line on
    stderr and the `training` field of --format json say which."""
    from osgnet_bench.workflows.run import RunRequest, run_job

    request = RunRequest(track, config_path, overrides, checkpoint, split, jsonl, gt_path, out, resume)
    result = run_job(request, launch, say=lambda line: click.echo(line, err=True))
    common = {"run_dir": str(result.run_dir), "predictions": str(result.predictions), "training": result.training.value}
    if result.scores is not None:
        model, random = result.scores.model, result.scores.random
        if fmt == "json":
            click.echo(
                json.dumps(
                    {
                        "model": model.to_json(),
                        "random": random.to_json(),
                        "checkpoint": str(result.checkpoint),
                        **common,
                    },
                    indent=2,
                )
            )
        else:
            click.echo(render_results([model, random], fmt, runs=["model", "random"]))
            if fmt == "table":
                click.echo(f"run directory: {result.run_dir}")
        return
    assert result.submission is not None
    submission, report = result.submission.path, result.submission.report
    if fmt == "json":
        click.echo(json.dumps({"submission": str(submission), "validation": report.to_dict(), **common}, indent=2))
    else:
        status = "valid" if report.is_valid else "INVALID"
        click.echo(
            f"submission: {submission} ({status}: {len(report.errors)} errors, "
            f"{len(report.warnings)} warnings, {report.results} queries)"
        )
    if not report.is_valid:
        raise click.exceptions.Exit(1)
