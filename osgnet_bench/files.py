"""Reading JSON / JSON Lines with precise error locations, and atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import yaml

from osgnet_bench.errors import UserError


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; a syntax error names the file, line and column."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
        ) from None


def read_jsonl(path: str | os.PathLike) -> list[tuple[int, Any]]:
    """Parse a JSON Lines file into ``(line_number, value)`` pairs (1-based, blank lines skipped).

    A line that is not valid JSON raises a ``UserError`` naming the file, line and column.
    """
    rows: list[tuple[int, Any]] = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{path}: line {number} is not valid JSON (column {exc.colno}: {exc.msg})."
            ) from None
    return rows


def read_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file, turning a missing or unreadable file into a ``UserError``."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a file.") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}).") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror}).") from None


class StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key repeated in one mapping (YAML keeps the last one
    silently) and turns an integer too long for Python into a located error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not key_node:
                shown = key_node.value[:80] if isinstance(key_node, yaml.ScalarNode) else "key"
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key `{shown}` (first at line {first.start_mark.line + 1})",
                    key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(node.value)} characters is too long", node.start_mark) from None


StrictSafeLoader.add_constructor("tag:yaml.org,2002:int", StrictSafeLoader.construct_yaml_int)


def read_yaml_mapping(path: str | os.PathLike) -> dict:
    """Parse a YAML file whose top level is a mapping (a config); errors name the line and column.

    A key repeated in one mapping is an error (YAML would keep the last value silently).
    """
    text = read_text(path)
    try:
        document = yaml.load(text, Loader=StrictSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UserError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}.") from None
    except RecursionError:
        raise UserError(f"{path}: invalid YAML: nested too deeply.") from None
    if not isinstance(document, dict):
        raise UserError(f"{path}: expected a YAML mapping with `dataset:` and `model:` sections.")
    return document


def looks_like_jsonl(path: str | os.PathLike) -> bool:
    """True when the file's name says JSON Lines (``.jsonl``), or its first line is one object
    and more lines follow."""
    if str(path).endswith(".jsonl"):
        return True
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
        second = handle.readline()
    if not second.strip():
        return False
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False


@contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success flush, fsync and rename it over ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched, so a reader
    never sees a half-written file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    encoding = None if "b" in mode else "utf-8"
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def write_json(path: str | os.PathLike, value: Any, indent: int | None = None) -> None:
    """Write ``value`` as JSON atomically."""
    with atomic_writer(path) as handle:
        handle.write(json.dumps(value, indent=indent))
        handle.write("\n")


def write_jsonl(path: str | os.PathLike, rows: list[Any], trailing_newline: bool = True) -> None:
    """Write one JSON value per line atomically.

    ``trailing_newline=False`` reproduces the reference's files, which end without a final newline.
    """
    with atomic_writer(path) as handle:
        handle.write("\n".join(json.dumps(row) for row in rows))
        if trailing_newline and rows:
            handle.write("\n")
