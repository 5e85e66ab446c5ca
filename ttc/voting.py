"""Answer aggregation over N candidates: majority voting and best-of-N weighted.

Best-of-N weighted (Li et al. 2023, the paper's choice) sums the verifier scores of the
candidates that share a final answer and returns the answer with the largest sum; majority
voting is the same with every weight 1. Candidates without an answer never win. Ties go to
the answer seen first, so results are deterministic.
"""

from __future__ import annotations

from typing import Sequence


def weighted_vote(answers: Sequence[str | None], weights: Sequence[float] | None = None) -> str | None:
    if weights is not None and len(weights) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(weights)} weights")
    totals: dict[str, float] = {}
    for i, answer in enumerate(answers):
        if answer is not None:
            totals[answer] = totals.get(answer, 0.0) + (1.0 if weights is None else weights[i])
    return max(totals, key=totals.__getitem__, default=None)  # dicts keep first-seen order
