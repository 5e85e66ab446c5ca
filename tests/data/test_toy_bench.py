"""Toy-ProcessBench (data/toy_bench.py): the step-exact labels of the policy's own solutions."""

import pytest

from data import toy
from data.problems import DataConfig, load_problems
from data.records import Problem, Sample
from data.toy_bench import toy_processbench

PROBLEM = Problem("toy-L4-0", "Compute 99-76+96-67-20.", "32", level=4, source="toy")
RIGHT = ["=23+96-67-20", "=119-67-20", "=52-20", "=32", "\\boxed{32}"]


def sample(index: int, steps: list[str], answer: str | None = "x", correct: bool = False) -> Sample:
    return Sample(PROBLEM.id, index, "\n".join(steps), steps, answer, correct, 10, "stop")


def test_each_finished_solution_gets_its_first_wrong_step_and_its_class():
    samples = [
        sample(0, RIGHT, "32", True),
        sample(1, ["=23+96-67", "=119-67", "=52", "\\boxed{52}"]),  # a slip at step 0
        sample(2, ["=23+96-67-20", "=118-67-20", "=51-20", "=31", "\\boxed{31}"]),  # arithmetic at step 1
        sample(3, RIGHT[:2], answer=None),
    ]  # truncated: wrong in no step it wrote, left out
    items = toy_processbench(samples, [PROBLEM])
    assert [(s.id, s.split, s.label, s.error_class, s.final_answer_correct, s.group) for s in items] == [
        ("toy-L4-0/0", "L4", -1, None, True, "toy-L4-0"),
        ("toy-L4-0/1", "L4", 0, "slip", False, "toy-L4-0"),
        ("toy-L4-0/2", "L4", 1, "arithmetic", False, "toy-L4-0"),
    ]
    assert [s.id for s in toy_processbench(samples, [PROBLEM], per_question=2)] == ["toy-L4-0/0", "toy-L4-0/1"]


def test_a_set_of_other_problems_is_refused():
    math = Problem("m0", "What is 1+1?", "2", level=1, source="math")
    with pytest.raises(ValueError, match="toy-world problems only"):
        toy_processbench([], [math])


def test_the_toy_test_problems_build_a_set_in_their_order():
    problems = load_problems(DataConfig(split="test", levels=[1, 2], per_level=2))
    samples = [
        Sample(p.id, 0, "", toy.solve(toy.expression_of(p.question)), p.answer, True, 5, "stop")
        for p in reversed(problems)
    ]
    items = toy_processbench(samples, problems)
    assert [s.group for s in items] == [p.id for p in problems]
    assert {s.split for s in items} == {"L1", "L2"} and all(s.label == -1 for s in items)


def test_a_level_without_enough_solutions_of_either_kind_is_left_out(caplog):
    other = Problem("toy-L2-0", "Compute 9-7+6.", "8", level=2, source="toy")
    samples = [
        sample(0, RIGHT, "32", True),
        sample(1, ["=23+96-67"]),
        Sample(other.id, 0, "", ["=2+6", "=8", "\\boxed{8}"], "8", True, 3, "stop"),
    ]
    assert {s.split for s in toy_processbench(samples, [PROBLEM, other])} == {"L2", "L4"}
    assert {s.split for s in toy_processbench(samples, [PROBLEM, other], min_per_kind=1)} == {"L4"}
    assert {s.split for s in toy_processbench(samples, [PROBLEM, other], min_per_kind=2)} == set()
    assert "L2 left out: 0 erroneous and 1 correct solutions (min_per_kind 2)" in caplog.text
