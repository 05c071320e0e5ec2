"""Output-path checks shared by every command that writes a file: an output is never one of the
inputs, and writing over an existing file is said, not silent."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from osgnet_bench.errors import UserError

PathLike = str | os.PathLike[str]


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name the same file: equal once symlinks, ``.`` and ``..`` are
    resolved, or (both existing) the same inode, which also catches hard links."""
    first, second = Path(a), Path(b)
    if first.resolve() == second.resolve():
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def refuse_output_among_inputs(out: PathLike, inputs: Mapping[str, PathLike | None], option: str = "--out") -> None:
    """Raise ``UserError`` when ``out`` is the same file as one of ``inputs`` (label -> path, None
    entries skipped), before anything is written; the message names both."""
    for label, path in inputs.items():
        if path is not None and same_file(out, path):
            raise UserError(
                f"{option} {out} is the same file as {label} {path}; writing there would destroy an "
                f"input. Choose another {option}."
            )


def say_on_stderr(line: str) -> None:
    """Print one line for the user on stderr (stdout may carry a command's JSON)."""
    print(line, file=sys.stderr)


def say_overwrite(path: PathLike, say: Callable[[str], None] = say_on_stderr) -> None:
    """Say (on stderr by default) that ``path`` is about to be written over, when it exists."""
    if Path(path).exists():
        say(f"overwriting {path}")
