"""Errors that must end a run instead of being retried.

torchrun restarts a worker group whenever a worker exits non-zero. That is right for a crash,
but wrong for bad input or a diverged loss: a restart would fail the same way again. Such errors
are written to a failure file and the workers exit with status 0; the launcher then reads the
file and reports the message as a ``UserError``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from osgnet_bench.errors import UserError
from osgnet_bench.files import write_json


class NonFiniteLossError(UserError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


def report_failure(path: str | os.PathLike, message: str) -> None:
    """Record ``message`` as the reason the run stopped (atomic; every rank writes the same)."""
    write_json(path, {"error": message})


def clear_failure(path: str | os.PathLike) -> None:
    """Forget a failure left by an earlier launch."""
    Path(path).unlink(missing_ok=True)


def raise_reported_failure(path: str | os.PathLike) -> None:
    """Raise the recorded failure, if any, as a ``UserError``."""
    target = Path(path)
    if not target.exists():
        return
    message = json.loads(target.read_text(encoding="utf-8")).get("error", "the run failed")
    raise UserError(message)
