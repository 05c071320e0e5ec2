"""What a run writes besides checkpoints: a JSON-lines log and TensorBoard scalars (rank 0 only)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter


class RunLogger:
    """Appends one JSON object per event to ``log.jsonl`` and mirrors scalars to TensorBoard.

    On ranks other than 0 every method is a no-op, so the loop can call it unconditionally.
    """

    def __init__(self, run_dir: str | os.PathLike, enabled: bool) -> None:
        self.enabled = enabled
        self.path = Path(run_dir) / "log.jsonl"
        self._writer = SummaryWriter(str(Path(run_dir) / "tensorboard")) if enabled else None

    def event(self, kind: str, step: int, **values: Any) -> None:
        """Record ``values`` (scalars are also sent to TensorBoard as ``kind/name``)."""
        if not self.enabled:
            return
        row = {"event": kind, "step": step, "time": time.time(), **values}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self._writer.add_scalar(f"{kind}/{name}", value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
