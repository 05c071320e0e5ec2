"""Damaged and wrong feature stores: one clear error (exit 1) naming the store and key, never a crash.

Every case runs in a subprocess, through ``osgnet-bench features inspect`` and through the readers
(``train`` for a truncated store), so that a bus error or segfault shows as a negative return code
instead of killing the test run. Each case also checks that no file was touched.
"""

from __future__ import annotations

import math
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trainers.data.codecs import encode_npz
from trainers.data.lmdb_store import write_lmdb
from trainers.data.stores import write_text_store, write_video_store

READ_ONE = """
import sys
from osgnet_bench.errors import UserError
from trainers.data.stores import ObjectStore, TextFeatureStore, VideoFeatureStore
stores = {"video": VideoFeatureStore, "text": TextFeatureStore, "objects": ObjectStore}
try:
    stores[sys.argv[1]](sys.argv[2]).read(sys.argv[3])
except UserError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)
"""


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _run(root: Path, *args: str) -> str:
    """Run ``args`` in a fresh interpreter; assert exit 1, no traceback and no file touched; return stderr."""
    before = _snapshot(root)
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, f"exit {done.returncode} (negative: killed by a signal)\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: "), done.stderr
    assert _snapshot(root) == before
    return done.stderr


def _inspect(root: Path, *args: str) -> str:
    return _run(root, "-m", "osgnet_bench", "features", "inspect", *args)


def _read(root: Path, kind: str, store: Path, key: str) -> str:
    return _run(root, "-c", READ_ONE, kind, str(store), key)


def _truncate_to_half(store: Path) -> None:
    data = store / "data.mdb"
    os.truncate(data, data.stat().st_size // 2)


@pytest.fixture()
def videos(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    write_video_store(tmp_path / "video", [(f"v{i}", rng.standard_normal((60, 32))) for i in range(12)])
    return tmp_path / "video"


def test_truncated_store_in_inspect_and_reader(tmp_path, videos):
    copy = tmp_path / "copy"
    shutil.copytree(videos, copy)
    _truncate_to_half(copy)
    for err in (
        _inspect(tmp_path, str(copy)),
        _inspect(tmp_path, str(copy), "--kind", "video"),
        _read(tmp_path, "video", copy, "v11"),
    ):
        assert f"store {copy}: data.mdb is truncated" in err
        assert "but its LMDB header says the store uses" in err


def test_truncated_store_stops_train_before_work(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "osgnet_bench",
            "synth",
            "--track",
            "nlq",
            "--out",
            str(tmp_path / "d"),
            "--videos",
            "6",
            "--queries-per-video",
            "3",
            "--steps",
            "64",
        ],
        check=True,
        capture_output=True,
    )
    store = tmp_path / "d" / "features" / "video_lmdb"
    _truncate_to_half(store)
    err = _run(
        tmp_path,
        "-m",
        "osgnet_bench",
        "train",
        "--config",
        str(tmp_path / "d" / "config.yaml"),
        "--out",
        str(tmp_path / "run"),
    )
    assert f"video-feature store {store}: data.mdb is truncated" in err
    assert not (tmp_path / "run").exists()


def _flip_compressed_bytes(value: bytes) -> bytes:
    """``value`` with 16 bytes in the middle of its deflate stream inverted."""
    damaged = bytearray(value)
    middle = len(damaged) // 2
    damaged[middle : middle + 16] = bytes(b ^ 0xFF for b in damaged[middle : middle + 16])
    return bytes(damaged)


@pytest.mark.parametrize("kind", ["video", "text"])
def test_flipped_bytes_in_a_compressed_value(tmp_path, kind):
    array_name = "features" if kind == "video" else "token_features"
    features = np.random.default_rng(1).standard_normal((200, 16)).astype(np.float32)
    good = encode_npz(**{array_name: features})
    write_lmdb(tmp_path / "store", [("a-good", good), ("b-flipped", _flip_compressed_bytes(good))])
    for err in (_inspect(tmp_path, str(tmp_path / "store")), _read(tmp_path, kind, tmp_path / "store", "b-flipped")):
        assert f"{kind}-feature store {tmp_path / 'store'}: the value of key 'b-flipped' is corrupted" in err


@pytest.mark.parametrize(
    ("steps", "complaint"),
    [
        ([{1: 0.5}, {"7": 0.5}], "step 1 has class id '7'"),
        ([{1: 0.5}, {2: "0.9"}], "step 1 gives class 2 the score '0.9'"),
        ([{3: math.nan}], "step 0 gives class 3 the score nan"),
        ([{}, {}, {-1: 0.5}], "step 2 has class id -1"),
    ],
)
def test_wrongly_structured_object_store(tmp_path, steps, complaint):
    write_lmdb(tmp_path / "objects", [("a-good", pickle.dumps([{1: 0.5}, {}])), ("b-bad", pickle.dumps(steps))])
    for err in (
        _inspect(tmp_path, str(tmp_path / "objects")),
        _read(tmp_path, "objects", tmp_path / "objects", "b-bad"),
    ):
        assert f"object store {tmp_path / 'objects'}: the value of key 'b-bad' is corrupted" in err
        assert complaint in err


def test_empty_directory_is_not_a_caption_store(tmp_path):
    (tmp_path / "empty").mkdir()
    err = _inspect(tmp_path, str(tmp_path / "empty"))
    assert f"{tmp_path / 'empty'}: not a feature store: the directory is empty" in err
    assert "expected an LMDB store" in err and "LaViLa caption directory" in err
    err = _inspect(tmp_path, str(tmp_path / "empty"), "--kind", "captions")
    assert f"caption source {tmp_path / 'empty'}: the directory has no {{video_id}}.json file" in err


def test_unrelated_directory_is_not_a_caption_store(tmp_path):
    (tmp_path / "misc").mkdir()
    (tmp_path / "misc" / "notes.bin").write_bytes(np.random.default_rng(2).bytes(3000))
    err = _inspect(tmp_path, str(tmp_path / "misc"))
    assert f"{tmp_path / 'misc'}: not a feature store" in err and "notes.bin" in err
    assert "no data.mdb and no .json file" in err


@pytest.mark.parametrize(("kind", "unit"), [("video", "steps"), ("text", "tokens")])
def test_feature_array_without_steps(tmp_path, kind, unit):
    writer = write_video_store if kind == "video" else write_text_store
    writer(tmp_path / "store", [("a-good", np.ones((3, 8))), ("b-empty", np.zeros((0, 8)))])
    for err in (_inspect(tmp_path, str(tmp_path / "store")), _read(tmp_path, kind, tmp_path / "store", "b-empty")):
        assert f"{kind}-feature store {tmp_path / 'store'}: the value of key 'b-empty' has 0 {unit}" in err
