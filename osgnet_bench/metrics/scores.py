"""The numbers one scoring pass produces, before a track's ranking metric is added."""

from __future__ import annotations

from dataclasses import dataclass

MIOU_TOP_IOUS = 3  # a query's mIoU term averages this many of its top-1 window's best GT IoUs


@dataclass(frozen=True)
class Scores:
    """Percentages (0-100) over ``num_evaluated`` queries.

    ``recall`` maps ``R{k}@{t}`` keys to recall, ``miou`` is the mean over queries of the mean of
    the ``MIOU_TOP_IOUS`` (3) largest IoUs of the top-1 window with the GT windows.
    """

    recall: dict[str, float]
    miou: float
    num_evaluated: int
