"""Revision chains (the paper's Section 6): a reviser revises its own attempts, in parallel chains.

A budget of N generations is C chains of L attempts (ttc/revise/budget.py). Attempt t of a chain
is the reviser's answer to the question with the chain's previous attempts before it
(data/revision_format.py), only the `max_attempts` most recent (paper: 4), and of those only
as many as fit the reviser's context with `max_tokens` to spare (`fit_attempts`, oldest dropped
first; an LM that states no context, ttc.lm.BoundedLM, keeps them all): long attempts would
otherwise outgrow it, and the engine refuses the request, on every rerun alike. Each attempt
records how many it dropped. Attempt 0 sees none: a plain sample. An attempt without an answer
stays in its chain (the next attempt revises it) and never wins.

Batching and seeds: every revision step is ONE LM call for all problems and chains (a request
of n=1 per chain), seeded by (seed, problem id, chain, attempt). A chain's first L attempts do
not depend on C or L, so one large chain set holds every smaller split (ttc/revise/selection.py
estimates them from it). Sampling needs no verifier (`sample_chains`: `ttc chains` stores the
chains unscored for the ORM's training data and the revision eval); `score_chains` then scores
every attempt in one verifier call (the revision ORM), with the previous attempts the reviser
saw in the question, fitted to the ORM's own context in the same way, aggregated by
`aggregation` (paper: last).

`revision` is the strategy (the `run(problems, lm, verifier, cfg)` signature of ttc/search). It
returns one result per problem, `selection`'s over its chains (ttc/revise/selection.py estimates
the other rules from stored chains). The ledger is search's (ttc/search/session.py):
generations = N, policy tokens (the reviser's longer prompts included), ORM tokens, FLOPs.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Sequence, cast

from tqdm.auto import tqdm

from data.records import Problem
from data.revision_format import MAX_ATTEMPTS, Fit, revision_prompt, revision_question
from data.shards import derive_seed
from data.steps import split_steps
from ttc.lm import LM, BoundedLM, GenerationRequest
from ttc.lm.sampling import grade
from ttc.revise.budget import split_budget
from ttc.revise.records import Attempt, ChainSet, reviser_saw
from ttc.revise.selection import choose
from ttc.search.best_of_n import BestOfNConfig
from ttc.search.result import SearchResult, make_result
from ttc.search.session import Sampling, Scoring, blank_costs
from ttc.verifiers import Aggregation, BoundedVerifier, Verifier

log = logging.getLogger(__name__)


@dataclass
class RevisionConfig(BestOfNConfig):
    """n: the budget N = chains x chain length; max_tokens and stop: per attempt; selection: the
    rule of the result (`weighted`: hierarchical best-of-N weighted with the ORM)."""

    STRATEGY = "revision"
    ratio: float = 1.0  # sequential/parallel = chain length / chains (ttc/revise/budget.py)
    max_attempts: int = MAX_ATTEMPTS  # previous attempts in the reviser's (and ORM's) context

    def __post_init__(self) -> None:
        super().__post_init__()
        split_budget(self.n, self.ratio)  # validates the ratio
        if self.max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {self.max_attempts}")

    @property
    def split(self) -> tuple[int, int]:
        """(chains, chain length)."""
        return split_budget(self.n, self.ratio)

    def derived(self) -> dict[str, Any]:
        chains, length = self.split
        return {"chains": chains, "length": length}


def reviser_fit(lm: LM, problem_id: str, max_tokens: int) -> Fit | None:
    """The reviser's prompt leaves `max_tokens` of its context free (an engine refuses more)."""
    if not isinstance(lm, BoundedLM):
        return None
    return Fit(
        lm.count_tokens,
        lm.context_length - max_tokens,
        f"problem {problem_id}: the reviser's prompt (context {lm.context_length} tokens less max_tokens {max_tokens})",
    )


def orm_fit(verifier: Verifier, problem_id: str, steps: list[str]) -> Fit | None:
    """The ORM's question and the scored `steps` fit its context."""
    if not isinstance(verifier, BoundedVerifier):
        return None
    return Fit(
        lambda question: verifier.count_tokens(question, steps),
        verifier.context_length,
        f"problem {problem_id}: the ORM's input (context {verifier.context_length} tokens)",
    )


def sample_chains(problems: Sequence[Problem], lm: LM, cfg: RevisionConfig) -> list[ChainSet]:
    """cfg.split chains of every problem, every attempt graded, none scored (score None); costs:
    the reviser's tokens per problem (ORM tokens None: not spent yet)."""
    session = Sampling(problems, lm, cfg.prompt, blank_costs(problems, None))  # ORM tokens None: not spent yet
    num_chains, length = cfg.split
    tokenizer = lm.tokenizer  # only for chat templates
    fits = [reviser_fit(lm, p.id, cfg.max_tokens) for p in problems]
    chains: list[list[list[Attempt]]] = [[[] for _ in range(num_chains)] for _ in problems]
    slots = [(p, c) for p in range(len(problems)) for c in range(num_chains)]
    for t in tqdm(range(length), desc="revision steps", leave=False, disable=len(slots) < 8):
        asks, dropped = [], []
        for p, c in slots:
            prompt = revision_prompt(
                cfg.prompt, problems[p].question, [a.text for a in chains[p][c]], tokenizer, cfg.max_attempts, fits[p]
            )
            dropped.append(prompt.dropped)
            asks.append(
                (
                    p,
                    GenerationRequest(
                        prompt.text,
                        1,
                        cfg.temperature,
                        cfg.top_p,
                        cfg.max_tokens,
                        tuple(cfg.stop),
                        seed=derive_seed(cfg.seed, problems[p].id, c, t),
                    ),
                )
            )
        for (p, c), d, completions in zip(slots, dropped, session.generate(asks), strict=True):
            s = grade(problems[p], t, completions[0], cfg.stop)
            chains[p][c].append(
                Attempt(s.problem_id, c, t, s.text, s.answer, s.correct, None, s.num_tokens, s.finish_reason, d)
            )
    dropped_total = sum(a.dropped for problem in chains for chain in problem for a in chain)
    if dropped_total:
        log.info("%d previous attempts dropped from revision prompts to fit the reviser's context", dropped_total)
    return [ChainSet(problem.id, chains[p], session.costs[p]) for p, problem in enumerate(problems)]


def score_chains(
    problems: Sequence[Problem],
    chain_sets: Sequence[ChainSet],
    verifier: Verifier,
    aggregation: Aggregation,
    max_attempts: int,
) -> list[ChainSet]:
    """The chain sets (one per problem, in order) with every attempt scored, in ONE verifier call
    in (problem, chain, attempt) order: the verifier reads the question with the previous
    attempts the reviser saw (`max_attempts`: the chains'), the oldest dropped while they do not
    fit the verifier's context. Known costs gain the ORM's tokens. Which attempts share a call is
    part of the result: a scorer pads the solutions it batches together, which can move a
    score's last bits, so scoring the same chains in other groups need not give the same floats."""
    if [cs.problem_id for cs in chain_sets] != [p.id for p in problems]:
        raise ValueError("score_chains needs one chain set per problem, in the problems' order")
    session = Scoring(problems, verifier, aggregation, blank_costs(problems, verifier))
    order = [
        (p, c, t) for p, cs in enumerate(chain_sets) for c, chain in enumerate(cs.chains) for t in range(len(chain))
    ]
    attempts = [chain_sets[p].chains[c][t] for p, c, t in order]
    questions = []
    for (p, c, t), attempt in zip(order, attempts):
        seen = reviser_saw(chain_sets[p].chains[c], t, max_attempts)
        fit = orm_fit(verifier, problems[p].id, split_steps(attempt.text))
        questions.append(revision_question(problems[p].question, seen, len(seen), fit).text)
    scores = session.score([(p, a.text) for (p, _, _), a in zip(order, attempts)], questions)
    scored = dict(zip(order, scores))
    costs = [
        None if cs.costs is None else dataclasses.replace(cs.costs, prm_tokens=session.costs[p].prm_tokens)
        for p, cs in enumerate(chain_sets)
    ]
    return [
        ChainSet(
            cs.problem_id,
            [
                [dataclasses.replace(a, score=scored[p, c, t]) for t, a in enumerate(chain)]
                for c, chain in enumerate(cs.chains)
            ],
            costs[p],
        )
        for p, cs in enumerate(chain_sets)
    ]


def revision(problems: Sequence[Problem], lm: LM, verifier: Verifier, cfg: RevisionConfig) -> list[SearchResult]:
    chain_sets = score_chains(problems, sample_chains(problems, lm, cfg), verifier, cfg.aggregation, cfg.max_attempts)
    results = []
    for problem, chain_set in zip(problems, chain_sets):
        answers = [[a.answer for a in chain] for chain in chain_set.chains]
        scores = [[cast(float, a.score) for a in chain] for chain in chain_set.chains]  # score_chains scored each
        chosen = choose(answers, scores, cfg.selection)
        if chain_set.costs is None:  # sample_chains's chain sets know their costs
            raise ValueError(f"{problem.id}: the chains' costs are unknown")
        attempt = None if chosen is None else chain_set.chains[chosen[0]][chosen[1]]
        results.append(
            make_result(
                problem.id,
                cfg.STRATEGY,
                cfg.params(),
                cfg,
                None if attempt is None else attempt.answer,
                float(attempt is not None and attempt.correct),
                None if attempt is None else attempt.text,
                cfg.n,
                cfg.generations,
                chain_set.costs,
                lm.num_parameters,
                verifier.num_parameters,
            )
        )
    return results
