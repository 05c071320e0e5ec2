"""LaViLa caption reading (directory and zip) and shot derivation (pipeline.md §3.2)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from osgnet_bench.errors import UserError
from trainers.data.captions import (
    Caption,
    CaptionSource,
    parse_captions,
    shot_cut_frames,
    shots_from_cuts,
    write_captions,
)

RECORDS = [
    {"narration": "#C C picks a cup;#C C holds the cup", "frame_start_id": 0, "frame_end_id": 64},
    {"narration": "#C C looks around the kitchen;#C C turns around", "frame_start_id": 64},
    {"narration": "#O A man looks around", "frame_start_id": 128},
    {"narration": "#C C opens the fridge;#C C Turns Around", "frame_start_id": 200},
    {"narration": "#C C looks", "frame_start_id": 480},
]


def test_cuts_need_camera_wearer_and_split_phrase_one_per_record():
    captions = [Caption(r["frame_start_id"], r["narration"]) for r in RECORDS]
    # record 1 has two qualifying alternatives but cuts once; "#O ..." is no cut; case is ignored.
    assert shot_cut_frames(captions, fps=30.0) == [64, 200]


def test_forced_cut_after_max_shot_seconds():
    captions = [Caption(f, "#C C looks around" if f == 16 else "#C C walks") for f in (16, 100, 200, 400, 430)]
    # one shot may last at most 6 s = 180 frames: cut at 16, then at 200 (>= 196), then at 400 (>= 380).
    assert shot_cut_frames(captions, fps=30.0, max_shot_second=6.0) == [16, 200, 400]


def test_shots_tile_the_video_and_end_with_the_padding_shot():
    shots = shots_from_cuts([64, 200, 480], num_steps=25, num_frames=16, max_seq_len=1024)
    assert shots.dtype == np.float32
    np.testing.assert_array_equal(shots, [[0, 4, 12.5, 25], [4, 12.5, 25, 1024]])


def test_shots_without_cuts_or_with_a_cut_at_zero():
    np.testing.assert_array_equal(shots_from_cuts([], 10, 16, 512), [[0, 10], [10, 512]])
    np.testing.assert_array_equal(shots_from_cuts([0, 32], 10, 16, 512), [[0, 2, 10], [2, 10, 512]])
    # two cuts in the same 16-frame cell give a zero-length shot after int truncation (kept, as in the reference)
    shots = shots_from_cuts([20, 30], 10, 16, 512)
    np.testing.assert_array_equal(shots.astype(int), [[0, 1, 1, 10], [1, 1, 10, 512]])


def test_directory_and_zip_give_the_same_records(tmp_path):
    write_captions(tmp_path / "lavila", "vid-a", RECORDS)
    write_captions(tmp_path / "lavila", "vid-b", RECORDS[:2])
    with zipfile.ZipFile(tmp_path / "lavila.zip", "w") as archive:
        for name in ("vid-a", "vid-b"):
            archive.write(tmp_path / "lavila" / f"{name}.json", f"narration/{name}.json")
    folder, packed = CaptionSource(tmp_path / "lavila"), CaptionSource(tmp_path / "lavila.zip")
    assert folder.video_ids() == packed.video_ids() == ["vid-a", "vid-b"]
    assert folder.read("vid-a") == packed.read("vid-a")
    assert packed.read("vid-b") == [Caption(0, RECORDS[0]["narration"]), Caption(64, RECORDS[1]["narration"])]
    assert folder.missing(["vid-a", "vid-c", "vid-c"]) == packed.missing(["vid-a", "vid-c"]) == ["vid-c"]
    assert (tmp_path / "lavila" / "vid-b.json").read_text().count("\n") == 2


def test_zip_source_is_picklable_and_reopens(tmp_path):
    import pickle

    write_captions(tmp_path / "lavila", "v", RECORDS)
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as archive:
        archive.write(tmp_path / "lavila" / "v.json", "v.json")
    source = CaptionSource(tmp_path / "c.zip")
    source.read("v")
    clone = pickle.loads(pickle.dumps(source))
    assert clone.read("v") == source.read("v")


def test_bad_caption_line_names_file_and_line(tmp_path):
    with pytest.raises(UserError, match=r"x\.json: line 2 is not a caption record"):
        parse_captions('{"narration": "a", "frame_start_id": 0}\n{"narration": "b"}\n', "x.json")
    (tmp_path / "notzip.zip").write_text("plain")
    with pytest.raises(UserError, match="not a directory and not a zip archive"):
        CaptionSource(tmp_path / "notzip.zip").read("v")
    with pytest.raises(UserError, match="no such directory or zip"):
        CaptionSource(tmp_path / "absent")
