"""Answer aggregation over N candidates: majority voting and best-of-N weighted.

Best-of-N weighted (Li et al. 2023, the paper's choice) sums the verifier scores of the
candidates that share a final answer and returns the answer with the largest sum; majority
voting is the same with every weight 1. Candidates without an answer never win. Ties go to
the answer seen first, so results are deterministic.

Selection over final candidates (`select`): `naive` takes the highest-scoring candidate,
`weighted` is best-of-N weighted (Li et al. 2023, the paper's choice: the answer whose
candidates' scores sum highest), `majority` the most frequent answer. Candidates without an
extractable answer never win; ties go to the first candidate (ttc.search.select).
"""

from __future__ import annotations

from typing import Sequence

from ttc.search.config import SELECTIONS, Selection


def weighted_vote(answers: Sequence[str | None], weights: Sequence[float] | None = None) -> str | None:
    if weights is not None and len(weights) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(weights)} weights")
    totals: dict[str, float] = {}
    for i, answer in enumerate(answers):
        if answer is not None:
            totals[answer] = totals.get(answer, 0.0) + (1.0 if weights is None else weights[i])
    return max(totals, key=totals.__getitem__, default=None)  # dicts keep first-seen order


def select(answers: Sequence[str | None], scores: Sequence[float], how: Selection) -> int | None:
    """Index of the candidate a selection rule picks; None when no candidate has an answer.
    For `weighted` and `majority` it is the highest-scoring candidate with the winning answer."""
    if len(answers) != len(scores):
        raise ValueError(f"{len(answers)} answers but {len(scores)} scores")
    if how not in SELECTIONS:
        raise ValueError(f"unknown selection {how!r}: {', '.join(SELECTIONS)}")
    answered = [i for i, a in enumerate(answers) if a is not None]
    if how == "naive":
        return max(answered, key=scores.__getitem__, default=None)
    winner = weighted_vote(answers, list(scores) if how == "weighted" else None)
    return max((i for i in answered if answers[i] == winner), key=scores.__getitem__, default=None)
