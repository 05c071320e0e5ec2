"""Small helpers for the wording of console messages."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun`` in the right number: ``plural(1, "query") == "1 query"``,
    ``plural(2, "query") == "2 queries"``, ``plural(0, "file") == "0 files"``; ``many`` gives an
    irregular plural form."""
    if count == 1:
        return f"{count} {noun}"
    if many is None:
        many = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{count} {many}"
