"""``osgnet-bench features inspect`` through the CLI entry point, including its error paths."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from osgnet_bench.cli import main
from osgnet_bench.files import write_jsonl
from trainers.data.captions import write_captions
from trainers.data.codecs import encode_npz
from trainers.data.lmdb_store import write_lmdb
from trainers.data.stores import save_class_table, write_object_store, write_text_store, write_video_store


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(["features", "inspect", *args])
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


@pytest.fixture()
def stores(tmp_path):
    rng = np.random.default_rng(0)
    write_video_store(tmp_path / "video", [(f"v{i}", rng.standard_normal((10 + i, 6))) for i in range(3)])
    write_text_store(tmp_path / "text", [(f"a_{i}", rng.standard_normal((2 + i, 4))) for i in range(5)])
    write_object_store(tmp_path / "objects", [("v0", [{1: 0.9}, {}, {2: 0.7, 5: 0.8}]), ("v1", [{}])])
    save_class_table(tmp_path / "names.pt", np.zeros((1203, 4), np.float32))
    for video in ("v0", "v1"):
        write_captions(tmp_path / "lavila", video, [{"narration": "#C C looks around", "frame_start_id": 0}] * 3)
    rows = [{"query": "q", "query_id": f"a_{i}", "duration": 9.0, "video_id": f"v{i % 4}"} for i in range(7)]
    write_jsonl(tmp_path / "ann.jsonl", rows)
    return tmp_path


def test_inspect_video_store(stores, capsys):
    code, out, _ = _run(capsys, str(stores / "video"))
    assert code == 0
    assert "video features (npz 'features')" in out and "entries      3" in out
    assert "v0, v1, v2" in out and "float32" in out and "min 10, mean 11.0, max 12" in out


def test_inspect_each_kind(stores, capsys):
    _, text, _ = _run(capsys, str(stores / "text"))
    assert "text features (npz 'token_features')" in text and "tokens" in text and "min 2, mean 4.0, max 6" in text
    _, objects, _ = _run(capsys, str(stores / "objects"))
    assert "object detections" in objects and "distinct classes  3 (ids 1-5)" in objects
    _, names, _ = _run(capsys, str(stores / "names.pt"))
    assert "class-name embedding table" in names and "1203x4" in names
    _, captions, _ = _run(capsys, str(stores / "lavila"))
    assert "LaViLa captions (directory" in captions and "entries            2" in captions
    with zipfile.ZipFile(stores / "lavila.zip", "w") as archive:
        archive.write(stores / "lavila" / "v0.json", "narration/v0.json")
    _, zipped, _ = _run(capsys, str(stores / "lavila.zip"))
    assert "zip archive" in zipped and "entries            1" in zipped


def test_ann_reports_missing_ids_and_fails(stores, capsys):
    code, out, err = _run(capsys, str(stores / "video"), "--ann", str(stores / "ann.jsonl"))
    assert code == 1
    assert "annotation ids  4 needed, 1 missing: v3" in out
    assert "lacks 1 of the 4 ids" in err and "'v3'" in err and "Traceback" not in err
    code, out, err = _run(capsys, str(stores / "text"), "--ann", str(stores / "ann.jsonl"))
    assert code == 1 and "7 needed, 2 missing: a_5, a_6" in out
    code, out, _ = _run(capsys, str(stores / "objects"), "--ann", str(stores / "ann.jsonl"))
    assert code == 1 and "2 missing: v2, v3" in out


def test_kind_option_overrides_the_guess(stores, capsys):
    code, out, _ = _run(capsys, str(stores / "video"), "--kind", "text", "--ann", str(stores / "ann.jsonl"))
    assert "text features" in out and code == 1 and "7 needed, 7 missing" in out


def test_corrupted_value_names_store_and_key(tmp_path, capsys):
    write_lmdb(tmp_path / "video", [("fine", encode_npz(features=np.zeros((2, 2)))), ("zz-broken", b"PK\x03\x04xx")])
    code, _, err = _run(capsys, str(tmp_path / "video"))
    assert code == 1
    assert f"video-feature store {tmp_path / 'video'}" in err and "'zz-broken' is corrupted" in err
    assert "Traceback" not in err


def test_missing_path_and_bad_annotations(tmp_path, stores, capsys):
    code, _, err = _run(capsys, str(tmp_path / "nothing"))
    assert code == 1 and "no such store" in err
    (tmp_path / "bad.jsonl").write_text('{"query": "q"}\n')
    code, _, err = _run(capsys, str(stores / "video"), "--ann", str(tmp_path / "bad.jsonl"))
    assert code == 1 and "bad.jsonl: line 1: missing key 'query_id'" in err


def test_quick_reads_headers_only_and_the_default_reads_every_value(tmp_path, capsys):
    good = encode_npz(features=np.random.default_rng(3).standard_normal((300, 8)).astype(np.float32))
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF
    write_lmdb(tmp_path / "video", [("a", good), ("b", bytes(damaged))])
    code, out, _ = _run(capsys, str(tmp_path / "video"), "--quick")
    assert code == 0 and "entries      2" in out
    code, _, err = _run(capsys, str(tmp_path / "video"))
    assert code == 1 and "key 'b' is corrupted" in err


def test_kind_needs_evidence(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a store\n" * 500)
    code, _, err = _run(capsys, str(tmp_path / "notes.txt"))
    assert code == 1 and "notes.txt: not a feature store: it is not LMDB data; expected an LMDB store" in err
    write_lmdb(tmp_path / "plain", [("k", b"plain text")])
    code, _, err = _run(capsys, str(tmp_path / "plain"))
    assert code == 1 and "the value of key 'k' is neither an npz archive of features nor a pickled" in err
    assert "pass --kind" in err
    (tmp_path / "zipped.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip archive
    code, _, err = _run(capsys, str(tmp_path / "zipped.zip"))
    assert code == 1 and "the archive has no *.json member" in err
