"""How well scores rank solutions: AUC overall and within each question.

The within-question AUC is what best-of-N needs (picking among one question's solutions); the
AUC over all solutions also rewards ranking questions by difficulty. Used by the PRM trainer to
choose its checkpoint and by the PRM evaluation.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Hashable, Sequence

import numpy as np


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve (Mann-Whitney U with ties averaged); NaN without both classes."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # the mean rank of each tie group
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def within_question_aucs(groups: Sequence[Hashable], scores: Sequence[float], labels: Sequence[bool]) -> dict:
    """Each group's AUC, for the groups that hold both classes (the others rank nothing)."""
    by_group: dict = defaultdict(lambda: ([], []))
    for g, s, y in zip(groups, scores, labels, strict=True):
        by_group[g][0].append(s)
        by_group[g][1].append(bool(y))
    return {g: auc(s, y) for g, (s, y) in sorted(by_group.items()) if 0 < sum(y) < len(y)}
