"""The ``osgnet-bench`` command line.

Each sub-command lives in its own module under ``osgnet_bench/commands`` and is imported only
when it runs, so ``osgnet-bench --help`` stays fast and never imports torch. Any ``UserError``
becomes a one-paragraph message on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from osgnet_bench import __version__
from osgnet_bench.errors import UserError

# command name -> (module under osgnet_bench.commands, one-line help shown by --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "evaluate": ("evaluate", "Score predictions against ground truth with the official metrics."),
    "validate": ("validate", "Check an EvalAI submission file before uploading it."),
    "prepare": ("prepare", "Convert official annotation files to the one-query-per-line jsonl."),
    "features": ("features", "Inspect feature stores (LMDB)."),
    "synth": ("synth", "Generate a small synthetic dataset in the real formats."),
    "model-info": ("model_info", "Parameter counts and shapes of a model config."),
    "convert-checkpoint": ("convert_checkpoint", "Convert an official OSGNet checkpoint."),
    "train": ("train", "Train OSGNet (in-process or torchrun DDP), fault-tolerant."),
    "infer": ("infer", "Predict a split with a checkpoint into a predictions jsonl."),
    "run": ("run", "The main job: train, infer, evaluate (a built-in demo without a config)."),
    "submit": ("submit", "Ensemble prediction files into a validated EvalAI submission."),
    "compare": ("compare", "Compare runs: every metric, breakdowns, deltas to a baseline, plots."),
}


# third-party modules that only an optional extra installs -> that extra
EXTRA_OF_MODULE: dict[str, str] = {"torch": "train", "lmdb": "train", "tensorboard": "train", "matplotlib": "plot"}


def missing_extra_message(exc: ModuleNotFoundError, args: list[str]) -> str | None:
    """The one-line message for a command that needs a module of an extra that is not installed
    (None when the missing module is not one an extra brings)."""
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    command = next((arg for arg in args if arg in COMMANDS), "this command")
    return (
        f"`osgnet-bench {command}` needs {module}, which the base install leaves out: install the "
        f"`{extra}` extra with pip install 'osgnet-bench[{extra}]' (in a checkout: pip install -e '.[{extra}]')."
    )


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, _ = COMMANDS[cmd_name]
        module = importlib.import_module(f"osgnet_bench.commands.{module_name}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="osgnet-bench")
def cli() -> None:
    """Train, evaluate, ensemble and submit video grounding models (Ego4D NLQ, GoalStep, TACoS)."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and turn errors into clean messages and exit codes."""
    try:
        exit_code = cli.main(args=argv, prog_name="osgnet-bench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a raw traceback
        message = missing_extra_message(exc, argv or sys.argv[1:]) if isinstance(exc, ModuleNotFoundError) else None
        if message is not None:
            click.echo(f"error: {message}", err=True)
            sys.exit(1)
        if os.environ.get("OSGNET_BENCH_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in osgnet-bench; "
            "set OSGNET_BENCH_DEBUG=1 to see the traceback and please report it.",
            err=True,
        )
        sys.exit(3)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)
