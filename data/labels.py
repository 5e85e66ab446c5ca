"""Monte Carlo step labels (Math-Shepherd, soft), and their hard form found by binary search:
the text side of `ttc label`.

For a sampled solution with steps s_1..s_T, the prefix ending at step i (i < T) is continued
k times by the base model; the value of step i is the fraction of continuations whose final
answer is correct, an estimate of the base policy's reward-to-go. The last step needs no
rollouts: its value is the solution's own correctness. The hard label of a step is negative
when all k of its rollouts fail (value 0).

Binary search (`FirstErrorSearch`, the idea of OmegaPRM, Luo et al. 2024, arXiv 2406.06592)
finds a solution's first hard-negative step with ceil(log2 T) rolled-out prefixes at most,
assuming OmegaPRM's monotonicity: once a prefix cannot reach the answer, no longer prefix can.
A correct solution then needs no rollouts (every step positive); in an incorrect one the last
step is known negative and the search bisects steps 0..T-1. Its labels (`first_error_labels`)
are hard: 1.0 before the first error and 0.0 from it on, ProcessBench's convention (every step
after the earliest error counts as wrong); `rollouts[i]` is k for the prefixes rolled out, 0
for those inferred. Where a solution's per-step hard labels are monotone, both give the same
first error; where they are not (a positive step after a negative one, a correct solution with
a dead-end step), binary search returns a negative step whose predecessor is positive (or step
0), not necessarily the first negative one.
"""

from __future__ import annotations

from data.records import Sample, StepLabels


def labelable(sample: Sample) -> bool:
    """The paper drops solutions without a parsable final answer: they hurt the PRM."""
    return sample.answer is not None and bool(sample.steps)


def prefix(prompt: str, steps: list[str], i: int) -> str:
    """The prompt followed by steps 0..i, each ending its line: where rollouts continue."""
    return prompt + "".join(step + "\n" for step in steps[: i + 1])


def step_labels(sample: Sample, question: str, correct_counts: list[int], k: int) -> StepLabels:
    """Labels from the number of correct rollouts after each non-final step."""
    if len(correct_counts) != len(sample.steps) - 1:
        raise ValueError(f"{len(sample.steps)} steps need {len(sample.steps) - 1} rollout counts")
    values = [c / k for c in correct_counts] + [float(sample.correct)]
    return StepLabels(sample.problem_id, sample.index, question, sample.steps, values, [k] * len(correct_counts) + [0])


class FirstErrorSearch:
    """The binary search for one solution's first hard-negative step, one prefix at a time.

    `midpoint` is the step whose prefix to roll out next (None once found); `record(dead)` takes
    whether all its rollouts failed. `first_error` is the index found (len(steps) for a correct
    solution: none); `rolled` the steps whose prefixes were rolled out, in search order.
    """

    def __init__(self, num_steps: int, correct: bool):
        if num_steps < 1:
            raise ValueError("a solution to search has at least one step")
        self.lo, self.hi = (num_steps, num_steps) if correct else (0, num_steps - 1)
        self.num_steps, self.rolled = num_steps, []

    @property
    def midpoint(self) -> int | None:
        return (self.lo + self.hi) // 2 if self.lo < self.hi else None

    def record(self, dead: bool) -> None:
        mid = self.midpoint
        if mid is None:
            raise ValueError("the search is over: nothing to record")
        self.rolled.append(mid)
        self.lo, self.hi = (self.lo, mid) if dead else (mid + 1, self.hi)

    @property
    def first_error(self) -> int:
        if self.midpoint is not None:
            raise ValueError("the search is not over")
        return self.lo


def first_error_labels(sample: Sample, question: str, search: FirstErrorSearch, k: int) -> StepLabels:
    """Hard labels of a finished search: 1.0 before the first error, 0.0 from it on."""
    if search.num_steps != len(sample.steps):
        raise ValueError(f"a search over {search.num_steps} steps for a solution of {len(sample.steps)}")
    first, rolled = search.first_error, set(search.rolled)
    return StepLabels(
        sample.problem_id,
        sample.index,
        question,
        sample.steps,
        [float(i < first) for i in range(len(sample.steps))],
        [k if i in rolled else 0 for i in range(len(sample.steps))],
    )


def first_error(values: list[float]) -> int:
    """The first step whose hard label is negative (value 0), len(values) when none is."""
    return next((i for i, v in enumerate(values) if v == 0), len(values))


def monotone(values: list[float]) -> bool:
    """No positive hard label after the first negative one: where binary search is exact."""
    return all(v == 0 for v in values[first_error(values) :])
