"""The meta pages of an LMDB data file, read without mapping it, and the size check every reader
makes before it opens a store.

LMDB maps its data file into memory. Touching a page past the end of a truncated file (a partial
copy, a full disk) kills the process with SIGBUS before Python can say anything, so readers first
check, with plain file reads, that the file holds every page its header says is in use.

On-disk layout (``mdb.c`` of LMDB 0.9, 64-bit build, native byte order). Pages 0 and 1 are meta
pages; page 1 starts at offset ``page_size``. Offsets within a meta page:

| offset | size | field |
|---|---|---|
| 10 | 2 | page flags (``P_META`` = 0x08) |
| 16 | 4 | ``mm_magic`` = 0xBEEFC0DE |
| 20 | 4 | ``mm_version`` = 1 |
| 40 | 4 | page size (``mm_psize``, kept in the pad field of the free-page database) |
| 136 | 8 | ``mm_last_pg``: the last page number in use |
| 144 | 8 | ``mm_txnid``: the transaction that wrote this meta page |

LMDB uses the meta page with the larger ``mm_txnid``; a complete file holds at least
``(mm_last_pg + 1) * page_size`` bytes. (Linux does not preallocate the map size, so a complete
file is usually exactly that long; it may be longer, never shorter.)
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

_META_FLAG = 0x08
_MAGIC = 0xBEEFC0DE
_DATA_VERSION = 1
_META_BYTES = 152  # page header (16) + the fields up to and including mm_txnid
_FLAGS = struct.Struct("=H")
_MAGIC_VERSION = struct.Struct("=II")
_PAGE_SIZE = struct.Struct("=I")
_LAST_PAGE_TXN = struct.Struct("=QQ")
_COPY_AGAIN = "; the store was cut short (a partial copy or a full disk), copy it again from its source"


class LmdbFileError(ValueError):
    """An LMDB data file that is missing, not LMDB, or shorter than its header says."""


@dataclass(frozen=True)
class MetaPage:
    """The fields of one meta page that say how long the data file must be."""

    page_size: int
    last_page: int
    txnid: int


def data_file(path: Path) -> Path:
    """The data file of a store: ``data.mdb`` inside a store directory, or the store file itself."""
    return path / "data.mdb" if path.is_dir() else path


def has_lmdb_magic(path: Path) -> bool:
    """Whether the store's data file starts with an LMDB meta page."""
    try:
        with open(data_file(path), "rb") as handle:
            page = handle.read(_META_BYTES)
    except OSError:
        return False
    return _is_meta_page(page)


def check_data_file(path: Path) -> None:
    """Raise ``LmdbFileError`` unless the data file of the store at ``path`` holds every page in use."""
    file = data_file(path)
    try:
        with open(file, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            first = _parse_meta(handle.read(_META_BYTES), 0)
            if first is None:
                raise LmdbFileError(f"{file.name} is not an LMDB data file (it does not start with an LMDB meta page)")
            handle.seek(first.page_size)
            second = _parse_meta(handle.read(_META_BYTES), first.page_size)
    except FileNotFoundError:
        raise LmdbFileError(f"there is no {file.name}, so this is not an LMDB store") from None
    except OSError as exc:
        raise LmdbFileError(f"{file.name} cannot be read ({exc.strerror or exc})") from None
    if second is None:
        if size < first.page_size + _META_BYTES:
            raise LmdbFileError(
                f"{file.name} is truncated: it holds {size:,} bytes, less than its two meta pages of "
                f"{first.page_size} bytes{_COPY_AGAIN}"
            )
        raise LmdbFileError(
            f"{file.name} is damaged: its second meta page (offset {first.page_size}) is not LMDB{_COPY_AGAIN}"
        )
    newest = max(first, second, key=lambda meta: meta.txnid)
    needed = (newest.last_page + 1) * newest.page_size
    if size < needed:
        raise LmdbFileError(
            f"{file.name} is truncated: it holds {size:,} bytes, but its LMDB header says the store uses "
            f"{newest.last_page + 1:,} pages of {newest.page_size} bytes ({needed:,} bytes){_COPY_AGAIN}"
        )


def _parse_meta(page: bytes, expected_page_size: int) -> MetaPage | None:
    """The meta page at the start of ``page``, or ``None`` when it is not one, is cut short, or (with
    ``expected_page_size`` non-zero) names another page size than the first meta page."""
    if not _is_meta_page(page):
        return None
    _, version = _MAGIC_VERSION.unpack_from(page, 16)
    if version != _DATA_VERSION:
        raise LmdbFileError(f"LMDB data format version {version} is not supported (expected {_DATA_VERSION})")
    (page_size,) = _PAGE_SIZE.unpack_from(page, 40)
    if page_size < 256 or page_size > 1 << 16 or page_size & (page_size - 1):
        return None
    if expected_page_size and page_size != expected_page_size:
        return None
    last_page, txnid = _LAST_PAGE_TXN.unpack_from(page, 136)
    return MetaPage(page_size, last_page, txnid)


def _is_meta_page(page: bytes) -> bool:
    """Whether ``page`` starts with the header and magic number of an LMDB meta page."""
    if len(page) < _META_BYTES:
        return False
    (flags,) = _FLAGS.unpack_from(page, 10)
    magic, _ = _MAGIC_VERSION.unpack_from(page, 16)
    return bool(flags & _META_FLAG) and magic == _MAGIC
