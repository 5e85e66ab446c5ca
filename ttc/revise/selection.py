"""Answer selection over revision chains (the paper's App. I), and its expected accuracy.

- `weighted` (the paper's verifier selection): hierarchical best-of-N weighted. Within each
  chain, best-of-N weighted over its attempts' ORM scores; the chain's winner is its
  highest-scoring attempt with the winning answer (ttc.search.select). Across chains, best-of-N
  weighted again over the chain winners, each carrying its own score, as the paper describes
  ("apply best-of-N weighted selection across these per-chain winners"), not the sum of its
  chain's votes: so one chain at ratio N is best-of-N weighted over it, and N chains of one
  attempt are best-of-N weighted over them.
- `naive`: the same hierarchy with the highest score at both levels (= the best attempt overall).
- `majority`: flat majority over all answers of all chains (the paper: hierarchical majority
  was unstable with few samples).
Attempts without an answer never win; a chain without one has no winner; no answer anywhere
selects nothing (None). Ties go to the earlier chain and attempt (ttc.search.select).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from data.shards import derive_seed
from ttc.revise.records import ChainSet
from ttc.search.best_of_n import NUM_SUBSETS, _subsets  # the same subset enumeration as best-of-N
from ttc.search.config import Selection
from ttc.search.select import select


def choose(
    answers: Sequence[Sequence[str | None]], scores: Sequence[Sequence[float]], how: Selection
) -> tuple[int, int] | None:
    """(chain, attempt) that selection rule `how` picks; None when no attempt has an answer."""
    if len(answers) != len(scores) or any(len(a) != len(s) for a, s in zip(answers, scores)):
        raise ValueError("answers and scores must have the same chains of the same lengths")
    if how == "majority":
        flat = [(c, t) for c, chain in enumerate(answers) for t in range(len(chain))]
        winner = select([answers[c][t] for c, t in flat], [scores[c][t] for c, t in flat], how)
        return None if winner is None else flat[winner]
    winners = []
    for c, (chain_answers, chain_scores) in enumerate(zip(answers, scores)):
        t = select(chain_answers, chain_scores, how)
        if t is not None:
            winners.append((c, t))
    chosen = select([answers[c][t] for c, t in winners], [scores[c][t] for c, t in winners], how)
    return None if chosen is None else winners[chosen]


def accuracy(
    chain_set: ChainSet, chains: int, length: int, how: Selection, num_subsets: int = NUM_SUBSETS, seed: int = 0
) -> float:
    """Expected accuracy of `chains` x `length` revisions read off a larger chain set: the mean
    over subsets of `chains` of its chains (every subset when there are at most `num_subsets`,
    else that many seeded random ones, in random order), each cut to its first `length`
    attempts. Valid because an attempt depends only on its chain's earlier attempts."""
    have = len(chain_set.chains)
    if not (1 <= chains <= have and 1 <= length <= chain_set.length):
        raise ValueError(
            f"{chain_set.problem_id}: {have} chains of {chain_set.length} attempts estimate "
            f"1..{have} chains of 1..{chain_set.length}, not {chains} x {length}"
        )
    rng = np.random.default_rng(derive_seed(seed, chain_set.problem_id, chains, length))
    picks = []
    for subset in _subsets(have, chains, num_subsets, rng):
        kept = [chain_set.chains[c][:length] for c in subset]
        chosen = choose(
            [[a.answer for a in chain] for chain in kept], [[a.score for a in chain] for chain in kept], how
        )
        picks.append(chosen is not None and kept[chosen[0]][chosen[1]].correct)
    return float(np.mean(picks))
