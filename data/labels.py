"""Monte Carlo step labels (Math-Shepherd, soft): the text side of `ttc label`.

For a sampled solution with steps s_1..s_T, the prefix ending at step i (i < T) is continued
k times by the base model; the value of step i is the fraction of continuations whose final
answer is correct, an estimate of the base policy's reward-to-go. The last step needs no
rollouts: its value is the solution's own correctness.
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
    return StepLabels(sample.problem_id, sample.index, question, sample.steps, values,
                      [k] * len(correct_counts) + [0])
