"""Revision trajectories (paper section 6, App. H): the text side of `ttc trajectories`.

From one question's sampled solutions, those without a parsable final answer dropped:
- every correct sample is the target of one trajectory;
- k ~ Uniform{min_attempts..min(4, number of incorrect samples)} incorrect attempts go before
  it (paper: min_attempts 0; a target with too few incorrect samples gives no trajectory);
- if k > 0, the LAST attempt (the one the reviser revises) is the incorrect sample closest to
  the target by character-level Levenshtein distance of the whole solution text (ties: the
  lowest sample index); the k-1 before it are other incorrect samples drawn at random, without
  replacement, in random order. Attempts are picked by sample, so two identical texts can both
  appear (that is how often the policy repeats a mistake).
A question without a correct sample gives no trajectory; one without an incorrect sample gives
k = 0 trajectories only (none when min_attempts > 0). k = 0 trajectories are rejection-sampling
fine-tuning: they make the reviser's first attempt a better policy rather than teach it to
revise (on the toy world they removed the slips from attempt 1, leaving later attempts nothing
to fix), hence `min_attempts`. The draws are seeded by (seed, problem id) and made in sample-index
order, so a question's trajectories depend on nothing else (sharded runs merge byte for byte).

The reviser sees `data.revision_format.revision_prompt(...)` and is trained to continue it
with the target, in training (train/revision.py) and at inference alike.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Sequence

from data.labels import labelable
from data.records import Problem, Sample, Trajectory
from data.revision_format import MAX_ATTEMPTS
from data.shards import derive_seed


def edit_distance(a: str, b: str) -> int:
    """Character-level Levenshtein distance (unit insert, delete, substitute).

    Myers' bit-parallel algorithm (Hyyrö's formulation for the global distance): one column of
    the DP table is two bit vectors (the +1/-1 vertical differences) held in Python ints, so the
    cost is len(b) steps of a few big-int operations: a few ms for two 1,000-character solutions,
    where the plain DP takes ~0.5 s in Python.
    """
    if len(a) < len(b):
        a, b = b, a  # the bit vectors run over the longer text, the loop over the shorter
    if not b:
        return len(a)
    match: dict[str, int] = {}
    for i, char in enumerate(a):
        match[char] = match.get(char, 0) | (1 << i)
    mask, top = (1 << len(a)) - 1, 1 << (len(a) - 1)
    plus, minus, score = mask, 0, len(a)  # column 0: D[i][0] = i, every difference +1
    for char in b:
        eq = match.get(char, 0)
        xv = eq | minus
        xh = (((eq & plus) + plus) ^ plus) | eq
        h_plus = minus | ~(xh | plus)
        h_minus = plus & xh
        score += (h_plus & top != 0) - (h_minus & top != 0)
        h_plus = (h_plus << 1) | 1  # row 0: D[0][j] = j, the horizontal difference is +1
        h_minus <<= 1
        plus = (h_minus | ~(xv | h_plus)) & mask
        minus = h_plus & xv & mask
    return score


@lru_cache(maxsize=1 << 16)
def _cached_distance(a: str, b: str) -> int:
    return edit_distance(a, b)  # a question's samples repeat texts: each pair is computed once


def closest(target: Sample, candidates: Sequence[Sample]) -> Sample:
    """The candidate nearest to `target` by edit distance of the text; ties: lowest index."""
    return min(candidates, key=lambda s: (_cached_distance(target.text, s.text), s.index))


def build_trajectories(
    problem: Problem,
    samples: Sequence[Sample],
    seed: int,
    max_attempts: int = MAX_ATTEMPTS,
    min_attempts: int = 0,
) -> list[Trajectory]:
    """The trajectories of one question (the rules are in the module docstring)."""
    kept = sorted((s for s in samples if labelable(s)), key=lambda s: s.index)
    correct = [s for s in kept if s.correct]
    incorrect = [s for s in kept if not s.correct]
    rng = random.Random(derive_seed(seed, problem.id))
    trajectories = []
    most = min(max_attempts, len(incorrect))
    for target in correct if most >= min_attempts else []:
        k = rng.randint(min_attempts, most)
        previous: list[Sample] = []
        if k:
            last = closest(target, incorrect)
            others = [s for s in incorrect if s is not last]
            previous = rng.sample(others, k - 1) + [last]
        trajectories.append(
            Trajectory(
                problem_id=problem.id,
                index=target.index,
                question=problem.question,
                previous=[s.text for s in previous],
                previous_indices=[s.index for s in previous],
                target=target.text,
            )
        )
    return trajectories
