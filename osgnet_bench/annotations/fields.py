"""Typed access to keys of parsed annotation JSON, with errors that name the JSON path.

Numbers are returned exactly as JSON parsed them (``int`` stays ``int``), because converted
files and GoalStep ``annotation_uid`` strings depend on how each number was written.
"""

from __future__ import annotations

import math
from typing import Any

from osgnet_bench.errors import UserError
from osgnet_bench.files import describe_json

Number = int | float


def as_object(value: Any, where: str) -> dict:
    """``value`` when it is a JSON object; otherwise a ``UserError`` naming ``where``."""
    if not isinstance(value, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(value).__name__}.")
    return value


def require(mapping: Any, key: str, where: str) -> Any:
    """``mapping[key]``; a ``UserError`` naming ``where`` when it is not an object or lacks ``key``."""
    if key not in as_object(mapping, where):
        raise UserError(f"{where}: missing key {key!r}.")
    return mapping[key]


def require_list(mapping: Any, key: str, where: str) -> list:
    """``mapping[key]`` when it is a JSON array."""
    value = require(mapping, key, where)
    if not isinstance(value, list):
        raise UserError(f"{where}.{key}: expected a list, got {type(value).__name__}.")
    return value


def require_str(mapping: Any, key: str, where: str) -> str:
    """``mapping[key]`` when it is a string."""
    value = require(mapping, key, where)
    if not isinstance(value, str):
        raise UserError(f"{where}.{key}: expected a string, got {type(value).__name__}.")
    return value


def require_number(mapping: Any, key: str, where: str) -> Number:
    """``mapping[key]`` when it is a JSON number (booleans are refused), type unchanged."""
    return as_number(require(mapping, key, where), f"{where}.{key}")


def as_number(value: Any, where: str) -> Number:
    """``value`` when it is a finite ``int`` or ``float`` (not ``bool``); otherwise a ``UserError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where}: expected a number, got {describe_json(value)}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{where}: expected a finite number, got {describe_json(value)}.")
    return value


def optional_text(mapping: dict, key: str, where: str) -> str:
    """``mapping[key]`` as query text: ``""`` when missing or null, else it must be a string."""
    value = mapping.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UserError(f"{where}.{key}: expected a string, got {type(value).__name__}.")
    return value
