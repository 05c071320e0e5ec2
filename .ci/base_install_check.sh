#!/usr/bin/env bash
# The base install (no extras) in a fresh virtual environment: torch, lmdb and tensorboard are
# absent, the leaderboard commands work on small generated files, and a training command names
# the extra it needs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$root"
cd "$work"
bench="$work/venv/bin/osgnet-bench"
"$work/venv/bin/python" - <<'PY'
import importlib.util
import json

for module in ("torch", "lmdb", "tensorboard"):
    assert importlib.util.find_spec(module) is None, f"the base install pulled in {module}"
windows = [(10.0, 20.0), (30.0, 40.0), (50.0, 60.0)]
queries = [{"query": f"query {i}?", "clip_start_sec": s, "clip_end_sec": e} for i, (s, e) in enumerate(windows)]
clip = {"clip_uid": "clip-1", "video_start_sec": 0.0, "video_end_sec": 100.0, "clip_start_sec": 0.0,
        "clip_end_sec": 100.0, "annotations": [{"annotation_uid": "ann-1", "language_queries": queries}]}
json.dump({"version": "2.0", "videos": [{"video_uid": "video-A", "clips": [clip]}]}, open("gt.json", "w"))
for name, shift in (("a", 0.0), ("b", 1.0)):
    with open(f"{name}.jsonl", "w") as handle:
        for i, (s, e) in enumerate(windows):
            row = {"query_id": f"ann-1_{i}", "video_id": "clip-1", "windows": [[s + shift, e + shift], [0.0, 5.0]],
                   "scores": [0.9, 0.5]}
            handle.write(json.dumps(row) + "\n")
PY
"$bench" evaluate --track nlq --gt gt.json --pred a.jsonl
"$bench" compare --track nlq --gt gt.json a.jsonl b.jsonl
"$bench" submit --track nlq --pred a.jsonl --pred b.jsonl --out submission.json
"$bench" validate submission.json --track nlq
if "$bench" train --config gt.json --out run 2> train.err; then
    echo "train ran without the train extra" >&2
    exit 1
fi
grep -q "osgnet-bench\[train\]" train.err || { cat train.err >&2; exit 1; }
echo "base install: leaderboard commands work without torch; train names its extra"
