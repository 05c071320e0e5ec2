"""The options every command declares the same way: ``--track``, ``--format`` and ``--gt``.

One declaration each, so that every command accepts the same track names (``TRACK_NAMES``) and the
same output formats (``FORMATS``), and names its ground-truth / query file ``--gt``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from osgnet_bench.report import FORMATS
from osgnet_bench.tracks import TRACK_NAMES

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

TRACK_CHOICE = click.Choice(TRACK_NAMES, case_sensitive=False)


def track_option(dest: str = "track", help: str = "Benchmark track.") -> Decorator:
    """``--track NAME``, required, one of ``TRACK_NAMES`` (``nlq`` is ``nlq_v2``)."""
    return click.option("--track", dest, required=True, type=TRACK_CHOICE, help=help)


def format_option(dest: str = "fmt", help: str = "Output format.") -> Decorator:
    """``--format``, one of ``FORMATS``, default ``table``."""
    return click.option("--format", dest, type=click.Choice(FORMATS), default="table", show_default=True, help=help)


def gt_option(help: str, required: bool = False) -> Decorator:
    """``--gt FILE``: the ground-truth or test-query file, handed to the command as ``gt_path``."""
    return click.option("--gt", "gt_path", required=required, type=click.Path(dir_okay=False), help=help)
