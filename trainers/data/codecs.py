"""Value encodings of the feature stores (pipeline.md §2.1), with precise errors.

* Dense features (video, text): the bytes of an ``np.savez_compressed`` archive. Video archives
  hold ``features`` (T, D); text archives hold ``token_features`` (L, D), or ``features``.
* Object detections: a pickled list with one ``{lvis_class_id: score}`` dict per feature step.
"""

from __future__ import annotations

import io
import math
import pickle
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import numpy as np

# numpy scalars inside pickled detection dicts (scores saved as np.float32) name these globals;
# the unpickler answers them with the checked stand-ins at the end of this module, so numpy never
# parses untrusted pickle state (damaged dtype or scalar state can crash numpy itself).
_SCALAR_GLOBALS = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}
_DTYPE_GLOBAL = ("numpy", "dtype")
_NUMERIC_CODES = frozenset({"i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"})


# What zipfile, zlib and numpy raise for damaged archives: BadZipFile (bad structure or CRC),
# zlib.error (a corrupt deflate stream), NotImplementedError (an unknown compression method) and
# RuntimeError (a member flagged as encrypted) can all come from one flipped bit.
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    ValueError,
    OSError,
    EOFError,
    KeyError,
    NotImplementedError,
    RuntimeError,
)
# What the unpickler raises for damaged bytes; MemoryError and OverflowError come from a damaged
# length field (the unpickler checks it before reading, so nothing large is ever allocated).
_PICKLE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
    OverflowError,
    MemoryError,
)
_CHUNK_BYTES = 1 << 18  # read in pieces: zipfile concatenates the pieces of one large read


class DecodeError(ValueError):
    """A stored value that cannot be decoded; callers add the store and key to the message."""


def encode_npz(**arrays: np.ndarray) -> bytes:
    """The bytes of a compressed npz archive holding ``arrays``."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stubs type **kwds as allow_pickle
    return buffer.getvalue()


@dataclass(frozen=True)
class NpzArrayInfo:
    """Name, shape and dtype of one array of an npz archive, as its ``.npy`` header states them."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def decode_npz(value: bytes, names: Sequence[str]) -> np.ndarray:
    """The first array of ``names`` present in the npz archive ``value`` (decompressed, CRC-checked)."""
    with _array_stream(value, names) as (info, fortran_order, stream):
        return _read_npy_data(stream, info, fortran_order)


def npz_member_header(value: bytes, names: Sequence[str], check_data: bool = False) -> NpzArrayInfo:
    """The header of the first array of ``names``; with ``check_data``, its data is also
    decompressed (in chunks, never held whole) and checked against the header and the zip CRC."""
    with _array_stream(value, names) as (info, _, stream):
        if check_data:
            _drain(stream, info)
    return info


@contextmanager
def _array_stream(value: bytes, names: Sequence[str]) -> Iterator[tuple[NpzArrayInfo, bool, IO[bytes]]]:
    """The info of the first array of ``names``, whether it is in Fortran order, and the stream of
    its data (checked to be as long as the header says). Archive errors become ``DecodeError``."""
    _check_zip_signature(value)
    try:
        with zipfile.ZipFile(io.BytesIO(value)) as archive:
            members = {_array_name(m): m for m in archive.namelist()}
            name = next((n for n in names if n in members), None)
            if name is None:
                found = ", ".join(members) or "nothing"
                raise DecodeError(f"the npz archive holds {found}, expected {' or '.join(names)}")
            member = archive.getinfo(members[name])
            with archive.open(member) as stream:
                info, fortran_order = _read_npy_header(name, stream)
                stored = member.file_size - stream.tell()
                if stored != info.nbytes:
                    raise DecodeError(
                        f"array {name!r}: its header says shape {info.shape} of {info.dtype} ({info.nbytes:,} bytes) "
                        f"but the archive stores {stored:,} bytes of data"
                    )
                yield info, fortran_order, stream
    except DecodeError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise DecodeError(f"not a valid npz archive ({type(exc).__name__}: {exc})") from None


def _read_npy_header(name: str, stream: IO[bytes]) -> tuple[NpzArrayInfo, bool]:
    """The array's info and whether it is stored in Fortran order; refuses object arrays."""
    major, _ = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(stream)
    dtype = np.dtype(dtype)
    if dtype.hasobject or any(extent < 0 for extent in shape):
        raise DecodeError(f"array {name!r} has shape {tuple(shape)} and dtype {dtype}; expected a numeric array")
    return NpzArrayInfo(name, tuple(int(extent) for extent in shape), dtype), bool(fortran_order)


def _read_npy_data(stream: IO[bytes], info: NpzArrayInfo, fortran_order: bool) -> np.ndarray:
    """The array's data, read straight into a new (writable) array; reading to the end makes
    zipfile check the CRC."""
    flat = np.empty(math.prod(info.shape), dtype=info.dtype)
    target = flat.view(np.uint8)
    filled = 0
    while filled < info.nbytes and (chunk := stream.read(min(_CHUNK_BYTES, info.nbytes - filled))):
        target[filled : filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        filled += len(chunk)
    if filled != info.nbytes or stream.read(1):
        raise DecodeError(f"array {info.name!r}: the data is not {info.nbytes:,} bytes long as its header says")
    return flat.reshape(info.shape, order="F" if fortran_order else "C")


def _drain(stream: IO[bytes], info: NpzArrayInfo) -> None:
    """Decompress the rest of ``stream`` in chunks (zipfile checks the CRC at the end), counting bytes."""
    total = 0
    while chunk := stream.read(_CHUNK_BYTES):
        total += len(chunk)
    if total != info.nbytes:
        raise DecodeError(f"array {info.name!r}: the data is {total:,} bytes long, its header says {info.nbytes:,}")


def _check_zip_signature(value: bytes) -> None:
    if bytes(value[:2]) != b"PK":
        raise DecodeError("not an npz archive (the value does not start with the zip signature)")


def _array_name(member: str) -> str:
    """``"features.npy" -> "features"`` (npz member name to array name)."""
    return member[:-4] if member.endswith(".npy") else member


def encode_detections(steps: Sequence[dict[int, float]]) -> bytes:
    """Pickle one video's per-step detections, as the reference stores them."""
    return pickle.dumps([{int(c): float(s) for c, s in step.items()} for step in steps], protocol=4)


def decode_detections(value: bytes) -> list[dict[int, float]]:
    """Unpickle one video's per-step detections (only plain containers and numpy scalars allowed)
    and check their structure: a list of dicts from non-negative integer class ids to finite scores."""
    try:
        steps = _RestrictedUnpickler(io.BytesIO(value)).load()
    except _PICKLE_ERRORS as exc:
        raise DecodeError(f"not a valid pickled detection list ({type(exc).__name__}: {exc})") from None
    if not isinstance(steps, list):
        raise DecodeError(f"expected a list of per-step {{class_id: score}} dicts, got a {type(steps).__name__}")
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise DecodeError(f"step {index} is a {type(step).__name__}, expected a {{class_id: score}} dict")
        for class_id, score in step.items():
            if not _is_integer(class_id) or class_id < 0:
                raise DecodeError(f"step {index} has class id {class_id!r}, expected a non-negative integer")
            if not (_is_integer(score) or isinstance(score, (float, np.floating))) or not math.isfinite(score):
                raise DecodeError(f"step {index} gives class {class_id} the score {score!r}, expected a finite number")
    return steps


def _is_integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _SCALAR_GLOBALS:
            return _numpy_scalar
        if (module, name) == _DTYPE_GLOBAL:
            return _PickledDtype
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


class _PickledDtype:
    """Stands in for ``numpy.dtype`` while unpickling: only plain numeric type codes, with the byte
    order taken from the pickled state (``(version, byte_order, ...)``)."""

    def __init__(self, code: object, align: object = False, copy: object = True) -> None:
        if not isinstance(code, str) or code not in _NUMERIC_CODES:
            raise pickle.UnpicklingError(f"refusing numpy dtype {code!r} (expected one of {sorted(_NUMERIC_CODES)})")
        self.code = code
        self.byte_order = "="

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError(f"damaged numpy dtype state {state!r}")
        self.byte_order = "=" if state[1] == "|" else state[1]

    def to_numpy(self) -> np.dtype:
        return np.dtype(self.byte_order + self.code)


def _numpy_scalar(dtype: object, data: object = None) -> np.generic:
    """Stands in for ``numpy.core.multiarray.scalar``: a numeric scalar from its raw bytes."""
    if not isinstance(dtype, _PickledDtype) or not isinstance(data, bytes):
        raise pickle.UnpicklingError("damaged numpy scalar (expected a numeric dtype and its bytes)")
    numpy_dtype = dtype.to_numpy()
    if len(data) != numpy_dtype.itemsize:
        raise pickle.UnpicklingError(f"damaged numpy scalar: {len(data)} bytes for a {numpy_dtype}")
    return np.frombuffer(data, dtype=numpy_dtype)[0]
