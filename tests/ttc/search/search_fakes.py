"""Fakes for unit tests of the strategies' selection logic, and labels for a tiny toy PRM.

`ScriptedLM` writes what a test's `script(solution_so_far, sample_index, request)` says, and
records every call; `TableVerifier` gives each step the value a test's table assigns to the
prefix ending there ("s1/s0" for steps ["s1", "s0"]; 0.5 if absent), and records every call.
"""

from __future__ import annotations

import random
from typing import Callable

from data import toy
from data.records import Problem, StepLabels
from ttc.lm import Completion, GenerationRequest, Ledger


def problem(i: int = 0, answer: str = "1") -> Problem:
    return Problem(f"q{i}", f"question {i}", answer, source="toy")


class ScriptedLM:
    def __init__(self, script: Callable[[str, int, GenerationRequest], tuple[str, str]]):
        self.script, self.ledger, self.calls = script, Ledger(num_parameters=10), []

    @property
    def num_parameters(self) -> int:
        return self.ledger.num_parameters

    def generate(self, requests):
        self.calls.append(list(requests))
        results = []
        for r in requests:
            so_far = r.prompt.split("\nSolution:\n", 1)[1]  # data.prompts.TEMPLATE
            outs = [self.script(so_far, i, r) for i in range(r.n)]
            results.append([Completion(text, len(text), reason) for text, reason in outs])
        self.ledger.record(len(requests), sum(r.n for r in requests), sum(len(r.prompt) for r in requests),
                           sum(c.num_tokens for cs in results for c in cs))
        return results


class TableVerifier:
    def __init__(self, table: dict[str, float] | None = None):
        self.table, self.calls, self.tokens_scored, self.num_parameters = table or {}, [], 0, 3

    def score(self, questions, solutions):
        self.calls.append([(q, tuple(s)) for q, s in zip(questions, solutions)])
        self.tokens_scored += sum(len(q) + sum(map(len, s)) for q, s in zip(questions, solutions))
        return [[self.table.get("/".join(steps[: j + 1]), 0.5) for j in range(len(steps))] for steps in solutions]


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
