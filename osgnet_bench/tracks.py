"""The one place that defines each benchmark track: metrics, ranking and submission identity.

Where each choice comes from is cited in docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from osgnet_bench.errors import UserError


@dataclass(frozen=True)
class Track:
    """Everything that differs between the benchmarks, and nothing else.

    ``rank_keys`` are metric keys (see :func:`recall_key`) whose mean is the leaderboard's
    ranking metric. ``challenge`` is the EvalAI challenge string (``None``: no public server).
    ``strict_iou``: a hit needs IoU > threshold (the official Ego4D rule) rather than >=.
    ``synthetic``: the profile of the synthetic data that imitates the track (``osgnet-bench synth``
    and the built-in demo of ``run``); ``None``: no synthetic data imitates it.
    """

    name: str
    thresholds: tuple[float, ...]
    topk: tuple[int, ...]
    rank_keys: tuple[str, ...]
    challenge: str | None
    query_type: str
    submission_version: str = "1.0"
    strict_iou: bool = True
    aliases: tuple[str, ...] = field(default=())
    synthetic: str | None = None

    @property
    def rank_metric_name(self) -> str:
        """Human-readable name of the ranking metric, e.g. ``mean(R1@0.3, R1@0.5)``."""
        if len(self.rank_keys) == 1:
            return self.rank_keys[0]
        return "mean(" + ", ".join(self.rank_keys) + ")"

    def rank_metric(self, metrics: dict[str, float]) -> float:
        """The ranking metric from a dict of metrics keyed by :func:`recall_key`."""
        return sum(metrics[key] for key in self.rank_keys) / len(self.rank_keys)


def format_threshold(threshold: float) -> str:
    """``0.3 -> "0.3"``, ``0.25 -> "0.25"``: the shortest decimal that round-trips."""
    return repr(float(threshold))


def recall_key(k: int, threshold: float) -> str:
    """Metric key for recall at rank ``k`` and IoU ``threshold``, e.g. ``R1@0.3``."""
    return f"R{k}@{format_threshold(threshold)}"


NLQ_V2 = Track(
    name="nlq_v2",
    thresholds=(0.3, 0.5),
    topk=(1, 5),
    rank_keys=("R1@0.3", "R1@0.5"),
    challenge="ego4d_nlq_challenge",
    query_type="nlq",
    aliases=("nlq",),
    synthetic="nlq",
)
NLQ_V1 = Track(
    name="nlq_v1",
    thresholds=(0.3, 0.5),
    topk=(1, 5),
    rank_keys=("R1@0.3", "R1@0.5"),
    challenge="ego4d_nlq_challenge",
    query_type="nlq",
)
GOALSTEP = Track(
    name="goalstep",
    thresholds=(0.3, 0.5),
    topk=(1, 5),
    rank_keys=("R1@0.3",),
    challenge="ego4d_goalstep_challenge",
    query_type="goal_step",
    synthetic="goalstep",
)
TACOS = Track(
    name="tacos",
    thresholds=(0.1, 0.3, 0.5, 0.7),
    topk=(1, 5),
    rank_keys=("R1@0.5",),
    challenge=None,
    query_type="tacos",
    synthetic="tacos",
)

TRACKS: dict[str, Track] = {t.name: t for t in (NLQ_V1, NLQ_V2, GOALSTEP, TACOS)}
TRACK_NAMES: tuple[str, ...] = tuple(name for t in TRACKS.values() for name in (t.name, *t.aliases))
"""Every name ``--track`` accepts, in every command: the track names and their aliases."""


def get_track(name: str) -> Track:
    """Look a track up by name or alias (``nlq`` is ``nlq_v2``)."""
    key = name.strip().lower()
    for track in TRACKS.values():
        if key == track.name or key in track.aliases:
            return track
    raise UserError(f"unknown track {name!r}; choose one of {', '.join(TRACK_NAMES)}.")


def synthetic_profile(track: Track) -> str:
    """The synthetic data profile that imitates ``track``; a ``UserError`` when none does."""
    if track.synthetic is None:
        imitated = ", ".join(t.name for t in TRACKS.values() if t.synthetic is not None)
        raise UserError(
            f"the synthetic data (osgnet-bench synth, and the demo of run without --config) imitates "
            f"{imitated} only, not --track {track.name}. Choose one of those, or give run a "
            f"{track.name} config with --config."
        )
    return track.synthetic
