"""``osgnet-bench features``: look inside feature stores."""

from __future__ import annotations

import click

from osgnet_bench.errors import UserError

KINDS = ("video", "text", "objects", "classnames", "captions")


@click.group(name="features")
def command() -> None:
    """Inspect feature stores (LMDB, class-name tables, LaViLa captions)."""


@command.command(name="inspect")
@click.argument("path", type=click.Path(path_type=str))
@click.option(
    "--ann",
    "annotations",
    type=click.Path(path_type=str),
    default=None,
    help="Annotation jsonl: report the ids it needs that the store lacks (non-zero exit if any).",
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=None,
    help="What the store holds; guessed from its layout and first value when omitted.",
)
@click.option(
    "--quick",
    is_flag=True,
    default=False,
    help="Read only the npz header of each feature value (fast, but damaged compressed data goes unnoticed).",
)
def inspect_command(path: str, annotations: str | None, kind: str | None, quick: bool) -> None:
    """Print a store's kind, entry count, sample keys, dtypes and shape statistics.

    Every value is read and checked as training would read it; any damage is an error naming the
    store and the key.
    """
    from osgnet_bench.annotations.jsonl import read_query_jsonl
    from trainers.data.store_report import inspect_store

    records = read_query_jsonl(annotations) if annotations else None
    report = inspect_store(path, kind, records, quick=quick)
    for line in report.lines():
        click.echo(line)
    if report.missing:
        raise UserError(
            f"{path} lacks {len(report.missing)} of the {report.needed} ids that {annotations} needs "
            f"(first: {report.missing[0]!r})."
        )
