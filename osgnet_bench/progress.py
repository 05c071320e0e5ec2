"""Progress of a long loop on a console: a tqdm bar on a terminal, plain lines elsewhere.

A redirected log (``2> train.log``, a batch job's output file) gets one readable line every
``PLAIN_INTERVAL_S`` seconds, on the first step and on the last one, instead of the carriage-return
frames of a bar::

    epoch 2/6  it 40/120  loss 0.2100  lr 1.00e-04  3.1 samples/s
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Protocol

from tqdm import tqdm

PLAIN_INTERVAL_S = 10.0


class ProgressDisplay(Protocol):
    """What a loop calls on its progress display."""

    def update(self, steps: int = 1) -> object: ...

    def set_status(self, status: str) -> None: ...

    def close(self) -> None: ...


class _Bar:
    """A tqdm bar (terminal) with :class:`ProgressDisplay`'s methods."""

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar

    def update(self, steps: int = 1) -> object:
        return self.bar.update(steps)

    def set_status(self, status: str) -> None:
        self.bar.set_postfix_str(status, refresh=False)

    def close(self) -> None:
        self.bar.close()


class PlainProgress:
    """One line per ``interval_s`` seconds (and on the first and the last step) on ``file``."""

    def __init__(
        self, file: IO[str], total: int, desc: str, unit: str, initial: int = 0, interval_s: float = PLAIN_INTERVAL_S
    ) -> None:
        self.file, self.total, self.desc, self.unit = file, total, desc, unit
        self.done = initial
        self.interval_s = interval_s
        self.status = ""
        self.last_shown: float | None = None

    def update(self, steps: int = 1) -> None:
        self.done += steps
        now = time.monotonic()
        due = self.last_shown is None or now - self.last_shown >= self.interval_s or self.done >= self.total
        if due:
            self.last_shown = now
            self._show()

    def set_status(self, status: str) -> None:
        self.status = status

    def close(self) -> None:
        """Nothing to clear: every line is already complete."""

    def _show(self) -> None:
        parts = [self.desc, f"{self.unit} {self.done}/{self.total}"] + ([self.status] if self.status else [])
        self.file.write("  ".join(parts) + "\n")
        self.file.flush()


def is_terminal(file: IO[str]) -> bool:
    """Whether ``file`` is an interactive terminal (a closed or odd stream is not)."""
    try:
        return file.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class _Silent:
    def update(self, steps: int = 1) -> None:
        pass

    def set_status(self, status: str) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def progress_display(
    file: IO[str], total: int, desc: str, unit: str, enabled: bool = True, initial: int = 0
) -> Iterator[ProgressDisplay]:
    """The display for a loop of ``total`` steps on ``file``: a tqdm bar on a terminal, a
    :class:`PlainProgress` elsewhere, nothing when not ``enabled``; closed on the way out (an
    error too, so that a message after it starts on a line of its own)."""
    display: ProgressDisplay
    if not enabled:
        display = _Silent()
    elif is_terminal(file):
        display = _Bar(tqdm(total=total, initial=initial, file=file, desc=desc, unit=unit, dynamic_ncols=True))
    else:
        display = PlainProgress(file, total, desc, unit, initial)
    try:
        yield display
    finally:
        display.close()
