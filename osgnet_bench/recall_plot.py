"""Recall-versus-IoU curves of several runs as a PNG (needs the optional ``plot`` extra)."""

from __future__ import annotations

import importlib.util
import io
import os
from collections.abc import Sequence

from osgnet_bench.compare import CURVE_THRESHOLDS, CURVE_TOPK
from osgnet_bench.errors import UserError
from osgnet_bench.files import atomic_writer
from osgnet_bench.tracks import recall_key


def require_matplotlib(path: str | os.PathLike) -> None:
    """Raise ``UserError`` naming both install commands when matplotlib cannot be imported; called
    before any run is read, so ``compare --plot`` fails before it prints or computes anything."""
    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UserError(
            f"--plot {path}: drawing needs matplotlib, which is not installed. Install the plot extra: "
            "pip install -e '.[plot]' in a checkout of osgnet-bench, or pip install 'osgnet-bench[plot]' "
            "for the installed package; or leave out --plot."
        )


def plot_recall_curves(
    path: str | os.PathLike,
    names: Sequence[str],
    curves: Sequence[dict[str, float]],
    sizes: Sequence[int],
    title: str,
) -> None:
    """One colour per run: R@1 solid and R@5 dashed against IoU thresholds 0.1..0.9; the legend
    gives each run's n (``sizes``: queries evaluated)."""
    require_matplotlib(path)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    styles = {1: "-", 5: "--"}
    for index, (name, curve, n) in enumerate(zip(names, curves, sizes, strict=True)):
        colour = f"C{index % 10}"
        for k in CURVE_TOPK:
            values = [curve[recall_key(k, t)] for t in CURVE_THRESHOLDS]
            style = styles.get(k, ":")
            axes.plot(
                CURVE_THRESHOLDS, values, style, color=colour, marker="o", markersize=3, label=f"{name} R@{k} (n={n})"
            )
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
