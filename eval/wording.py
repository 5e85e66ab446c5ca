"""The words the report's sentences share (ttc/pipeline/report.py assembles them; each evaluation
module's `findings` and headline builders write them): a number, a list, a tally of verdicts, and
the budget a comparison is made at."""

from __future__ import annotations

from typing import Any, Callable

from eval.paired import Paired


def num(x: float) -> str:
    return f"{x:g}"


def listing(items: list[Any]) -> str:
    return ", ".join(map(str, items)) if items else "none"


def tally(comparisons: list[Paired]) -> str:
    """'ahead at 2, level at 3 and behind at 0 of 5' (and how many had no interval)."""
    count = {v: sum(p.verdict == v for p in comparisons) for v in ("ahead", "level", "behind", None)}
    unjudged = f" ({count[None]} without an interval)" if count[None] else ""
    return (
        f"ahead at {count['ahead']}, level at {count['level']} and behind at {count['behind']} of "
        f"{len(comparisons)}{unjudged}"
    )


def preferred(shared: set[int], budget: int, otherwise: Callable[[set[int]], int]) -> int:
    """The README's budget when both sides ran it, else the one the part's sentence falls back to."""
    return budget if budget in shared else otherwise(shared)
