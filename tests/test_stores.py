"""Round trips of every store format, fork-safe reading, and the errors for bad stores."""

from __future__ import annotations

import io
import os
import pickle
import re
import stat
import zipfile

import lmdb
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from osgnet_bench.errors import UserError
from trainers.data.codecs import encode_npz
from trainers.data.lmdb_meta import LmdbFileError, check_data_file, has_lmdb_magic
from trainers.data.lmdb_store import LmdbReader, write_lmdb
from trainers.data.stores import (
    ObjectStore,
    StepDetections,
    TextFeatureStore,
    VideoFeatureStore,
    load_class_table,
    save_class_table,
    write_object_store,
    write_text_store,
    write_video_store,
)


@pytest.fixture()
def videos() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {f"clip-{i}": rng.standard_normal((50 + 7 * i, 24)).astype(np.float32) for i in range(4)}


def test_video_store_round_trip(tmp_path, videos):
    assert write_video_store(tmp_path / "v", videos.items()) == 4
    store = VideoFeatureStore(tmp_path / "v")
    assert len(store) == 4
    for key, array in videos.items():
        got = store.read(key)
        assert got.dtype == np.float32 and got.shape == array.shape
        np.testing.assert_array_equal(got, array)
    assert store.missing(["clip-0", "nope", "clip-3", "nope", "other"]) == ["nope", "other"]


def test_text_store_round_trip_and_reference_variants(tmp_path):
    tokens = {"q_0": np.arange(12, dtype=np.float64).reshape(3, 4), "q_1": np.ones((1, 4), np.float16)}
    write_text_store(tmp_path / "t", tokens.items())
    store = TextFeatureStore(tmp_path / "t")
    np.testing.assert_array_equal(store.read("q_0"), tokens["q_0"].astype(np.float32))
    assert store.read("q_1").dtype == np.float32
    # CONE's merger stores token_features plus cls_features; other converters store only 'features',
    # sometimes 1-D (one token).
    write_lmdb(
        tmp_path / "t2",
        [
            ("a_0", encode_npz(token_features=np.full((2, 4), 2.0, np.float32), cls_features=np.zeros(4, np.float32))),
            ("a_1", encode_npz(features=np.full(4, 3.0, np.float32))),
        ],
    )
    store2 = TextFeatureStore(tmp_path / "t2")
    np.testing.assert_array_equal(store2.read("a_0"), np.full((2, 4), 2.0))
    np.testing.assert_array_equal(store2.read("a_1"), np.full((1, 4), 3.0))


def test_object_store_round_trip(tmp_path):
    steps = [{}, {750: 0.9, 3: 0.61}, {}, {1202: 1.0}]
    write_object_store(tmp_path / "o", [("vid", steps), ("empty", [])])
    store = ObjectStore(tmp_path / "o")
    detections = store.read("vid")
    assert detections.num_steps == 4
    rebuilt = [
        dict(zip(detections.class_ids[a:b].tolist(), detections.scores[a:b].tolist(), strict=True))
        for a, b in zip(detections.step_ptr[:-1], detections.step_ptr[1:], strict=True)
    ]
    assert [sorted(s) for s in rebuilt] == [sorted(s) for s in steps]
    assert rebuilt[1][750] == pytest.approx(0.9)
    np.testing.assert_array_equal(detections.step_of_each_detection(), [1, 1, 3])
    assert store.read("empty").num_steps == 0


def test_object_store_reads_reference_pickles_with_numpy_scores(tmp_path):
    steps = [{np.int64(5): np.float32(0.75)}, {}]
    write_lmdb(tmp_path / "o", [("vid", pickle.dumps(steps))])
    detections = ObjectStore(tmp_path / "o").read("vid")
    assert detections.class_ids.tolist() == [5] and detections.scores.tolist() == [0.75]


def test_class_table_round_trip(tmp_path):
    table = np.random.default_rng(1).standard_normal((1203, 16)).astype(np.float32)
    save_class_table(tmp_path / "names.pt", table)
    loaded = load_class_table(tmp_path / "names.pt")
    assert loaded.dtype == torch.float32 and tuple(loaded.shape) == (1203, 16)
    np.testing.assert_array_equal(loaded.numpy(), table)


def test_class_table_errors(tmp_path):
    torch.save({"not": "a tensor"}, tmp_path / "dict.pt")
    with pytest.raises(UserError, match="expected a 2-D float tensor"):
        load_class_table(tmp_path / "dict.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(UserError, match="junk.pt: not a readable torch file"):
        load_class_table(tmp_path / "junk.pt")


def test_missing_key_and_corrupted_value_name_store_and_key(tmp_path, videos):
    write_lmdb(
        tmp_path / "v",
        [("good", encode_npz(features=videos["clip-0"])), ("bad", b"PK\x03\x04 truncated"), ("nonzip", b"hello")],
    )
    store = VideoFeatureStore(tmp_path / "v")
    with pytest.raises(UserError, match=r"video-feature store .*v: no entry for key 'absent'"):
        store.read("absent")
    with pytest.raises(UserError, match=r"video-feature store .*: the value of key 'bad' is corrupted"):
        store.read("bad")
    with pytest.raises(UserError, match=r"key 'nonzip' is corrupted: not an npz archive"):
        store.read("nonzip")
    write_lmdb(tmp_path / "o", [("vid", b"not a pickle"), ("evil", pickle.dumps(print))])
    with pytest.raises(UserError, match=r"object store .*key 'vid' is corrupted"):
        ObjectStore(tmp_path / "o").read("vid")
    with pytest.raises(UserError, match="refusing to load global"):
        ObjectStore(tmp_path / "o").read("evil")


def test_wrong_array_in_archive_is_reported(tmp_path):
    write_lmdb(tmp_path / "v", [("k", encode_npz(frames=np.zeros((2, 2))))])
    with pytest.raises(UserError, match="holds frames, expected features"):
        VideoFeatureStore(tmp_path / "v").read("k")


def test_missing_store_directory(tmp_path):
    with pytest.raises(UserError, match="no such LMDB directory"):
        VideoFeatureStore(tmp_path / "absent")


def test_writer_replaces_atomically_and_readers_share_environment(tmp_path, videos):
    write_video_store(tmp_path / "v", list(videos.items())[:2])
    first, second = VideoFeatureStore(tmp_path / "v"), VideoFeatureStore(tmp_path / "v")
    assert len(first) == len(second) == 2
    write_video_store(tmp_path / "v", videos.items())
    assert len(first) == len(VideoFeatureStore(tmp_path / "v")) == 4  # readers see the new store
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]

    def failing():
        yield "a", encode_npz(features=videos["clip-0"])
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_lmdb(tmp_path / "v", failing())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]
    assert len(VideoFeatureStore(tmp_path / "v")) == 4


def test_writer_grows_the_map(tmp_path):
    big = np.random.default_rng(0).integers(0, 255, size=40 << 20, dtype=np.uint8).tobytes()
    assert write_lmdb(tmp_path / "big", [("a", big), ("b", big)]) == 2
    assert LmdbReader(tmp_path / "big", "test").get("b") == big


def test_reader_is_picklable_without_its_environment(tmp_path, videos):
    write_video_store(tmp_path / "v", videos.items())
    store = VideoFeatureStore(tmp_path / "v")
    store.read("clip-1")
    clone = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(clone.read("clip-1"), videos["clip-1"])


class _StoreDataset(Dataset):
    def __init__(self, store: VideoFeatureStore, keys: list[str]) -> None:
        self.store, self.keys = store, keys

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.store.read(self.keys[index]))


def test_reader_opened_before_fork_works_in_workers(tmp_path, videos):
    write_video_store(tmp_path / "v", videos.items())
    store = VideoFeatureStore(tmp_path / "v")
    store.read("clip-0")  # environment opened in the parent before the workers fork
    keys = sorted(videos) * 2
    loader = DataLoader(_StoreDataset(store, keys), batch_size=None, num_workers=2)
    for key, array in zip(keys, loader, strict=True):
        np.testing.assert_array_equal(array.numpy(), videos[key])


def test_reader_is_read_only(tmp_path, videos):
    write_video_store(tmp_path / "v", videos.items())
    store = VideoFeatureStore(tmp_path / "v")
    with pytest.raises(lmdb.Error), store.reader.env.begin(write=True) as txn:
        txn.put(b"x", b"y")


def test_step_detections_from_steps_empty():
    detections = StepDetections.from_steps([{}, {}])
    assert detections.num_steps == 2 and detections.class_ids.size == 0


def test_data_file_check_accepts_complete_stores_and_names_what_is_wrong(tmp_path, videos):
    write_video_store(tmp_path / "v", videos.items())
    check_data_file(tmp_path / "v")
    data = (tmp_path / "v" / "data.mdb").read_bytes()
    (tmp_path / "longer").mkdir()
    (tmp_path / "longer" / "data.mdb").write_bytes(data + bytes(8192))  # preallocated maps are longer
    check_data_file(tmp_path / "longer")
    (tmp_path / "single.mdb").write_bytes(data[: len(data) - 1])  # a store kept as one file
    with pytest.raises(LmdbFileError, match=r"single.mdb is truncated: it holds [\d,]+ bytes, but its LMDB header"):
        check_data_file(tmp_path / "single.mdb")
    (tmp_path / "tiny.mdb").write_bytes(data[:4100])
    with pytest.raises(LmdbFileError, match="less than its two meta pages"):
        check_data_file(tmp_path / "tiny.mdb")
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(0).bytes(9000))
    with pytest.raises(LmdbFileError, match="random.bin is not an LMDB data file"):
        check_data_file(tmp_path / "random.bin")
    (tmp_path / "nodata").mkdir()
    with pytest.raises(LmdbFileError, match="there is no data.mdb"):
        check_data_file(tmp_path / "nodata")
    assert has_lmdb_magic(tmp_path / "v") and not has_lmdb_magic(tmp_path / "random.bin")


def test_truncated_store_is_refused_before_it_is_mapped(tmp_path, videos):
    write_video_store(tmp_path / "v", videos.items())
    data = tmp_path / "v" / "data.mdb"
    os.truncate(data, data.stat().st_size - 4096)
    store = VideoFeatureStore(tmp_path / "v")  # opening is lazy; the first read checks
    with pytest.raises(UserError, match=r"video-feature store .*v: data.mdb is truncated"):
        store.missing(["clip-0"])


def test_dense_values_keep_layout_byte_order_and_are_writable(tmp_path):
    rows = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_lmdb(
        tmp_path / "v",
        [
            ("fortran", encode_npz(features=np.asfortranarray(rows))),
            ("big-endian", encode_npz(features=rows.astype(">f8"))),
            ("int16", encode_npz(features=rows.astype(np.int16))),
        ],
    )
    store = VideoFeatureStore(tmp_path / "v")
    for key in ("fortran", "big-endian", "int16"):
        got = store.read(key)
        np.testing.assert_array_equal(got, rows)
        assert got.dtype == np.float32 and got.flags.writeable and got.flags.c_contiguous


@pytest.mark.parametrize(
    ("array", "complaint"),
    [
        (np.zeros((0, 4), np.float32), "has 0 steps"),
        (np.zeros((3, 0), np.float32), "has 0-wide features"),
        (np.zeros((2, 3, 4), np.float32), "expected a numeric (steps, dim) array"),
        (np.array([["a", "b"]]), "expected a numeric (steps, dim) array"),
        (np.ones((2, 2), bool), "expected a numeric (steps, dim) array"),
    ],
)
def test_dense_values_of_the_wrong_shape_or_dtype(tmp_path, array, complaint):
    write_lmdb(tmp_path / "v", [("k", encode_npz(features=array))])
    with pytest.raises(UserError, match=rf"video-feature store .*: the value of key 'k' .*{re.escape(complaint)}"):
        VideoFeatureStore(tmp_path / "v").read("k")


def test_npz_whose_header_disagrees_with_its_data(tmp_path):
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, {"descr": "<f4", "fortran_order": False, "shape": (9, 4)})
    npy.write(np.zeros((4, 4), np.float32).tobytes())
    lying = io.BytesIO()
    with zipfile.ZipFile(lying, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("features.npy", npy.getvalue())  # a valid zip (CRC and all) of a bad npy
    write_lmdb(tmp_path / "v", [("k", lying.getvalue())])
    with pytest.raises(UserError, match=r"key 'k' is corrupted: .*header says shape \(9, 4\)"):
        VideoFeatureStore(tmp_path / "v").read("k")


def test_object_pickles_may_only_hold_numeric_numpy_scalars(tmp_path):
    write_lmdb(
        tmp_path / "o",
        [
            ("strings", pickle.dumps([{1: np.str_("x")}])),
            ("array", pickle.dumps([{1: np.ones(2)}])),
            ("big-endian", pickle.dumps([{np.array([7], ">i8")[0]: np.array([0.5], ">f4")[0]}])),
        ],
    )
    store = ObjectStore(tmp_path / "o")
    with pytest.raises(UserError, match="key 'strings' is corrupted: .*refusing numpy dtype"):
        store.read("strings")
    with pytest.raises(UserError, match="key 'array' is corrupted: .*refusing to load global"):
        store.read("array")
    detections = store.read("big-endian")
    assert detections.class_ids.tolist() == [7] and detections.scores.tolist() == [0.5]


def test_new_store_directory_follows_the_umask(tmp_path, videos):
    previous = os.umask(0o027)
    try:
        write_video_store(tmp_path / "v", videos.items())
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "v").stat().st_mode) == 0o750
