"""Search tests' helpers: the scripted fakes (tests/fakes.py, shared with the revision tests),
a problem, and labels for a tiny toy PRM."""

from __future__ import annotations

import random

from data import toy
from data.records import Problem, StepLabels
from fakes import ScriptedLM, TableVerifier  # noqa: F401 (re-exported)


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
