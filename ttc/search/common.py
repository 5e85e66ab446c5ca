"""What every search strategy shares: its config, its result record, answer selection, and a
`Session` that runs one batch of problems through the `LM` and the `Verifier` and keeps the books.
Its halves work alone: `Sampling` (the LM) and `Scoring` (the verifier) over shared costs, so
revision chains sample without a verifier and score without an LM (ttc/revise/chains.py).

Selection over final candidates (`select`): `naive` takes the highest-scoring candidate,
`weighted` is best-of-N weighted (Li et al. 2023, the paper's choice: the answer whose
candidates' scores sum highest), `majority` the most frequent answer. Candidates without an
extractable answer never win; ties go to the first candidate (ttc.voting).

Scoring (`Scoring.score`): a solution's steps are `split_steps` of its text, the very split the
PRM was trained on, so blank lines are not steps. Step values are cached per (problem, question,
steps): a prefix is never sent to the verifier twice in a session, duplicates in one call go once. A
text with no step scores `aggregate([]) == 0.0`, the lowest value, without a verifier call. A
verifier that returns the wrong number of values or one outside [0, 1] is an error.

A config's fields are its settings; a result's `params` are the settings (all but the prompt
format, the run's) plus what the config derives from them (`derived`: beam search's resolved width,
a revision's chain split) or the run adds (a best-of-N pool's size). A method is a strategy with its
settings but the per-run ones (`RUN_FIELDS`: the budget n, the seed, the prompt format), so nothing
derived is ever part of its identity (`method_fields`).

The ledger of a result:
- `generations`: the paper's budget: N for best-of-N, beam search and DVTS; N(k+1) with k
  steps of lookahead. PRM scoring is not part of it (the paper does not count it).
- policy tokens: generated tokens are exact (each completion's count). Prompt tokens are the
  LM ledger's count for each call (a request's prompt once for its n samples, as a
  prefix-sharing engine computes it); the protocol reports them per call, not per request, so a
  call's prompt tokens are attributed to its requests in proportion to their prompt lengths in
  characters. The results of a batch add up to the LM ledger exactly.
- PRM tokens: the tokens the verifier ran forward passes over, each solution's as the verifier
  counted it (`last_tokens`), so that a problem's count does not depend on what else its calls
  held; None (as are PRM FLOPs) when the verifier keeps no such count, never a made-up 0.
- FLOPs: 2 x parameters x tokens (`forward_flops`), policy and verifier separately (`Costs.flops`).
- `distinct_candidates`: how many distinct texts with an answer the final candidates hold (the
  rest are copies, which weigh twice in a vote); a best-of-N pool estimate holds its expectation
  over subsets of n, None where not counted (records written before it).
- `spent`: the generations actually drawn, for a strategy that may stop short of its budget
  (adaptive, ttc/search/adaptive.py): `generations` stays the budget N, what the grid and the
  compute-optimal policy index by, and `spent` <= N is what was drawn (a pool estimate: its
  expectation). None means all of them (= `generations`): every fixed strategy. The token counts
  and FLOPs are those of what was spent.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping, Sequence

from data.grading import is_correct
from data.prompts import PromptFormat
from data.records import Problem
from data.steps import extract_answer, split_steps
from ttc.lm import LM, Completion, GenerationRequest, check_sampling, forward_flops
from ttc.verifiers import Aggregation, Verifier, aggregate, check_aggregation
from ttc.voting import weighted_vote

Selection = Literal["naive", "weighted", "majority"]
SELECTIONS: tuple[str, ...] = ("naive", "weighted", "majority")
RUN_FIELDS = ("n", "seed", "prompt")  # set by each run (budget, seed, prompt format), not by a method


@dataclass
class SearchConfig:
    """Settings every strategy has."""

    STRATEGY: ClassVar[str]  # the strategy's name, declared once by its config class: what its results record
    n: int = 4  # N: samples (best-of-N) or beams (beam search, DVTS)
    temperature: float = 0.8
    top_p: float = 1.0
    aggregation: Aggregation = "last"  # step values -> one score (paper: last)
    selection: Selection = "weighted"  # over the final candidates (paper: best-of-N weighted)
    seed: int = 0
    prompt: PromptFormat = field(default_factory=PromptFormat)

    def __post_init__(self) -> None:
        check_sampling(self.n, self.temperature, self.top_p)  # n <= MAX_N: best-of-N asks its N in one request
        check_aggregation(self.aggregation)
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")

    @property
    def generations(self) -> int:
        """The paper's generation budget of one run."""
        return self.n

    def settings(self) -> dict[str, Any]:
        """The fields a result records (the prompt format is the run's, not the strategy's)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "prompt"}

    def derived(self) -> dict[str, Any]:
        """What follows from the settings and a result records beside them, for its reader."""
        return {}

    def params(self) -> dict[str, Any]:
        """What a result records: the settings and what is derived from them."""
        return {**self.settings(), **self.derived()}

    @classmethod
    def method_fields(cls) -> list[str]:
        """The settings that make a method: every field but those each run sets."""
        return [f.name for f in dataclasses.fields(cls) if f.init and f.name not in RUN_FIELDS]

    @classmethod
    def method_of(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """A method's settings out of a result's (or a config line's) params: derived values dropped."""
        names = set(cls.method_fields())
        return {k: v for k, v in params.items() if k in names}


@dataclass(frozen=True)
class SearchResult:
    problem_id: str
    strategy: str
    params: dict[str, Any]
    budget: int  # N: samples or beams
    seed: int
    answer: str | None
    correct: float  # 1.0 or 0.0; a pool estimate (best_of_n.sweep) holds the expected accuracy
    solution: str | None  # the chosen candidate's text; None for pool estimates
    candidates: int  # final candidates the answer was selected from
    generations: int  # the paper's budget: N, or N(k+1) with lookahead
    prompt_tokens: int
    generated_tokens: int
    prm_tokens: int | None
    flops_policy: int
    flops_prm: int | None
    # keyword-only with a default: older records and positional constructions stay valid
    distinct_candidates: float | None = field(default=None, kw_only=True)
    spent: float | None = field(default=None, kw_only=True)  # generations drawn; None: = generations

    @property
    def costs(self) -> "Costs":
        return Costs(self.prompt_tokens, self.generated_tokens, self.prm_tokens)


@dataclass
class Costs:
    """What one problem's search spent: the ledger's tokens, from which its FLOPs follow."""

    prompt_tokens: int = 0
    generated_tokens: int = 0
    prm_tokens: int | None = 0  # None: the verifier keeps no count

    def __add__(self, other: "Costs") -> "Costs":
        prm = None if self.prm_tokens is None or other.prm_tokens is None else self.prm_tokens + other.prm_tokens
        return Costs(self.prompt_tokens + other.prompt_tokens, self.generated_tokens + other.generated_tokens, prm)

    def share(self, fraction: float) -> "Costs":
        """What `fraction` of one request's samples cost: the prompt whole (they share it), that
        fraction of the generated and PRM tokens."""
        prm = None if self.prm_tokens is None else round(self.prm_tokens * fraction)
        return Costs(self.prompt_tokens, round(self.generated_tokens * fraction), prm)

    def flops(self, policy_parameters: int, prm_parameters: int | None) -> tuple[int, int | None]:
        """(policy FLOPs, prompts included; verifier FLOPs, None when its tokens or size are unknown)."""
        prm = None if self.prm_tokens is None or prm_parameters is None else forward_flops(prm_parameters,
                                                                                           self.prm_tokens)
        return forward_flops(policy_parameters, self.prompt_tokens + self.generated_tokens), prm

    def record(self, policy_parameters: int, prm_parameters: int | None) -> dict[str, int | None]:
        """The ledger fields of a result record (`SearchResult`, ttc.planner's `SolveResult`)."""
        flops_policy, flops_prm = self.flops(policy_parameters, prm_parameters)
        return {"prompt_tokens": self.prompt_tokens, "generated_tokens": self.generated_tokens,
                "prm_tokens": self.prm_tokens, "flops_policy": flops_policy, "flops_prm": flops_prm}


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


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainder, ties to the first): the parts
    add up to `total` exactly. All-zero weights split evenly."""
    if not weights:
        return []
    weights = [max(w, 0) for w in weights]
    if sum(weights) == 0:
        weights = [1] * len(weights)
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: -(total * weights[i] % whole))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def generate_apportioned(lm: LM, requests: Sequence[GenerationRequest]) -> tuple[list[list[Completion]], list[int]]:
    """One LM call: each request's completions and its share of the call's prompt tokens (the
    ledger counts them per call), split by prompt length."""
    before = lm.ledger.prompt_tokens
    results = lm.generate(requests)
    return results, apportion(lm.ledger.prompt_tokens - before, [len(r.prompt) for r in requests])


@dataclass
class VerifierCall:
    """One verifier call of a session (`Session.ask`): the key of every item asked, the keys
    sent (those not scored before), and what came back."""

    keys: list[tuple[int, str, tuple[str, ...]]]
    todo: list[tuple[int, str, tuple[str, ...]]]
    values: list[list[float]] = field(default_factory=list)
    tokens: list[int] | None = None  # each sent solution's tokens, as the verifier counted them


def blank_costs(problems: Sequence[Problem], prm: Verifier | None) -> list[Costs]:
    """Each problem's empty ledger: PRM tokens 0 where `prm` counts them (`last_tokens`), None
    where it keeps no count or no verifier runs (sampling alone)."""
    counts = prm is not None and prm.last_tokens is not None
    return [Costs(prm_tokens=0 if counts else None) for _ in problems]


def unique_ids(problems: Sequence[Problem]) -> list[Problem]:
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        raise ValueError("problem ids must be unique within a batch")
    return list(problems)


class Sampling:
    """One batch of problems on one LM: their prompts, one LM call per `generate`, the policy's
    side of each problem's `costs`."""

    def __init__(self, problems: Sequence[Problem], lm: LM, prompt: PromptFormat, costs: list[Costs]):
        self.problems, self.lm, self.costs = unique_ids(problems), lm, costs
        self.prompts = [prompt.render(p.question, lm.tokenizer) for p in self.problems]  # tokenizer: chat templates

    def generate(self, asks: Sequence[tuple[int, GenerationRequest]]) -> list[list[Completion]]:
        """Completions of every (problem index, request), in ONE LM call; costs booked."""
        if not asks:
            return []
        results, shares = generate_apportioned(self.lm, [request for _, request in asks])
        for (p, _), share, completions in zip(asks, shares, results, strict=True):
            self.costs[p].prompt_tokens += share
            self.costs[p].generated_tokens += sum(c.num_tokens for c in completions)
        return results


class Scoring:
    """One batch of problems on one verifier: one verifier call per `step_values`, the score
    cache, the verifier's side of each problem's `costs`."""

    def __init__(self, problems: Sequence[Problem], prm: Verifier, aggregation: Aggregation, costs: list[Costs]):
        check_aggregation(aggregation)
        self.problems, self.prm, self.aggregation, self.costs = unique_ids(problems), prm, aggregation, costs
        self.counts_prm = prm.last_tokens is not None
        self.values: dict[tuple[int, str, tuple[str, ...]], list[float]] = {}  # (problem, question, steps)

    def step_values(self, items: Sequence[tuple[int, str]],
                    questions: Sequence[str] | None = None) -> list[list[float]]:
        """PRM value of every step of each (problem index, solution text); one verifier call
        for the step sequences not scored before in this session. `questions`, when given,
        is what the verifier reads as each item's question instead of its problem's (the
        revision ORM reads the previous attempts there)."""
        return self.finish(self.run(self.ask(items, questions)))

    def score(self, items: Sequence[tuple[int, str]], questions: Sequence[str] | None = None) -> list[float]:
        """One score per (problem index, solution text): its step values aggregated."""
        return self.aggregated(self.step_values(items, questions))

    def aggregated(self, values: Sequence[list[float]]) -> list[float]:
        """Each solution's step values as one score, by the aggregation."""
        return [aggregate(v, self.aggregation) for v in values]

    def ask(self, items: Sequence[tuple[int, str]], questions: Sequence[str] | None = None) -> "VerifierCall":
        """`step_values` in three parts, so that the verifier can run while the caller goes on
        (ttc/search/scheduler.py): `ask` (what to send), `run` (the verifier call, touching only
        the verifier: one at a time), `finish` (checked, cached, booked; in the caller's thread)."""
        if questions is not None and len(questions) != len(items):
            raise ValueError(f"{len(items)} solutions but {len(questions)} questions")
        asked = [self.problems[p].question for p, _ in items] if questions is None else questions
        keys = [(p, q, tuple(split_steps(text))) for (p, text), q in zip(items, asked)]
        todo = [k for k in dict.fromkeys(keys) if k not in self.values]
        self.values.update((k, []) for k in todo if not k[2])  # no step: nothing to score
        return VerifierCall(keys, [k for k in todo if k[2]])

    def run(self, call: "VerifierCall") -> "VerifierCall":
        if call.todo:
            call.values = self.prm.score([q for _, q, _ in call.todo], [list(s) for _, _, s in call.todo])
            if self.counts_prm:
                call.tokens = list(self.prm.last_tokens or ())
        return call

    def finish(self, call: "VerifierCall") -> list[list[float]]:
        if call.todo:
            if len(call.values) != len(call.todo):
                raise ValueError(f"verifier returned {len(call.values)} results for {len(call.todo)} solutions")
            for key, v in zip(call.todo, call.values):
                p, _, steps = key
                if len(v) != len(steps) or not all(0.0 <= x <= 1.0 for x in v):
                    raise ValueError(f"problem {self.problems[p].id}: verifier returned {v!r:.120} for "
                                     f"{len(steps)} step(s); expected one value in [0, 1] per step")
                self.values[key] = list(v)
            if self.counts_prm:
                for (p, _, _), tokens in zip(call.todo, call.tokens or (), strict=True):
                    self.costs[p].prm_tokens += tokens  # type: ignore[operator]  # an int: blank_costs
        return [self.values[k] for k in call.keys]


class Session:
    """One batch of problems on one LM and one verifier: `Sampling` (prompts, one LM call per
    `generate`) and `Scoring` (one verifier call per `step_values`, the score cache) booking the
    same costs of each problem, and a greedy-step cache (ttc/search/tree.py)."""

    def __init__(self, problems: Sequence[Problem], lm: LM, prm: Verifier, cfg: SearchConfig):
        self.problems, self.lm, self.prm, self.cfg = unique_ids(problems), lm, prm, cfg
        self.costs = blank_costs(self.problems, prm)
        self.sampling = Sampling(self.problems, lm, cfg.prompt, self.costs)
        self.scoring = Scoring(self.problems, prm, cfg.aggregation, self.costs)
        self.prompts, self.values = self.sampling.prompts, self.scoring.values
        self.greedy: dict[tuple[int, str], Completion] = {}

    # --- the policy: Sampling -----------------------------------------------------------------
    def generate(self, asks: Sequence[tuple[int, GenerationRequest]]) -> list[list[Completion]]:
        return self.sampling.generate(asks)

    # --- the verifier: Scoring ----------------------------------------------------------------
    def step_values(self, items: Sequence[tuple[int, str]],
                    questions: Sequence[str] | None = None) -> list[list[float]]:
        return self.scoring.step_values(items, questions)

    def score(self, items: Sequence[tuple[int, str]], questions: Sequence[str] | None = None) -> list[float]:
        return self.scoring.score(items, questions)

    def aggregated(self, values: Sequence[list[float]]) -> list[float]:
        return self.scoring.aggregated(values)

    def ask(self, items: Sequence[tuple[int, str]], questions: Sequence[str] | None = None) -> "VerifierCall":
        return self.scoring.ask(items, questions)

    def run(self, call: "VerifierCall") -> "VerifierCall":
        return self.scoring.run(call)

    def finish(self, call: "VerifierCall") -> list[list[float]]:
        return self.scoring.finish(call)

    # --- results ----------------------------------------------------------------------------
    def result(self, p: int, strategy: str, finals: Sequence[tuple[str, float]]) -> SearchResult:
        """Problem p's result: the config's selection over its final candidates (text, score),
        graded."""
        answers = [extract_answer(text) for text, _ in finals]
        distinct = len({text for (text, _), answer in zip(finals, answers) if answer is not None})
        chosen = select(answers, [score for _, score in finals], self.cfg.selection)
        answer = None if chosen is None else answers[chosen]
        problem = self.problems[p]
        return make_result(
            problem.id, strategy, self.cfg.params(), self.cfg, answer,
            float(is_correct(answer, problem.answer, problem.source)),
            None if chosen is None else finals[chosen][0], len(finals), self.cfg.generations,
            self.costs[p], self.lm.num_parameters, self.prm.num_parameters, distinct,
        )


def make_result(problem_id: str, strategy: str, params: dict[str, Any], cfg: SearchConfig, answer: str | None,
                correct: float, solution: str | None, candidates: int, generations: int, costs: Costs,
                policy_parameters: int, prm_parameters: int | None, distinct: float | None = None,
                spent: float | None = None) -> SearchResult:
    return SearchResult(
        problem_id=problem_id, strategy=strategy, params=params, budget=params["n"], seed=cfg.seed,
        answer=answer, correct=correct, solution=solution, candidates=candidates, generations=generations,
        **costs.record(policy_parameters, prm_parameters), distinct_candidates=distinct, spent=spent,
    )
