"""Search tests' helpers: the scripted fakes (tests/fakes.py, shared with the revision tests),
a repetitive policy and a hashed verifier for tree search, a problem, and labels for a tiny toy
PRM."""

from __future__ import annotations

import random
import zlib

from data import toy
from data.records import Problem, StepLabels
from fakes import ScriptedLM, TableVerifier  # noqa: F401 (re-exported)


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

    def score(self, questions, solutions):
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
