"""Toy-ProcessBench: the policy's own toy solutions, labelled step-exactly, in ProcessBench's shape.

The toy world knows each step's truth (data/toy.py): a solution's `label` is the index of its
first step that is not the correct next reduction (-1 when none is) and `error_class` says what
went wrong there (slip, arithmetic, other). Splits are the difficulty levels ("L1".."L5"), as
ProcessBench's are its sources, and `group` is the question, the unit its intervals resample
(a question's solutions are not independent).

Choices (the paper has no toy set): only finished solutions count (an answer was boxed: a
truncated one is wrong in no step it wrote); a question's first `per_question` samples are kept
(None: all), duplicates included, so the set weighs solutions as the policy writes them; whether
the final answer is right is graded as `ttc sample` graded it. A split's F1 needs both kinds of
solution (it is the harmonic mean of the accuracy on each), so a level with fewer than
`min_per_kind` erroneous or correct ones is left out, with a warning (the easiest level has
almost no erroneous solution, the hardest few correct ones). Each accuracy is within its kind,
so the kinds' proportions do not bias F1, and the splits are not balanced.
"""

from __future__ import annotations

import logging
from collections import Counter

from data import toy
from data.prm_bench import BenchSolution
from data.records import Problem, Sample

log = logging.getLogger(__name__)


def bench_solution(sample: Sample, problem: Problem) -> BenchSolution:
    wrong = toy.first_wrong_step(problem.question, sample.steps)
    return BenchSolution(
        id=f"{sample.problem_id}/{sample.index}",
        split=f"L{problem.level}",
        problem=problem.question,
        steps=sample.steps,
        label=-1 if wrong is None else wrong,
        final_answer_correct=sample.correct,
        error_class=None if wrong is None else toy.error_class(problem.question, sample.steps, wrong),
        group=sample.problem_id,
    )


def toy_processbench(
    samples: list[Sample], problems: list[Problem], per_question: int | None = None, min_per_kind: int = 0
) -> list[BenchSolution]:
    """The set from `samples` of the toy `problems` (in the problems' order, then the samples'),
    without the levels that have fewer than `min_per_kind` erroneous or correct solutions."""
    by_id = {p.id: p for p in problems}
    if any(p.source != toy.SOURCE for p in problems):
        raise ValueError("toy-ProcessBench is built from toy-world problems only (data.source: toy)")
    kept = [
        s
        for s in samples
        if s.problem_id in by_id and s.answer is not None and (per_question is None or s.index < per_question)
    ]
    order = {p.id: i for i, p in enumerate(problems)}
    items = [bench_solution(s, by_id[s.problem_id]) for s in sorted(kept, key=lambda s: (order[s.problem_id], s.index))]
    kinds = Counter((item.split, item.label == -1) for item in items)
    thin = sorted({split for split, _ in kinds if min(kinds[split, False], kinds[split, True]) < min_per_kind})
    for split in thin:
        log.warning(
            "toy-ProcessBench: %s left out: %d erroneous and %d correct solutions (min_per_kind %d)",
            split,
            kinds[split, False],
            kinds[split, True],
            min_per_kind,
        )
    return [item for item in items if item.split not in thin]
