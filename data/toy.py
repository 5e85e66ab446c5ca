"""The toy world: left-to-right +/- arithmetic written like a MATH solution.

A problem is an expression such as ``99-76+96-67-20``. Its solution rewrites the remaining
expression one reduction per line and ends with a boxed answer, so step splitting, answer
extraction and grading run the same code as on MATH::

    =23+96-67-20
    =119-67-20
    =52-20
    =32
    \\boxed{32}

All intermediate values are >= 0. Tiny models learn this grammar; the difficulty knobs are the
number of operations and the operand size.

Its writers are careless the way real ones are: after a reduction that leaves a tail to copy, a
writer drops the tail's last term with probability `slip` (`careless_solution`). The mistake is
checkable against the line above (a term is missing), it is as probable as the correct copy
when `slip` is near 1/2, so the policy's likelihood cannot flag it, and one slip anywhere gives
the same wrong answer (the sum without the last term), so majority voting can prefer it. A
verifier that learns the slip's signature from MC labels knows what the policy does not.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

SOURCE = "toy"


@dataclass(frozen=True)
class ToyLevel:
    """A difficulty level: how many operations and how large the operands are."""

    min_ops: int
    max_ops: int
    min_operand: int
    max_operand: int

    def __post_init__(self) -> None:
        if not 1 <= self.min_ops <= self.max_ops:
            raise ValueError(f"need 1 <= min_ops <= max_ops, got {self.min_ops}, {self.max_ops}")
        if not 0 <= self.min_operand <= self.max_operand:
            raise ValueError(f"bad operand range {self.min_operand}..{self.max_operand}")


# Levels of the shipped toy world, tuned so that the shipped base model's pass@1 spreads from
# easy to hard (README's per-level table). The training mix is TRAIN_LEVELS.
LEVELS: dict[int, ToyLevel] = {
    1: ToyLevel(1, 1, 0, 9),
    2: ToyLevel(2, 2, 0, 9),
    3: ToyLevel(2, 2, 10, 99),
    4: ToyLevel(3, 4, 10, 99),
    5: ToyLevel(5, 6, 10, 99),
}
TRAIN_LEVELS: tuple[ToyLevel, ...] = (
    ToyLevel(1, 1, 0, 9),
    ToyLevel(2, 3, 0, 9),
    ToyLevel(1, 2, 10, 99),
    ToyLevel(3, 4, 10, 99),
    ToyLevel(5, 6, 10, 99),
)


@dataclass(frozen=True)
class ToyProblem:
    expression: str
    answer: int
    level: int

    @property
    def question(self) -> str:
        return f"Compute {self.expression}."


def make_expression(level: ToyLevel, rng: random.Random) -> str:
    """One left-to-right expression whose running value never drops below zero."""
    value = rng.randint(level.min_operand, level.max_operand)
    text = str(value)
    for _ in range(rng.randint(level.min_ops, level.max_ops)):
        operand = rng.randint(level.min_operand, level.max_operand)
        if operand <= value and rng.random() < 0.5:
            value -= operand
            text += f"-{operand}"
        else:
            value += operand
            text += f"+{operand}"
    return text


_TERM = re.compile(r"([+-]?)(\d+)")


def parse_expression(expression: str) -> list[int]:
    """Signed terms of an expression; raises ValueError on anything else."""
    if not re.fullmatch(r"\d+([+-]\d+)*", expression):
        raise ValueError(f"not a toy expression: {expression!r}")
    return [int(sign + digits) for sign, digits in _TERM.findall(expression)]


def reduce_once(expression: str) -> str:
    """The expression after one left-to-right reduction (the next correct step)."""
    terms = parse_expression(expression)
    if len(terms) < 2:
        raise ValueError(f"nothing left to reduce in {expression!r}")
    return expression_from([terms[0] + terms[1]] + terms[2:])


def expression_from(terms: list[int]) -> str:
    """Signed terms written back as an expression (`parse_expression`'s inverse)."""
    return str(terms[0]) + "".join(f"{t:+d}" for t in terms[1:])


def solve(expression: str) -> list[str]:
    """The reference solution steps: one line per reduction, then the boxed answer."""
    steps, current = [], expression
    while len(parse_expression(current)) > 1:
        current = reduce_once(current)
        steps.append(f"={current}")
    return steps + [f"\\boxed{{{current}}}"]


def careless_solution(expression: str, rng: random.Random, slip: float) -> list[str]:
    """A solution whose writer drops the copied tail's last term with probability `slip`
    after each reduction that leaves a tail (and otherwise reduces correctly)."""
    if not 0.0 <= slip <= 1.0:
        raise ValueError(f"slip must be in [0, 1], got {slip}")
    terms, steps = parse_expression(expression), []
    while len(terms) > 1:
        terms = [terms[0] + terms[1]] + terms[2:]
        if len(terms) > 1 and rng.random() < slip:
            terms = terms[:-1]
        steps.append("=" + expression_from(terms))
    return steps + [f"\\boxed{{{terms[0]}}}"]


def slip_chances(expression: str) -> int:
    """How many times a careless writer may slip on `expression` (reductions leaving a tail)."""
    return max(len(parse_expression(expression)) - 2, 0)


def generate(level: int, index: int, seed: int | str, levels: dict[int, ToyLevel] = LEVELS) -> ToyProblem:
    """Problem `index` of `level`: a pure function of (seed, level, index)."""
    rng = random.Random(f"toy:{seed}:{level}:{index}")
    expression = make_expression(levels[level], rng)
    return ToyProblem(expression, sum(parse_expression(expression)), level)


def training_example(index: int, seed: int) -> ToyProblem:
    """Example `index` of the pretraining stream: a uniform mix over TRAIN_LEVELS."""
    rng = random.Random(f"toy-train:{seed}:{index}")
    expression = make_expression(rng.choice(TRAIN_LEVELS), rng)
    return ToyProblem(expression, sum(parse_expression(expression)), level=0)


def expression_of(question: str) -> str:
    match = re.fullmatch(r"Compute (.+)\.", question.strip())
    if not match:
        raise ValueError(f"not a toy question: {question!r}")
    return match.group(1)


def first_wrong_step(question: str, steps: list[str]) -> int | None:
    """Index of the first step that is not the correct next reduction, or None if all are.

    A solution that stops early (no boxed line) is not wrong in any step it wrote; a step
    after the boxed answer is wrong.
    """
    reference = solve(expression_of(question))
    for i, step in enumerate(steps):
        if i >= len(reference) or step.strip() != reference[i]:
            return i
    return None


ERROR_CLASSES = ("slip", "arithmetic", "other")


def error_class(question: str, steps: list[str], i: int) -> str:
    """What went wrong at step `i`, the first wrong one (`first_wrong_step`): `arithmetic`, a
    reduction whose sum is wrong; `slip`, a right sum with the rest of the line miscopied (the
    careless writer's dropped term among them); `other`, anything else (an unreadable line, an
    early, late or wrong boxed answer)."""
    previous = expression_of(question) if i == 0 else steps[i - 1].strip().removeprefix("=")
    written = steps[i].strip()
    try:
        before, after = parse_expression(previous), parse_expression(written.removeprefix("="))
    except ValueError:
        return "other"
    if not written.startswith("=") or len(before) < 2:
        return "other"
    return "slip" if after[0] == before[0] + before[1] else "arithmetic"
