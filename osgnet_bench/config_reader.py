"""The one typed reader of config sections: a parsed YAML mapping -> a frozen dataclass.

The dataclass is the schema. Field names are the keys, type hints the types, defaults the
defaults (a field without one is required), :func:`setting` metadata the allowed range, and an
optional ``validate(self)`` method the checks that involve several fields (it raises
:class:`ConfigValueError`). Keys a section accepts but never reads (the reference format has many)
are listed in the class attribute ``UNUSED_KEYS``: any value is accepted there, except integers
beyond 64 bits. Any other key is an error that lists the valid ones.

One set of coercion rules for every section:

| field type | accepts | rejects |
|---|---|---|
| ``int`` | a 64-bit integer, or an integral float (``2.0`` -> 2) | ``true``, ``2.5``, ``"2"``, ``2**63`` |
| ``float`` | an integer or a float, finite unless ``allow_non_finite`` | ``true``, ``"1e-4"``, ``.nan``, ``.inf`` |
| ``bool`` | ``true`` / ``false`` (YAML also reads ``True``, ``yes``, ``on``) | ``0``, ``1``, ``"true"`` |
| ``str`` | a string | numbers and booleans (``act: 5``) |
| ``Path`` | a non-empty string | anything else |
| ``X | None`` | ``null``, or what ``X`` accepts | |
| ``tuple[X, ...]`` | a list of items ``X`` accepts | a string or mapping |
| ``tuple[X, Y]`` | a list of exactly two items, the first an ``X``, the second a ``Y`` | other lengths |
| ``Literal[a, b]`` | one of the listed values (compared after the rules above) | anything else |
| a dataclass | a mapping read by these rules | unknown keys (the message lists the valid ones) |

Strings are never read as numbers (``max_seq_len: "1024"`` is refused) and numbers never as
booleans. ``null`` is accepted only by ``X | None`` fields; an absent key takes the field's default.
A field may declare ``false_means=v`` when the reference format switches an option off with
``false`` (``dataset.mul_query_input: False`` means 0).

Errors are :class:`~osgnet_bench.errors.UserError` naming the file and the full key path, e.g.
``config.yaml: model.text_encoder_cfg[1].layer_cfg.n_hed: unknown key; valid keys in
model.text_encoder_cfg[1].layer_cfg: ...``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from osgnet_bench.errors import UserError

T = TypeVar("T")
METADATA_KEY = "osgnet_bench.setting"
UNUSED_KEYS_ATTRIBUTE = "UNUSED_KEYS"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
LONG_INT_BITS = 256  # larger integers are described by their size, never printed
MAX_SHOWN_CHARS = 80


@dataclass(frozen=True)
class Setting:
    """What :func:`setting` attaches to a field: bounds, non-finite floats, ``false`` alias, note."""

    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: float | None = None
    allow_non_finite: bool = False
    false_means: Any = None
    note: str = ""

    def range_text(self) -> str:
        """The allowed range, e.g. ``> 0``, ``>= 1`` or ``in [0, 1)``."""
        low = (
            f"[{_number(self.minimum)}"
            if self.minimum is not None
            else f"({_number(self.exclusive_minimum)}"
            if self.exclusive_minimum is not None
            else None
        )
        high = (
            f"{_number(self.maximum)}]"
            if self.maximum is not None
            else f"{_number(self.exclusive_maximum)})"
            if self.exclusive_maximum is not None
            else None
        )
        if low is not None and high is not None:
            return f"in {low}, {high}"
        if low is not None:
            return (">= " if low.startswith("[") else "> ") + low[1:]
        if high is not None:
            return ("<= " if high.endswith("]") else "< ") + high[:-1]
        return ""

    def contains(self, value: float) -> bool:
        return not (
            (self.minimum is not None and value < self.minimum)
            or (self.exclusive_minimum is not None and value <= self.exclusive_minimum)
            or (self.maximum is not None and value > self.maximum)
            or (self.exclusive_maximum is not None and value >= self.exclusive_maximum)
        )


NO_SETTING = Setting()


def setting(
    default: Any = MISSING,
    *,
    minimum: float | None = None,
    exclusive_minimum: float | None = None,
    maximum: float | None = None,
    exclusive_maximum: float | None = None,
    allow_non_finite: bool = False,
    false_means: Any = None,
    note: str = "",
) -> Any:
    """A dataclass field whose value is checked when read: the bounds apply to numbers, ``note``
    is added to any error about the field (say why a value is refused, or what it means)."""
    metadata = {
        METADATA_KEY: Setting(
            minimum, exclusive_minimum, maximum, exclusive_maximum, allow_non_finite, false_means, note
        )
    }
    return dataclasses.field(default=default, metadata=metadata)


class ConfigValueError(Exception):
    """Raised by a dataclass's ``validate()``: ``key`` is relative to the section ("" for the section
    itself, ``a.b`` or ``a[1].b`` deeper) and ``message`` says what is wrong and what would be valid."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def read_section(cls: type[T], value: Any, source: str, path: str = "") -> T:
    """Read ``value`` into the dataclass ``cls``; ``path`` is where the value sits in ``source``
    (e.g. ``"opt"``; ``""`` for a whole file). Raises ``UserError`` naming both."""
    return typing.cast(T, _read_dataclass(cls, value, source, path))


def config_error(source: str, path: str, message: str) -> UserError:
    """The error for a bad value at ``path`` of ``source`` (the format every config error uses)."""
    return UserError(f"{source}: {path}: {message}" if path else f"{source}: {message}")


def describe(value: Any) -> str:
    """A short, always printable rendering of a config value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > LONG_INT_BITS:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    if isinstance(value, Mapping):
        return "a mapping"
    try:
        text = repr(value)
    except ValueError:  # a container holding an integer beyond Python's int->str limit
        return f"a {type(value).__name__} holding an integer too long to print"
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 3] + "..."


def child_path(path: str, key: str | int) -> str:
    """``a.b`` + ``c`` -> ``a.b.c``; ``a.b`` + 1 -> ``a.b[1]``; relative ``c[1].d`` keys are appended."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if not key:
        return path
    if not path or key.startswith("["):
        return f"{path}{key}"
    return f"{path}.{key}"


def valid_keys(cls: type) -> list[str]:
    """Every key a dataclass section accepts: its fields and its ``UNUSED_KEYS``."""
    return sorted({f.name for f in dataclasses.fields(cls)} | set(getattr(cls, UNUSED_KEYS_ATTRIBUTE, ())))


def _read_dataclass(cls: type, value: Any, source: str, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise config_error(source, path, f"must be a mapping of keys to values, got {describe(value)}.")
    hints = get_type_hints(cls)
    spec = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unused = set(getattr(cls, UNUSED_KEYS_ATTRIBUTE, ()))
    for key in value:
        if key not in spec and key not in unused:
            where = f"in {path}" if path else "at the top level"
            raise config_error(
                source, child_path(path, str(key)), f"unknown key; valid keys {where}: {', '.join(valid_keys(cls))}."
            )
        if key in unused:
            _check_unused(value[key], source, child_path(path, str(key)))
    values = {}
    for name, spec_field in spec.items():
        if name not in value:
            if spec_field.default is MISSING and spec_field.default_factory is MISSING:
                raise config_error(source, child_path(path, name), "required key is missing.")
            continue
        values[name] = _read_value(
            hints[name], value[name], source, child_path(path, name), spec_field.metadata.get(METADATA_KEY, NO_SETTING)
        )
    instance = cls(**values)
    validate = getattr(instance, "validate", None)
    if validate is not None:
        try:
            validate()
        except ConfigValueError as exc:
            raise config_error(source, child_path(path, exc.key), exc.message) from None
    return instance


def _check_unused(value: Any, source: str, path: str) -> None:
    """An unused key may hold anything YAML can write, except an integer beyond 64 bits (no config
    holds one, and the resolved config could not be written back)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_unused(item, source, child_path(path, str(key)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_unused(item, source, child_path(path, index))
    elif isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise config_error(source, path, f"must be a 64-bit integer, got {describe(value)}.")


def _read_value(kind: Any, value: Any, source: str, path: str, rule: Setting) -> Any:
    try:
        return _coerce(kind, value, source, path, rule)
    except ConfigValueError as exc:
        note = f" {rule.note}" if rule.note else ""
        raise config_error(source, child_path(path, exc.key), exc.message + note) from None


def _coerce(kind: Any, value: Any, source: str, path: str, rule: Setting) -> Any:
    """``value`` as ``kind``; raises ``ConfigValueError`` (key "") for this value, ``UserError`` deeper."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        return _coerce_union(get_args(kind), value, source, path, rule)
    if value is False and rule.false_means is not None:
        return rule.false_means
    if value is None:
        raise ConfigValueError("", f"must be {_kind_name(kind)}, got null.")
    if origin is Literal:
        return _coerce_literal(get_args(kind), value)
    if origin is tuple:
        return _coerce_tuple(get_args(kind), value, source, path)
    if dataclasses.is_dataclass(kind):
        return _read_dataclass(typing.cast(type, kind), value, source, path)
    if kind is Any:
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigValueError("", f"must be true or false, got {describe(value)}.")
        return value
    if kind is int:
        return _check_bounds(_as_int(value), rule)
    if kind is float:
        return _check_bounds(_as_float(value, rule), rule)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigValueError("", f"must be a string, got {describe(value)}.")
        return value
    if kind is Path:
        if not isinstance(value, (str, Path)) or not str(value):
            raise ConfigValueError("", f"must be a path (a non-empty string), got {describe(value)}.")
        return Path(value)
    raise TypeError(f"config schema: unsupported field type {kind!r} at {path}")


def _coerce_union(arms: tuple, value: Any, source: str, path: str, rule: Setting) -> Any:
    if value is None and type(None) in arms:
        return None
    candidates = [arm for arm in arms if arm is not type(None)]
    if len(candidates) != 1:
        raise TypeError(f"config schema: only `X | None` unions are supported, got {arms!r} at {path}")
    return _coerce(candidates[0], value, source, path, rule)


def _coerce_literal(choices: tuple, value: Any) -> Any:
    for choice in choices:
        try:
            coerced = _coerce(type(choice), value, "", "", NO_SETTING)
        except ConfigValueError:
            continue
        if coerced == choice:
            return choice
    listed = ", ".join(describe(c) if not isinstance(c, str) else c for c in choices)
    return_text = f"must be {listed}" if len(choices) == 1 else f"must be one of: {listed}"
    raise ConfigValueError("", f"{return_text}; got {describe(value)}.")


def _coerce_tuple(arms: tuple, value: Any, source: str, path: str) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise ConfigValueError("", f"must be a list, got {describe(value)}.")
    if len(arms) == 2 and arms[1] is Ellipsis:
        kinds = [arms[0]] * len(value)
    else:
        if len(value) != len(arms):
            raise ConfigValueError("", f"must be a list of {len(arms)} items, got {len(value)}.")
        kinds = list(arms)
    return tuple(
        _read_value(kind, item, source, child_path(path, index), NO_SETTING)
        for index, (kind, item) in enumerate(zip(kinds, value, strict=True))
    )


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigValueError("", f"must be an integer, got {describe(value)}.")
    if isinstance(value, float):
        if not value.is_integer():
            raise ConfigValueError("", f"must be an integer, got {describe(value)}.")
        value = int(value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ConfigValueError("", f"must be a 64-bit integer (at most {INT64_MAX} in size), got {describe(value)}.")
    return value


def _as_float(value: Any, rule: Setting) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigValueError("", f"must be a number, got {describe(value)}.")
    try:
        number = float(value)
    except OverflowError:
        raise ConfigValueError("", f"must be a finite number, got {describe(value)}.") from None
    if not rule.allow_non_finite and not math.isfinite(number):
        raise ConfigValueError("", f"must be a finite number, got {describe(number)}.")
    return number


def _check_bounds(value: Any, rule: Setting) -> Any:
    if not rule.contains(value):
        raise ConfigValueError("", f"must be {rule.range_text()}, got {describe(value)}.")
    return value


def _kind_name(kind: Any) -> str:
    names = {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a string",
        Path: "a path (a non-empty string)",
    }
    if kind in names:
        return names[kind]
    origin = get_origin(kind)
    if origin is tuple:
        return "a list"
    if origin is Literal:
        return "one of: " + ", ".join(str(c) for c in get_args(kind))
    if dataclasses.is_dataclass(kind):
        return "a mapping"
    return "a value"


def _number(value: float | None) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
