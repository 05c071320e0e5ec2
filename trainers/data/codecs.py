"""Value encodings of the feature stores (pipeline.md §2.1), with precise errors.

* Dense features (video, text): the bytes of an ``np.savez_compressed`` archive. Video archives
  hold ``features`` (T, D); text archives hold ``token_features`` (L, D), or ``features``.
* Object detections: a pickled list with one ``{lvis_class_id: score}`` dict per feature step.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Sequence

import numpy as np

# numpy scalars inside pickled detection dicts (scores saved as np.float32) need these globals.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
}


class DecodeError(ValueError):
    """A stored value that cannot be decoded; callers add the store and key to the message."""


def encode_npz(**arrays: np.ndarray) -> bytes:
    """The bytes of a compressed npz archive holding ``arrays``."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def decode_npz(value: bytes, names: Sequence[str]) -> np.ndarray:
    """The first array of ``names`` present in the npz archive ``value``."""
    _check_zip_signature(value)
    try:
        with np.load(io.BytesIO(value), allow_pickle=False) as archive:
            for name in names:
                if name in archive.files:
                    return archive[name]
            found = ", ".join(archive.files) or "nothing"
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise DecodeError(f"not a valid npz archive ({type(exc).__name__}: {exc})") from None
    raise DecodeError(f"the npz archive holds {found}, expected {' or '.join(names)}")


def npz_member_header(value: bytes, names: Sequence[str]) -> tuple[str, tuple[int, ...], np.dtype]:
    """(name, shape, dtype) of the first array of ``names``, read from its header only."""
    _check_zip_signature(value)
    try:
        with zipfile.ZipFile(io.BytesIO(value)) as archive:
            members = {_array_name(m): m for m in archive.namelist()}
            for name in names:
                if name in members:
                    with archive.open(members[name]) as stream:
                        major, _ = np.lib.format.read_magic(stream)
                        read_header = (
                            np.lib.format.read_array_header_1_0 if major == 1
                            else np.lib.format.read_array_header_2_0
                        )
                        shape, _, dtype = read_header(stream)
                    return name, tuple(shape), np.dtype(dtype)
            found = ", ".join(members) or "nothing"
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DecodeError(f"not a valid npz archive ({type(exc).__name__}: {exc})") from None
    raise DecodeError(f"the npz archive holds {found}, expected {' or '.join(names)}")


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
    """Unpickle one video's per-step detections (only plain containers and numpy scalars allowed)."""
    try:
        steps = _RestrictedUnpickler(io.BytesIO(value)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DecodeError(f"not a valid pickled detection list ({type(exc).__name__}: {exc})") from None
    if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
        raise DecodeError(f"expected a list of {{class_id: score}} dicts, got {type(steps).__name__}")
    return steps


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
