"""A `Session` that runs one batch of problems through the `LM` and the `Verifier` and keeps the books.
Its halves work alone: `Sampling` (the LM) and `Scoring` (the verifier) over shared costs, so
revision chains sample without a verifier and score without an LM (ttc/revise/chains.py).

Scoring (`Scoring.score`): a solution's steps are `split_steps` of its text, the very split the
PRM was trained on, so blank lines are not steps. Step values are cached per (problem, question,
steps): a prefix is never sent to the verifier twice in a session, duplicates in one call go once. A
text with no step scores `aggregate([]) == 0.0`, the lowest value, without a verifier call. A
verifier that returns the wrong number of values or one outside [0, 1] is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from data.grading import is_correct
from data.prompts import PromptFormat
from data.records import Problem
from data.steps import extract_answer, split_steps
from ttc.lm import LM, Completion, GenerationRequest
from ttc.search.config import SearchConfig
from ttc.search.result import Costs, SearchResult, make_result
from ttc.search.select import select
from ttc.verifiers import Aggregation, Verifier, aggregate, check_aggregation


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

    aggregation: Aggregation

    def __init__(self, problems: Sequence[Problem], prm: Verifier, aggregation: Aggregation, costs: list[Costs]):
        check_aggregation(aggregation)
        self.problems, self.prm, self.aggregation, self.costs = unique_ids(problems), prm, aggregation, costs
        self.counts_prm = prm.last_tokens is not None
        self.values: dict[tuple[int, str, tuple[str, ...]], list[float]] = {}  # (problem, question, steps)

    def step_values(
        self, items: Sequence[tuple[int, str]], questions: Sequence[str] | None = None
    ) -> list[list[float]]:
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
                    raise ValueError(
                        f"problem {self.problems[p].id}: verifier returned {v!r:.120} for "
                        f"{len(steps)} step(s); expected one value in [0, 1] per step"
                    )
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
    def step_values(
        self, items: Sequence[tuple[int, str]], questions: Sequence[str] | None = None
    ) -> list[list[float]]:
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
    def result(self, p: int, finals: Sequence[tuple[str, float]]) -> SearchResult:
        """Problem p's result under the config's strategy: its selection over the final candidates
        (text, score), graded."""
        answers = [extract_answer(text) for text, _ in finals]
        distinct = len({text for (text, _), answer in zip(finals, answers) if answer is not None})
        chosen = select(answers, [score for _, score in finals], self.cfg.selection)
        answer = None if chosen is None else answers[chosen]
        problem = self.problems[p]
        return make_result(
            problem.id,
            self.cfg.STRATEGY,
            self.cfg.params(),
            self.cfg,
            answer,
            float(is_correct(answer, problem.answer, problem.source)),
            None if chosen is None else finals[chosen][0],
            len(finals),
            self.cfg.generations,
            self.costs[p],
            self.lm.num_parameters,
            self.prm.num_parameters,
            distinct,
        )
