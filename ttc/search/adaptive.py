"""Adaptive self-consistency (Aggarwal et al. 2023, "Let's Sample Step by Step"): samples are
drawn in waves, and a problem stops drawing once its answers agree, so that easy problems spend
little of the budget N and hard ones all of it. Selection over the samples drawn is best-of-N's
(ttc/search/session.py `select`).

The stop rule (`should_stop`, the one function both paths below use), checked after each wave on
every sample drawn so far, each with a vote weight: 1 (`selection: majority` and `naive`, which
counts votes) or its PRM score (`selection: weighted`, best-of-N weighted's weights):
- `rule: share` (default): stop when the leading answer holds at least `agreement` of the vote
  weight of the samples drawn. Samples without an answer count in the total (they are evidence
  that the problem is not settled) and never lead; a total of 0 never stops.
- `rule: beta` (Aggarwal et al.'s criterion; its_hub's Beta form): stop when P(p1 > p2) >=
  `confidence`, p1 and p2 the true shares of the leading answer and the runner-up, under the
  posterior Beta(v1 + 1, v2 + 1) of their vote counts v1, v2 with a uniform prior: P(X > 1/2) =
  P(Binomial(v1 + v2 + 1, 1/2) <= v1). It counts votes, so it takes `majority` or `naive`
  selection (a weighted vote has no such posterior).
and never before `min_samples` are drawn. The waves hold `wave` samples each (default 4: one wave
of 4 agreeing samples is what the Beta rule at 0.95 needs too), the last one cut to the cap N,
so at N <= wave adaptive is best-of-N. An `agreement` above 1 never stops: best-of-N.

The ledger (ttc/search/session.py): `generations` is the cap N, the budget the grid and the
compute-optimal policy index by; `spent` is the number of samples drawn, and the tokens and FLOPs
are theirs.

Two paths:
- `adaptive` (what `ttc solve` and a searched line run): per problem, one request per wave
  (seeded by (seed, problem id, wave)) through the scheduler (ttc/search/scheduler.py), so one LM
  call per wave holds every problem still drawing, each wave scored by the PRM as drawn.
- `sweep_adaptive` (what `ttc eval` runs): estimated from best-of-N's pool of P samples
  (ttc/search/best_of_n.py; adaptive samples as best-of-N does, so their `pool_settings` agree and
  one pool serves both). For each cap n, over ordered draws of n of the pool (every one when there
  are at most `num_subsets`, else `num_subsets` random orders seeded by (seed, problem id, n), the
  very rows best-of-N's estimator draws at that n), the order's samples are taken wave by wave
  until the rule stops or n are taken; `correct` is the mean correctness, `spent` the mean number
  taken, and the costs are that share of the pool's (`Costs.share(spent / P)`). A result's
  `candidates` is the cap n, its `distinct_candidates` the expected distinct answered texts taken.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, permutations
from math import comb, perm
from typing import Any, Generator, Literal, Sequence

import numpy as np

from data.records import Problem, Sample
from data.shards import derive_seed
from ttc.lm import LM, GenerationRequest
from ttc.lm.sampling import grade
from ttc.search.best_of_n import NUM_SUBSETS, BestOfNConfig, Pool, _vote, sweep_pools
from ttc.search.result import SearchResult
from ttc.search.scheduler import Generate, Score, drive
from ttc.search.session import Session
from ttc.verifiers import Verifier, aggregate

Rule = Literal["share", "beta"]
STOP_FIELDS = ("wave", "rule", "agreement", "confidence", "min_samples")  # read the samples, draw none


@dataclass
class AdaptiveConfig(BestOfNConfig):
    """`n` is the cap N: the most samples a problem may draw."""

    STRATEGY = "adaptive"  # adaptive self-consistency
    wave: int = 4  # samples per wave; the last is cut to the cap
    rule: Rule = "share"
    agreement: float = 0.75  # rule share: the leading answer's share of the vote weight to stop at
    confidence: float = 0.95  # rule beta: P(leader's share > runner-up's) to stop at
    min_samples: int = 1  # never stop before this many are drawn

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.wave < 1 or self.min_samples < 1:
            raise ValueError(f"wave and min_samples must be >= 1, got {self.wave} and {self.min_samples}")
        if self.rule not in ("share", "beta"):
            raise ValueError(f"rule must be share or beta, got {self.rule!r}")
        if self.agreement <= 0 or not 0 < self.confidence <= 1:
            raise ValueError(f"agreement must be > 0 and confidence in (0, 1], got {self.agreement}, {self.confidence}")
        if self.rule == "beta" and self.selection == "weighted":
            raise ValueError("rule beta counts votes: use selection majority or naive, or rule share")

    def pool_settings(self) -> dict[str, Any]:
        """Best-of-N's for the same sampling settings: the stop rule only reads the samples."""
        return {k: v for k, v in super().pool_settings().items() if k not in STOP_FIELDS}

    def wave_ends(self, cap: int) -> list[int]:
        """How many samples are drawn after each wave, up to `cap`."""
        return [min(end, cap) for end in range(self.wave, cap + self.wave, self.wave)]

    def weights(self, scores: Sequence[float]) -> np.ndarray:
        """Each sample's vote weight: its score for a weighted vote, else 1."""
        return np.asarray(scores if self.selection == "weighted" else np.ones(len(scores)), dtype=float)


def should_stop(
    votes: np.ndarray, other: np.ndarray | float, taken: np.ndarray | int, cfg: AdaptiveConfig
) -> np.ndarray:
    """The stop rule, over any leading shape: `votes[..., a]` is answer a's vote weight among the
    samples drawn, `other` the weight of those without an answer, `taken` how many were drawn."""
    padded = np.concatenate([votes, np.zeros(votes.shape[:-1] + (2,))], axis=-1)  # no answer, or one
    top = -np.partition(-padded, 1, axis=-1)
    leader, runner_up = top[..., 0], top[..., 1]
    if cfg.rule == "share":
        total = votes.sum(axis=-1) + other
        agreed = (total > 0) & (leader >= cfg.agreement * total)
    else:
        table = _beta_table(1 << int(np.max(taken)).bit_length())  # sizes in powers of 2: few tables
        agreed = table[np.rint(leader).astype(int), np.rint(runner_up).astype(int)] >= cfg.confidence
    return agreed & (np.asarray(taken) >= cfg.min_samples)


@lru_cache(maxsize=16)
def _beta_table(size: int) -> np.ndarray:
    """table[v1, v2] = P(X > 1/2), X ~ Beta(v1 + 1, v2 + 1), for v1 + v2 <= size: with integer
    parameters, P(Binomial(v1 + v2 + 1, 1/2) <= v1), in exact integers until the division."""
    table = np.zeros((size + 1, size + 1))
    for trials in range(1, size + 2):
        below = list(accumulate(comb(trials, k) for k in range(trials)))
        for v1 in range(trials):
            table[v1, trials - 1 - v1] = below[v1] / 2**trials
    return table


# --- the run ------------------------------------------------------------------------------------


def adaptive(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: AdaptiveConfig) -> list[SearchResult]:
    session = Session(problems, lm, prm, cfg)
    return drive(session, [_search(session, cfg, p) for p in range(len(problems))], "adaptive")


def _search(session: Session, cfg: AdaptiveConfig, p: int) -> Generator[Generate | Score, Any, SearchResult]:
    """Problem p: waves until the rule stops or the cap is drawn, then selection over all drawn."""
    problem = session.problems[p]
    samples: list[Sample] = []
    scores: list[float] = []
    for wave, end in enumerate(cfg.wave_ends(cfg.n)):
        request = GenerationRequest(
            session.prompts[p],
            end - len(samples),
            cfg.temperature,
            cfg.top_p,
            cfg.max_tokens,
            tuple(cfg.stop),
            seed=derive_seed(cfg.seed, problem.id, wave),
        )
        [completions] = yield Generate([request])
        drawn = [grade(problem, len(samples) + i, c, cfg.stop) for i, c in enumerate(completions)]
        values = yield Score([s.text for s in drawn])
        samples += drawn
        scores += session.aggregated(values)
        votes, other = _tally([s.answer for s in samples], cfg.weights(scores))
        if should_stop(votes, other, len(samples), cfg):
            break
    result = session.result(p, [(s.text, score) for s, score in zip(samples, scores)])
    return dataclasses.replace(result, spent=float(len(samples)))


def _tally(answers: Sequence[str | None], weights: np.ndarray) -> tuple[np.ndarray, float]:
    """(each answer's vote weight, the weight of the samples without one)."""
    totals: dict[str, float] = {}
    for answer, w in zip(answers, weights):
        if answer is not None:
            totals[answer] = totals.get(answer, 0.0) + w
    return np.array(list(totals.values()), dtype=float), float(sum(w for a, w in zip(answers, weights) if a is None))


# --- the pool estimate --------------------------------------------------------------------------


def sweep_adaptive(
    pools: Sequence[Pool],
    ns: Sequence[int],
    cfg: AdaptiveConfig,
    policy_parameters: int,
    prm_parameters: int | None,
    num_subsets: int = NUM_SUBSETS,
) -> list[SearchResult]:
    """Adaptive results estimated from best-of-N pools, for every cap n in `ns` (each <= its
    pool's size), with best_of_n.sweep's signature."""
    return sweep_pools(
        pools, ns, cfg, lambda pool, n: estimate(pool, n, cfg, num_subsets), policy_parameters, prm_parameters
    )


def estimate(pool: Pool, n: int, cfg: AdaptiveConfig, num_subsets: int = NUM_SUBSETS) -> tuple[float, float, float]:
    """(expected correctness, expected samples drawn, expected distinct answered texts drawn) of
    adaptive with cap n on ordered draws from the pool."""
    size = len(pool.samples)
    if not 1 <= n <= size:
        raise ValueError(f"{pool.problem_id}: a pool of {size} samples estimates caps 1 <= n <= {size}, not {n}")
    answers: dict[str, int] = {}
    answer_ids = np.array(
        [-1 if s.answer is None else answers.setdefault(s.answer, len(answers)) for s in pool.samples] + [-1]
    )  # the last: a sentinel for samples not taken
    weights = np.append(cfg.weights([aggregate(v, cfg.aggregation) for v in pool.values]), 0.0)
    orders = _orders(size, n, num_subsets, np.random.default_rng(derive_seed(cfg.seed, pool.problem_id, n)))
    taken = _taken(answer_ids[orders], weights[orders], len(answers), cfg.wave_ends(n), cfg)
    drawn = np.where(np.arange(n) < taken[:, None], orders, size)  # the samples not taken: the sentinel
    return _correct(pool, answer_ids, answers, weights, drawn, cfg), float(taken.mean()), _distinct(pool, drawn)


def _orders(size: int, n: int, num_subsets: int, rng: np.random.Generator) -> np.ndarray:
    """Ordered draws of n of `size`: every one when there are at most `num_subsets` (exact), else
    random orders drawn as best-of-N's estimator draws its subsets (the same rows, seeded alike)."""
    if perm(size, n) <= num_subsets:
        return np.array(list(permutations(range(size), n)), dtype=int).reshape(-1, n)
    return rng.random((num_subsets, size)).argsort(axis=1)[:, :n]


def _taken(ids: np.ndarray, weights: np.ndarray, num_answers: int, ends: list[int], cfg: AdaptiveConfig) -> np.ndarray:
    """How many of each row's samples are drawn: the first wave end where the rule stops, else all."""
    rows = np.arange(len(ids))[:, None]
    votes, other = np.zeros((len(ids), num_answers)), np.zeros(len(ids))
    taken, start = np.full(len(ids), ends[-1]), 0
    running = np.ones(len(ids), dtype=bool)
    for end in ends:
        wave_ids, wave_weights = ids[:, start:end], weights[:, start:end]
        answered = wave_ids >= 0
        np.add.at(votes, (np.broadcast_to(rows, wave_ids.shape)[answered], wave_ids[answered]), wave_weights[answered])
        other += np.where(answered, 0.0, wave_weights).sum(axis=1)
        stopped = running & should_stop(votes, other, end, cfg)
        taken[stopped], running = end, running & ~stopped
        start = end
    return taken


def _correct(
    pool: Pool,
    answer_ids: np.ndarray,
    answers: dict[str, int],
    weights: np.ndarray,
    drawn: np.ndarray,
    cfg: AdaptiveConfig,
) -> float:
    """Mean correctness of cfg.selection over each row's samples drawn (the sentinel: not drawn)."""
    if not answers:
        return 0.0
    correct = np.array([s.correct for s in pool.samples] + [False])
    if cfg.selection == "naive":  # the highest-scoring answered sample, the first of ties
        scores = np.array([aggregate(v, cfg.aggregation) for v in pool.values] + [0.0])
        keyed = np.where(answer_ids[drawn] >= 0, scores[drawn], -np.inf)
        best = drawn[np.arange(len(drawn)), keyed.argmax(axis=1)]
        return float(np.mean(correct[best] & np.isfinite(keyed.max(axis=1))))
    answer_correct = np.zeros(len(answers), dtype=bool)
    for a, right in zip(answer_ids[:-1], correct[:-1]):
        if a >= 0 and right:
            answer_correct[a] = True
    return _vote(answer_ids, answer_correct, weights, drawn)


def _distinct(pool: Pool, drawn: np.ndarray) -> float:
    """Mean number of distinct answered texts among each row's samples drawn."""
    texts: dict[str, int] = {}
    text_ids = np.array([-1 if s.answer is None else texts.setdefault(s.text, len(texts)) for s in pool.samples] + [-1])
    ids = text_ids[drawn]
    seen = np.zeros((len(drawn), max(len(texts), 1)), dtype=bool)
    rows = np.broadcast_to(np.arange(len(drawn))[:, None], ids.shape)
    seen[rows[ids >= 0], ids[ids >= 0]] = True
    return float(seen.sum(axis=1).mean())
