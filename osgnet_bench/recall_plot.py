"""Recall-versus-IoU curves of several runs as a PNG (needs the optional ``plot`` extra)."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

from osgnet_bench.compare import CURVE_THRESHOLDS, CURVE_TOPK
from osgnet_bench.errors import UserError
from osgnet_bench.files import atomic_writer
from osgnet_bench.tracks import recall_key


def plot_recall_curves(
    path: str | os.PathLike, names: Sequence[str], curves: Sequence[dict[str, float]], title: str
) -> None:
    """One colour per run: R@1 solid and R@5 dashed against IoU thresholds 0.1..0.9."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise UserError(
            f"--plot {path}: drawing needs matplotlib, which is not installed; install the optional "
            "extra with pip install 'osgnet-bench[plot]' (or pip install matplotlib), or leave out --plot."
        ) from None
    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    styles = {1: "-", 5: "--"}
    for index, (name, curve) in enumerate(zip(names, curves, strict=True)):
        colour = f"C{index % 10}"
        for k in CURVE_TOPK:
            values = [curve[recall_key(k, t)] for t in CURVE_THRESHOLDS]
            style = styles.get(k, ":")
            axes.plot(CURVE_THRESHOLDS, values, style, color=colour, marker="o", markersize=3, label=f"{name} R@{k}")
    axes.set_xlabel("IoU threshold")
    axes.set_ylabel("recall (%)")
    axes.set_title(title)
    axes.set_xticks(CURVE_THRESHOLDS)
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    pyplot.close(figure)
    with atomic_writer(path, "wb") as handle:
        handle.write(buffer.getvalue())
