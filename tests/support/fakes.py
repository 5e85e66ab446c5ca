"""Scripted fakes of the two protocols, for unit tests of strategies' logic (search, revisions).

`ScriptedLM` writes what a test's `script(solution_so_far, sample_index, request)` says, and
records every call; `TableVerifier` gives each step the value a test's table assigns to the
prefix ending there ("s1/s0" for steps ["s1", "s0"]; 0.5 if absent), and records every call.
`Recording` wraps a real verifier and keeps every (question, steps) it is asked to score.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

from data import toy
from data.records import Problem, StepLabels
from ttc.lm import Completion, FinishReason, GenerationRequest, Ledger, LMBase
from ttc.verifiers import Aggregation, Verifier, VerifierBase


class ScriptedLM(LMBase):
    def __init__(self, script: Callable[[str, int, GenerationRequest], tuple[str, str]]):
        self.script, self.ledger = script, Ledger(num_parameters=10)
        self.calls: list[list[GenerationRequest]] = []

    @property
    def num_parameters(self) -> int:
        return self.ledger.num_parameters

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        self.calls.append(list(requests))
        results: list[list[Completion]] = []
        for r in requests:
            so_far = r.prompt.split("\nSolution:\n", 1)[1]  # data.prompts.TEMPLATE
            outs = [self.script(so_far, i, r) for i in range(r.n)]
            results.append([Completion(text, len(text), cast(FinishReason, reason)) for text, reason in outs])
        self.ledger.record(
            len(requests),
            sum(r.n for r in requests),
            sum(len(r.prompt) for r in requests),
            sum(c.num_tokens for cs in results for c in cs),
        )
        return results


class TableVerifier(VerifierBase):
    batch_invariant = True  # a value depends on its steps only

    def __init__(self, table: dict[str, float] | None = None):
        self.table, self.tokens_scored, self.num_parameters = table or {}, 0, 3
        self.calls: list[list[tuple[str, tuple[str, ...]]]] = []
        self.last_tokens: list[int] = []

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        self.calls.append([(q, tuple(s)) for q, s in zip(questions, solutions)])
        self.last_tokens = [len(q) + sum(map(len, s)) for q, s in zip(questions, solutions)]
        self.tokens_scored += sum(self.last_tokens)
        return [[self.table.get("/".join(steps[: j + 1]), 0.5) for j in range(len(steps))] for steps in solutions]


V = TypeVar("V", bound=Verifier)


class Recording(VerifierBase, Generic[V]):
    """A real verifier, with every (question, steps) it is asked to score kept in `asked`."""

    def __init__(self, verifier: V):
        self.verifier = verifier
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        self.asked += [(q, tuple(s)) for q, s in zip(questions, solutions)]
        return self.verifier.score(questions, solutions)

    @property
    def tokens_scored(self) -> int:
        return self.verifier.tokens_scored

    @property
    def last_tokens(self) -> list[int] | None:
        return self.verifier.last_tokens

    @property
    def batch_invariant(self) -> bool:
        return self.verifier.batch_invariant

    @property
    def num_parameters(self) -> int | None:
        return self.verifier.num_parameters

    @property
    def aggregation(self) -> Aggregation:
        return self.verifier.aggregation


def repetitive_policy(steps: int, p_step: float):
    """A seeded policy that often repeats itself: up to 4 steps drawn from `steps` variants
    ("s0", ...), each with probability `p_step`, then an answer of 0..2. A greedy step depends on
    its prefix only."""

    def policy(so_far, i, request):
        rng = random.Random(f"{request.seed}/{i}" if request.temperature else so_far)
        if so_far.count("\n") < 4 and rng.random() < p_step:
            return f"s{rng.randrange(steps)}\n", "stop"
        return f"\\boxed{{{rng.randrange(3)}}}", "eos"

    return policy


class Hashed(TableVerifier):
    """A value per prefix, spread over [0, 1] by a hash of its steps: few ties."""

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        super().score(questions, solutions)
        return [[zlib.crc32("/".join(s[: j + 1]).encode()) % 97 / 96 for j in range(len(s))] for s in solutions]


def problem(i: int = 0, answer: str = "1") -> Problem:
    return Problem(f"q{i}", f"question {i}", answer, source="toy")


def perturbed_labels(count: int, seed: str = "search-test") -> list[StepLabels]:
    """Reference toy solutions (every step good) and, for each, one whose value goes up by 1-9 at
    a random reduction step and is carried on from there (bad from that step on): the model's
    typical slip, at any depth."""
    rng, records = random.Random(seed), []
    for i in range(count):
        p = toy.generate(rng.choice([2, 3, 4]), i, seed=seed)
        steps = toy.solve(p.expression)
        records.append(StepLabels(f"q{i}", 0, p.question, steps, [1.0] * len(steps), [4] * (len(steps) - 1) + [0]))
        j = rng.randrange(len(steps) - 1)
        terms = toy.parse_expression(steps[j].removeprefix("="))
        slipped = str(terms[0] + rng.randint(1, 9)) + "".join(f"{t:+d}" for t in terms[1:])
        wrong = steps[:j] + [f"={slipped}"] + toy.solve(slipped)
        values = [1.0] * j + [0.0] * (len(wrong) - j)
        records.append(StepLabels(f"q{i}", 1, p.question, wrong, values, [4] * (len(wrong) - 1) + [0]))
    return records
