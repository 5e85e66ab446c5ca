"""Best-of-N: N full solutions per problem, scored by the PRM, one answer selected (naive,
weighted or majority; ttc/search/session.py).

A sweep over N costs one pool: draw P samples per problem once (`sample_pools`), then estimate
the accuracy at every n <= P (`accuracy`, `sweep`) as the expectation over subsets of n of the
pool, the estimator of search-and-learn's subsampling without its one-subset noise:
- naive: exact, in closed form. With the pool's distinct scores s (unanswered samples below
  all), the subset's best has score s with probability [C(L_s + t_s, n) - C(L_s, n)] / C(P, n)
  (t_s samples score s, L_s score less), and is then any of the t_s equally likely (subsets
  come in random order; `select` on one ordered subset takes the first).
- weighted and majority: over every subset when there are at most `num_subsets` of them (n = P,
  n = 1, small pools), exactly; otherwise over `num_subsets` random subsets in random order.
  Ties go to the answer seen first in the subset, as in ttc.search.select.
Subsets are seeded by (seed, problem id, n), the same for every selection rule, so that rules
are compared on the same subsets. A result's distinct candidates are exact too: the expected
number of distinct answered texts in a subset of n (`expected_distinct`). The samples are
ttc.stages.sample's records, graded the same way.

Pools drawn already can grow (`extend_pools`): `ttc solve`'s probe (ttc/policy/planner.py) is the start
of the best-of-N it runs, and only the rest of its budget is drawn.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import Any, Callable, Generator, Sequence

import numpy as np

from data.records import Problem, Sample
from data.shards import derive_seed
from ttc.lm import LM, GenerationRequest, check_sampling
from ttc.lm.sampling import grade
from ttc.search.config import SELECTIONS, SearchConfig, Selection
from ttc.search.result import Costs, SearchResult, make_result
from ttc.search.scheduler import Generate, Score, drive
from ttc.search.select import select
from ttc.search.session import Session
from ttc.verifiers import Aggregation, Verifier, aggregate

NUM_SUBSETS = 1000


@dataclass
class BestOfNConfig(SearchConfig):
    STRATEGY = "best_of_n"
    max_tokens: int = 1024  # per solution
    stop: list[str] = field(default_factory=list)  # end-of-solution markers, cut from the text

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sampling(self.n, self.temperature, self.top_p, self.max_tokens, self.stop)

    def pool_settings(self) -> dict[str, Any]:
        """The method's settings that decide its samples. Selection and aggregation only read a
        pool, so runs that agree on these can share one: best-of-N lines of `ttc eval`, and the
        probe of `ttc solve` with the policy's best-of-N runs (ttc/policy/__init__.py)."""
        return {
            k: v
            for k, v in self.settings().items()
            if k in self.method_fields() and k not in ("selection", "aggregation")
        }


@dataclass
class Pool:
    """One problem's samples, graded, with the PRM's step values of each."""

    problem_id: str
    samples: list[Sample]
    values: list[list[float]]
    costs: Costs | None = None  # of drawing and scoring the whole pool, when known

    def __post_init__(self) -> None:
        if len(self.samples) != len(self.values):
            raise ValueError(f"{self.problem_id}: {len(self.samples)} samples but {len(self.values)} value lists")


def sample_pools(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: BestOfNConfig) -> list[Pool]:
    """cfg.n samples of each problem (a request of n=N per problem, seeded by (seed, problem
    id) as `ttc sample` does), scored. On a streaming LM (vLLM) a problem's samples go to the
    verifier as soon as they are drawn, while the LM draws the others' (ttc/search/scheduler.py);
    on another, all problems' requests are one LM call and their samples one verifier call."""
    return _sample(problems, lm, prm, cfg)[0]


def best_of_n(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: BestOfNConfig) -> list[SearchResult]:
    pools, session = _sample(problems, lm, prm, cfg)
    results = []
    for p, pool in enumerate(pools):
        finals = [(s.text, aggregate(v, cfg.aggregation)) for s, v in zip(pool.samples, pool.values)]
        results.append(session.result(p, finals))
    return results


def extend_pools(
    problems: Sequence[Problem], pools: Sequence[Pool], cfg: BestOfNConfig, budget: int, lm: LM, prm: Verifier
) -> list[SearchResult]:
    """Best-of-N over each drawn pool (`ttc solve`'s probe, ttc/policy/planner.py) and the rest of the
    budget as new samples (one call for the group): the best-of-N of `budget` samples, for pools
    drawn with `cfg`'s sampling settings. A result's generations and ledger are the new samples'
    (the caller adds the pool's); its candidates are the whole pool."""
    extra = budget - len(pools[0].samples)
    rest: Sequence[Pool | None] = [None] * len(problems)
    if extra:  # seeded apart from the pool: the new samples must not repeat it
        rest = sample_pools(
            problems, lm, prm, dataclasses.replace(cfg, n=extra, seed=derive_seed(cfg.seed, "solve-rest"))
        )
    results = []
    for problem, pool, more in zip(problems, pools, rest, strict=True):
        samples = list(pool.samples) + ([] if more is None else list(more.samples))
        values = list(pool.values) + ([] if more is None else list(more.values))
        i = select([s.answer for s in samples], [aggregate(v, cfg.aggregation) for v in values], cfg.selection)
        chosen = None if i is None else samples[i]
        costs = Costs() if more is None else more.costs
        if costs is None:  # sample_pools's pools always know theirs
            raise ValueError(f"{problem.id}: the new samples' costs are unknown")
        results.append(
            SearchResult(
                problem.id,
                cfg.STRATEGY,
                {**cfg.params(), "n": len(samples)},
                len(samples),
                cfg.seed,
                None if chosen is None else chosen.answer,
                float(chosen is not None and chosen.correct),
                None if chosen is None else chosen.text,
                len(samples),
                extra,
                **costs.record(lm.num_parameters, prm.num_parameters),
            )
        )
    return results


def _sample(problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: BestOfNConfig) -> tuple[list[Pool], Session]:
    session = Session(problems, lm, prm, cfg)
    return drive(session, [_draw(session, cfg, p) for p in range(len(problems))], "best-of-N"), session


def _draw(session: Session, cfg: BestOfNConfig, p: int) -> Generator[Generate | Score, Any, Pool]:
    """Problem p's pool: one request of n=N, its samples graded and scored."""
    problem = session.problems[p]
    request = GenerationRequest(
        session.prompts[p],
        cfg.n,
        cfg.temperature,
        cfg.top_p,
        cfg.max_tokens,
        tuple(cfg.stop),
        seed=derive_seed(cfg.seed, problem.id),
    )
    [completions] = yield Generate([request])
    samples = [grade(problem, i, c, cfg.stop) for i, c in enumerate(completions)]
    values = yield Score([s.text for s in samples])
    return Pool(problem.id, samples, values, session.costs[p])


def accuracy(
    pool: Pool,
    n: int,
    selection: Selection,
    aggregation: Aggregation = "last",
    num_subsets: int = NUM_SUBSETS,
    seed: int = 0,
) -> float:
    """Expected accuracy of best-of-n with `selection` on a subset of n of the pool's samples."""
    size = len(pool.samples)
    if size == 0:
        raise ValueError(f"{pool.problem_id}: empty pool")
    if not 1 <= n <= size:
        raise ValueError(
            f"{pool.problem_id}: a pool of {size} samples estimates best-of-n for 1 <= n <= {size}, not {n}"
        )
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}: {', '.join(SELECTIONS)}")
    scores = [aggregate(v, aggregation) for v in pool.values]
    if selection == "naive":
        return _naive(pool.samples, scores, n)
    ids: dict[str, int] = {}
    answer_ids = np.array([-1 if s.answer is None else ids.setdefault(s.answer, len(ids)) for s in pool.samples])
    if not ids:
        return 0.0
    answer_correct = np.zeros(len(ids), dtype=bool)
    for s, a in zip(pool.samples, answer_ids):
        if a >= 0 and s.correct:
            answer_correct[a] = True
    weights = np.array(scores if selection == "weighted" else [1.0] * size, dtype=float)
    rng = np.random.default_rng(derive_seed(seed, pool.problem_id, n))
    return _vote(answer_ids, answer_correct, weights, _subsets(size, n, num_subsets, rng))


def _naive(samples: Sequence[Sample], scores: Sequence[float], n: int) -> float:
    keyed = sorted(
        (s.answer is not None, score if s.answer is not None else 0.0, s.correct) for s, score in zip(samples, scores)
    )
    total, below, i = 0.0, 0, 0
    while i < len(keyed):
        j = i
        while j < len(keyed) and keyed[j][:2] == keyed[i][:2]:
            j += 1
        ties = j - i
        if keyed[i][0]:  # unanswered samples never win
            p_best = (comb(below + ties, n) - comb(below, n)) / comb(len(keyed), n)
            total += p_best * sum(k[2] for k in keyed[i:j]) / ties
        below, i = below + ties, j
    return total


def expected_distinct(samples: Sequence[Sample], n: int) -> float:
    """Expected number of distinct answered texts in a random subset of n of `samples`: a text
    with c copies among P samples is in it with probability 1 - C(P - c, n) / C(P, n)."""
    copies = Counter(s.text for s in samples if s.answer is not None)
    return sum((1 - comb(len(samples) - c, n) / comb(len(samples), n) for c in copies.values()), 0.0)


def _subsets(size: int, n: int, num_subsets: int, rng: np.random.Generator) -> np.ndarray:
    if comb(size, n) <= num_subsets:
        return np.array(list(combinations(range(size), n)), dtype=int).reshape(-1, n)
    return rng.random((num_subsets, size)).argsort(axis=1)[:, :n]


def _vote(answer_ids: np.ndarray, answer_correct: np.ndarray, weights: np.ndarray, subsets: np.ndarray) -> float:
    """Mean correctness of `weighted_vote` over the rows of `subsets`, vectorized."""
    rows, n = subsets.shape
    ids, w = answer_ids[subsets], weights[subsets]
    row = np.broadcast_to(np.arange(rows)[:, None], (rows, n))
    position = np.broadcast_to(np.arange(n), (rows, n))
    ok = ids >= 0
    totals = np.zeros((rows, len(answer_correct)))
    np.add.at(totals, (row[ok], ids[ok]), w[ok])  # in subset order, as weighted_vote sums
    first = np.full((rows, len(answer_correct)), n)
    np.minimum.at(first, (row[ok], ids[ok]), position[ok])
    seen = first < n
    totals = np.where(seen, totals, -np.inf)
    tied = seen & (totals == totals.max(axis=1, keepdims=True))
    winner = np.where(tied, first, n + 1).argmin(axis=1)
    return float(np.mean(answer_correct[winner] & seen.any(axis=1)))


PoolEstimate = Callable[[Pool, int], tuple[float, float | None, float]]


def sweep_pools(
    pools: Sequence[Pool],
    ns: Sequence[int],
    cfg: SearchConfig,
    estimate: PoolEstimate,
    policy_parameters: int,
    prm_parameters: int | None,
) -> list[SearchResult]:
    """One result per pool and n in `ns` from `estimate(pool, n)`: (expected correctness,
    expected samples drawn, None when all n, expected distinct answered texts). The cost is a
    share of the pool's: the prompt whole (the samples of one request share it), the drawn
    fraction of its generated and PRM tokens. The pool estimators of best-of-N (`sweep`) and
    adaptive stopping (ttc/search/adaptive.py) both go through it."""
    results = []
    for pool in pools:
        size = len(pool.samples)
        if pool.costs is None:
            raise ValueError(f"{pool.problem_id}: the pool's costs are unknown; draw it with sample_pools")
        for n in ns:
            correct, spent, distinct = estimate(pool, n)
            drawn = n if spent is None else spent
            results.append(
                make_result(
                    pool.problem_id,
                    cfg.STRATEGY,
                    {**cfg.params(), "n": n, "pool": size},
                    cfg,
                    None,
                    correct,
                    None,
                    n,
                    n,
                    pool.costs.share(drawn / size),
                    policy_parameters,
                    prm_parameters,
                    distinct,
                    spent,
                )
            )
    return results


def sweep(
    pools: Sequence[Pool],
    ns: Sequence[int],
    cfg: BestOfNConfig,
    policy_parameters: int,
    prm_parameters: int | None,
    num_subsets: int = NUM_SUBSETS,
) -> list[SearchResult]:
    """Best-of-n results estimated from pools, for every n in `ns` (each <= its pool's size):
    `correct` is the expected accuracy over subsets of n."""

    def estimate(pool: Pool, n: int) -> tuple[float, None, float]:
        return (
            accuracy(pool, n, cfg.selection, cfg.aggregation, num_subsets, cfg.seed),
            None,
            expected_distinct(pool.samples, n),
        )

    return sweep_pools(pools, ns, cfg, estimate, policy_parameters, prm_parameters)
