"""Accuracy estimators over sampled solutions."""

from __future__ import annotations

from math import comb
from typing import Sequence

from data.records import Sample
from ttc.search.select import weighted_vote


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    return 1.0 - comb(n - c, k) / comb(n, k)


def majority_correct(samples: Sequence[Sample]) -> bool:
    """Whether the most common final answer among the samples is correct."""
    winner = weighted_vote([s.answer for s in samples])
    return any(s.correct for s in samples if s.answer == winner and winner is not None)
