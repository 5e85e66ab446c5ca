"""Revision chains (the paper's Section 6): a reviser revises its own attempts, in parallel chains.

A budget of N generations is C chains of L attempts (ttc/revise/budget.py). Attempt t of a chain
is the reviser's answer to the question with the chain's previous attempts before it
(data/revision_format.py), only the `max_attempts` most recent (paper: 4): so a chain of any
length fits the context the reviser was trained on, as long as that holds the question and
`max_attempts` x `max_tokens` (the recipe's job). Attempt 0 sees none: a plain sample. An
attempt without an answer stays in its chain (the next attempt revises it) and never wins.

Batching and seeds: every revision step is ONE LM call for all problems and chains (a request
of n=1 per chain), seeded by (seed, problem id, chain, attempt). A chain's first L attempts do
not depend on C or L, so one large chain set holds every smaller split (ttc/revise/selection.py
estimates them from it). After the last step every attempt is scored in one verifier call (the
revision ORM), with the same question the reviser saw, previous attempts in context, and
aggregated by `aggregation` (paper: last).

`revision` is the strategy (the `run(problems, lm, verifier, cfg)` signature of ttc/search). It
returns, per problem, one result per selection rule (`selection`, then `also_select`), all read
off the same chains: they carry the same costs, so sum a ledger over one selection only. The
ledger is search's (ttc/search/common.py): generations = N, policy tokens (the reviser's longer
prompts included), ORM tokens, FLOPs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from tqdm.auto import tqdm

from data.records import Problem
from data.revision_format import MAX_ATTEMPTS, revision_prompt, revision_question
from data.shards import derive_seed
from ttc.lm import LM, GenerationRequest
from ttc.revise.budget import split_budget
from ttc.revise.records import Attempt, ChainSet
from ttc.revise.selection import choose
from ttc.sample import grade
from ttc.search.best_of_n import BestOfNConfig
from ttc.search.common import SELECTIONS, SearchResult, Selection, Session, make_result
from ttc.verifiers import Verifier


@dataclass
class RevisionConfig(BestOfNConfig):
    """n: the budget N = chains x chain length; max_tokens and stop: per attempt; selection: the
    rule of the main result (`weighted`: hierarchical best-of-N weighted with the ORM)."""

    ratio: float = 1.0  # sequential/parallel = chain length / chains (ttc/revise/budget.py)
    max_attempts: int = MAX_ATTEMPTS  # previous attempts in the reviser's (and ORM's) context
    also_select: list[Selection] = field(default_factory=lambda: ["majority"])  # more results, same chains

    def __post_init__(self) -> None:
        super().__post_init__()
        split_budget(self.n, self.ratio)  # validates the ratio
        if self.max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {self.max_attempts}")
        unknown = [s for s in self.also_select if s not in SELECTIONS]
        if unknown:
            raise ValueError(f"also_select: unknown selection(s) {unknown}; known: {SELECTIONS}")

    @property
    def split(self) -> tuple[int, int]:
        """(chains, chain length)."""
        return split_budget(self.n, self.ratio)

    @property
    def selections(self) -> list[Selection]:
        return list(dict.fromkeys([self.selection, *self.also_select]))

    def params(self) -> dict[str, Any]:
        chains, length = self.split
        params = {**super().params(), "chains": chains, "length": length}
        del params["also_select"]  # a result records its own selection
        return params


def sample_chains(problems: Sequence[Problem], lm: LM, verifier: Verifier, cfg: RevisionConfig) -> list[ChainSet]:
    """cfg.split chains of every problem, every attempt graded and scored; costs per problem."""
    session = Session(problems, lm, verifier, cfg)
    num_chains, length = cfg.split
    tokenizer = getattr(lm, "tokenizer", None)  # only for chat templates
    texts: list[list[list[str]]] = [[[] for _ in range(num_chains)] for _ in problems]
    questions = [[[] for _ in range(num_chains)] for _ in problems]  # what attempt t was asked
    graded = [[[] for _ in range(num_chains)] for _ in problems]
    slots = [(p, c) for p in range(len(problems)) for c in range(num_chains)]
    for t in tqdm(range(length), desc="revision steps", leave=False, disable=len(slots) < 8):
        asks = []
        for p, c in slots:
            question, previous = problems[p].question, texts[p][c]
            questions[p][c].append(revision_question(question, previous, cfg.max_attempts))
            asks.append((p, GenerationRequest(revision_prompt(cfg.prompt, question, previous, tokenizer, cfg.max_attempts),
                                              1, cfg.temperature, cfg.top_p, cfg.max_tokens, tuple(cfg.stop),
                                              seed=derive_seed(cfg.seed, problems[p].id, c, t))))
        for (p, c), completions in zip(slots, session.generate(asks), strict=True):
            sample = grade(problems[p], t, completions[0], cfg.stop)
            texts[p][c].append(sample.text)
            graded[p][c].append(sample)
    order = [(p, c, t) for p, c in slots for t in range(length)]
    scores = session.score([(p, texts[p][c][t]) for p, c, t in order],
                           [questions[p][c][t] for p, c, t in order])
    scored = dict(zip(order, scores))
    return [ChainSet(problem.id, [[Attempt(problem.id, c, t, s.text, s.answer, s.correct, scored[p, c, t],
                                           s.num_tokens, s.finish_reason) for t, s in enumerate(graded[p][c])]
                                  for c in range(num_chains)], session.costs[p])
            for p, problem in enumerate(problems)]


def revision(problems: Sequence[Problem], lm: LM, verifier: Verifier, cfg: RevisionConfig) -> list[SearchResult]:
    chain_sets = sample_chains(problems, lm, verifier, cfg)
    verifier_parameters = getattr(verifier, "num_parameters", None)
    results = []
    for problem, chain_set in zip(problems, chain_sets):
        answers = [[a.answer for a in chain] for chain in chain_set.chains]
        scores = [[a.score for a in chain] for chain in chain_set.chains]
        for how in cfg.selections:
            chosen = choose(answers, scores, how)
            attempt = None if chosen is None else chain_set.chains[chosen[0]][chosen[1]]
            results.append(make_result(
                problem.id, "revision", {**cfg.params(), "selection": how}, cfg,
                None if attempt is None else attempt.answer, float(attempt is not None and attempt.correct),
                None if attempt is None else attempt.text, cfg.n, cfg.generations, chain_set.costs,
                lm.num_parameters, verifier_parameters,
            ))
    return results
