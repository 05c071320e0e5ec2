"""Named fault points: a hook that tests use to stop a run at a chosen instant.

Production code calls :func:`point` at the instants where a crash matters (before every optimiser
step, before and after every write and rename of a checkpoint save). Nothing happens unless a
callback was registered; tests register one that raises (an in-process "kill") or calls
``os._exit`` (a real crash of a worker). Torchrun workers are separate processes: a test puts a
``sitecustomize.py`` that registers its callback on ``PYTHONPATH``, so production code reads no
setting of its own.

Points (``details`` in parentheses):

* ``before_step`` / ``after_step`` (``iteration``: optimiser steps taken so far, ``epoch``, ``rank``);
* ``save.before_write`` / ``save.before_rename`` / ``save.after_rename`` (``name``: the file of the
  run directory being committed, e.g. ``checkpoints/last.pt`` or ``summary.json``);
* ``save.before_append`` / ``save.after_append`` (``name``: ``log.jsonl``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

Callback = Callable[[str, Mapping[str, Any]], None]

_callbacks: list[Callback] = []


def point(name: str, /, **details: Any) -> None:
    """Give every registered callback the chance to act at the fault point ``name``."""
    for callback in tuple(_callbacks):
        callback(name, details)


def register(callback: Callback) -> None:
    """Call ``callback(name, details)`` at every fault point from now on."""
    _callbacks.append(callback)


def unregister(callback: Callback) -> None:
    """Stop calling ``callback`` (no error if it was not registered)."""
    if callback in _callbacks:
        _callbacks.remove(callback)


@contextmanager
def registered(callback: Callback) -> Iterator[None]:
    """``callback`` is registered inside the ``with`` block only."""
    register(callback)
    try:
        yield
    finally:
        unregister(callback)
