"""A generation budget N split into (parallel chains) x (chain length) by a sequential/parallel
ratio (the paper's Fig. 7 sweeps it at fixed N; its exact definition is not stated).

ratio = chain length / number of chains (L / C, with C x L = N): ratio N is one chain of N
attempts (fully sequential), ratio 1/N is N chains of one attempt (fully parallel, best-of-N of
the reviser), ratio 1 is sqrt(N) x sqrt(N). For a given ratio, L = sqrt(N x ratio) rounded to a
divisor of N: the divisor whose L^2 / N is nearest to the ratio on a log scale, ties to the
longer chain (as beam search's M = sqrt(N), ttc/search/tree.py). So every ratio gives a whole
split that spends exactly N: N = 8 at ratio 1 gives 2 chains of 4; any ratio above N gives one
chain of N, any below 1/N gives N chains of one.
"""

from __future__ import annotations

import math
from fractions import Fraction


def split_budget(n: int, ratio: float) -> tuple[int, int]:
    """(chains, chain length) for a budget of n generations at sequential/parallel `ratio`."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the budget must be an integer >= 1, got {n!r}")
    if not (isinstance(ratio, (int, float)) and math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"the sequential/parallel ratio must be a finite number > 0, got {ratio!r}")
    target = Fraction(ratio)

    def distance(length: int) -> Fraction:  # |log(L^2 / N) - log(ratio)|, kept exact
        achieved = Fraction(length * length, n)
        return max(achieved / target, target / achieved)

    length = min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: (distance(d), -d))
    return n // length, length


def ratio_of(chains: int, length: int) -> float:
    """The sequential/parallel ratio of a split."""
    return length / chains
