"""The ``compare`` workflow: read (or infer) every run, score them all on one ground truth with
their breakdowns and recall curves, and draw the curves when asked. See docs/compare.md.

A plot is checked before any run is read or inferred: the path may not be one of the inputs
(compared as resolved paths) and must be writable, and matplotlib must be installed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from osgnet_bench.annotations.load import load_annotations
from osgnet_bench.compare import Comparison, compare_runs
from osgnet_bench.files import require_writable
from osgnet_bench.metrics import MetricSpec
from osgnet_bench.paths import refuse_output_among_inputs, say_on_stderr, say_overwrite
from osgnet_bench.runs import load_runs
from osgnet_bench.tracks import Track


@dataclass(frozen=True)
class CompareRequest:
    """What ``osgnet-bench compare`` was asked for: the ``runs`` (prediction files, submissions or
    checkpoints, inferred on ``infer_split`` with ``config``), the ground truth ``gt`` (and its
    ``split``), the metric ``spec``, the breakdown settings, the ``baseline`` run and an optional
    PNG ``plot``."""

    track: Track
    runs: tuple[str, ...]
    gt: str
    spec: MetricSpec
    length_edges: Sequence[float]
    breakdown_metric: str
    split: str | None = None
    baseline: str | None = None
    config: str | None = None
    infer_split: str = "val"
    plot: str | None = None


def compare(request: CompareRequest, say: Callable[[str], None] = say_on_stderr) -> Comparison:
    """Every run scored side by side (and the recall curves drawn into ``request.plot``); raises
    ``UserError`` for bad inputs before any inference, and ``say`` reports a plot written over."""
    if request.plot:
        from osgnet_bench.recall_plot import require_matplotlib

        inputs = {f"run {run}": run for run in request.runs} | {"--gt": request.gt, "--config": request.config}
        refuse_output_among_inputs(request.plot, inputs, "--plot")
        require_writable(request.plot, "--plot")
        require_matplotlib(request.plot)
    records = load_annotations(request.gt, request.track, split=request.split)
    with tempfile.TemporaryDirectory(prefix="osgnet-compare-") as workdir:
        loaded = load_runs(list(request.runs), workdir, config=request.config, split=request.infer_split)
    comparison = compare_runs(
        records,
        loaded,
        request.track,
        request.spec,
        request.length_edges,
        request.breakdown_metric,
        request.baseline,
        gt_source=request.gt,
    )
    if request.plot:
        from osgnet_bench.recall_plot import plot_recall_curves

        say_overwrite(request.plot, say)
        title = f"{request.track.name}: recall vs IoU threshold"
        sizes = [result.num_evaluated for result in comparison.results]
        plot_recall_curves(request.plot, comparison.names, comparison.curves, sizes, title)
    return comparison
