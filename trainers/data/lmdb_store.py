"""Read-only LMDB access that is safe with multi-worker DataLoaders, and an atomic LMDB writer.

A reader opens its environment lazily, in the process that first reads, and reopens it after a
fork (an environment is never used across processes and never pickled). Stores are opened with
``lock=False``: they are immutable once written, so readers need no lock file.

Before opening, a reader checks that the data file holds every page its header names
(:mod:`trainers.data.lmdb_meta`), so a truncated store is an error message instead of a SIGBUS.
Every LMDB read error becomes a ``UserError`` naming the store and the key.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import lmdb

from osgnet_bench.errors import UserError
from trainers.data.lmdb_meta import LmdbFileError, check_data_file

_INITIAL_MAP_SIZE = 64 << 20

# LMDB allows one environment per file per process, so readers of the same store share it.
_open_envs: dict[Path, lmdb.Environment] = {}
_open_envs_pid: int | None = None


def _open_readonly(path: Path, name: str) -> lmdb.Environment:
    """The process-wide read-only environment of ``path``.

    Environments inherited through fork are closed (never read from) and reopened in the child,
    since LMDB handles must not cross a fork.
    """
    global _open_envs_pid
    if _open_envs_pid != os.getpid():
        for inherited in _open_envs.values():
            inherited.close()
        _open_envs.clear()
        _open_envs_pid = os.getpid()
    key = path.resolve()  # cheap next to decoding a value; keeps one handle per real file
    env = _open_envs.get(key)
    if env is None:
        try:
            check_data_file(path)
        except LmdbFileError as exc:
            raise UserError(f"{name} store {path}: {exc}.") from None
        try:
            env = lmdb.open(
                str(path),
                subdir=path.is_dir(),
                readonly=True,
                lock=False,
                readahead=False,
                max_readers=2048,
                meminit=False,
            )
        except lmdb.Error as exc:
            raise UserError(f"{name} store {path}: not a readable LMDB store ({exc}).") from None
        _open_envs[key] = env
    return env


def _forget(path: Path) -> None:
    """Close this process's environment of ``path`` (before the store is replaced)."""
    env = _open_envs.pop(path.resolve(), None) if _open_envs_pid == os.getpid() else None
    if env is not None:
        env.close()


class LmdbReader:
    """Lazily opened, read-only view of one LMDB store (a directory with ``data.mdb``, or a file)."""

    def __init__(self, path: str | os.PathLike, name: str) -> None:
        self.path = Path(path)
        self.name = name
        if not self.path.exists():
            raise UserError(f"{name} store {self.path}: no such LMDB directory or file.")

    @property
    def env(self) -> lmdb.Environment:
        """This process's environment of the store, opened on first use (and again after a fork)."""
        return _open_readonly(self.path, self.name)

    def get(self, key: str) -> bytes | None:
        """The raw value stored under ``key`` (UTF-8 encoded), or ``None``."""
        try:
            with self.env.begin() as txn:
                return txn.get(key.encode("utf-8"))
        except lmdb.Error as exc:
            raise self._damaged(f"reading key {key!r}", exc) from None

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The keys (deduplicated, in first-seen order) that this store lacks; values are not read."""
        absent: list[str] = []
        seen: set[str] = set()
        key = ""
        try:
            with self.env.begin(buffers=True) as txn:
                for key in keys:
                    if key in seen:
                        continue
                    seen.add(key)
                    if txn.get(key.encode("utf-8")) is None:
                        absent.append(key)
        except lmdb.Error as exc:
            raise self._damaged(f"looking up key {key!r}", exc) from None
        return absent

    def keys(self) -> Iterator[str]:
        """Every key, in LMDB (byte) order."""
        for key, _ in self._walk(values=False):
            yield key

    def items(self) -> Iterator[tuple[str, bytes]]:
        """Every (key, value) pair, in LMDB (byte) order."""
        return self._walk(values=True)

    def _walk(self, values: bool) -> Iterator[tuple[str, bytes]]:
        """Every key (decoded) with its value (``b""`` unless ``values``), in LMDB order."""
        where = "reading the first entry"
        try:
            with self.env.begin(buffers=True) as txn:
                for raw_key, value in txn.cursor():
                    key = self._decode_key(bytes(raw_key))
                    where = f"reading the entry after key {key!r}"
                    yield key, bytes(value) if values else b""
        except lmdb.Error as exc:
            raise self._damaged(where, exc) from None

    def _decode_key(self, raw_key: bytes) -> str:
        try:
            return raw_key.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(
                f"{self.name} store {self.path}: key {raw_key[:40]!r} is not UTF-8 text; keys are video or query ids."
            ) from None

    def _damaged(self, doing: str, exc: lmdb.Error) -> UserError:
        return UserError(
            f"{self.name} store {self.path}: {doing} failed ({type(exc).__name__}: {exc}); the store is damaged, "
            "copy it again from its source."
        )

    def __len__(self) -> int:
        try:
            return int(self.env.stat()["entries"])
        except lmdb.Error as exc:
            raise self._damaged("reading the entry count", exc) from None


def write_lmdb(path: str | os.PathLike, items: Iterable[tuple[str, bytes]]) -> int:
    """Write ``(key, value)`` pairs to a new LMDB directory at ``path``; returns the entry count.

    The store is built in a temporary directory next to ``path`` and renamed into place only when
    complete, so a crash never leaves a half-written store. An existing store at ``path`` is
    replaced. The map grows as needed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = _new_sibling_dir(target, "tmp")
    try:
        count = _fill(tmp_dir, items)
        _forget(target)
        if target.exists():
            old = _new_sibling_dir(target, "old")
            os.replace(target, old / target.name)
            os.replace(tmp_dir, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp_dir, target)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return count


def _new_sibling_dir(target: Path, suffix: str) -> Path:
    """A new, empty, hidden directory next to ``target``, created with the user's umask (the store
    directory itself after the rename, so teammates can read it where the umask allows)."""
    while True:
        candidate = target.parent / f".{target.name}.{secrets.token_hex(4)}.{suffix}"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate


def _fill(directory: Path, items: Iterable[tuple[str, bytes]]) -> int:
    env = lmdb.open(str(directory), map_size=_INITIAL_MAP_SIZE, subdir=True, sync=False)
    count = 0
    try:
        for chunk in _chunks(items):
            _put_chunk(env, chunk)
            count += len(chunk)
        env.sync(True)
    finally:
        env.close()
    return count


def _chunks(items: Iterable[tuple[str, bytes]]) -> Iterator[list[tuple[bytes, bytes]]]:
    """Group items into transactions of at most 512 entries or 64 MiB."""
    chunk: list[tuple[bytes, bytes]] = []
    size = 0
    for key, value in items:
        chunk.append((key.encode("utf-8"), value))
        size += len(value)
        if len(chunk) >= 512 or size >= _INITIAL_MAP_SIZE:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _put_chunk(env: lmdb.Environment, chunk: list[tuple[bytes, bytes]]) -> None:
    """Write one chunk in one transaction, growing the map and retrying when it is full."""
    while True:
        try:
            with env.begin(write=True) as txn:
                for key, value in chunk:
                    txn.put(key, value)
            return
        except lmdb.MapFullError:
            needed = sum(len(value) for _, value in chunk)
            env.set_mapsize(env.info()["map_size"] * 2 + 2 * needed)
