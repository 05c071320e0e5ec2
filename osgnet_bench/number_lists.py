"""Command-line values that list numbers, such as ``--thresholds 0.3,0.5`` or ``--topk "1 5"``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from osgnet_bench.errors import UserError

Number = TypeVar("Number", int, float)


def parse_number_list(text: str, option: str, kind: Callable[[str], Number]) -> list[Number]:
    """``"0.3,0.5"`` (commas and/or spaces) -> ``[0.3, 0.5]`` converted by ``kind`` (``int`` or
    ``float``); an empty list, a value that ``kind`` refuses, NaN or infinity is a ``UserError``
    naming ``option``."""
    try:
        values = [kind(part) for part in text.replace(",", " ").split()]
    except ValueError:
        name = getattr(kind, "__name__", "number")
        raise UserError(f"{option}: expected comma-separated {name} values, got {text!r}.") from None
    if not all(math.isfinite(value) for value in values):
        raise UserError(f"{option}: values must be finite numbers, got {text!r}.")
    if not values:
        raise UserError(f"{option}: give at least one value.")
    return values
