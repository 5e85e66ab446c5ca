import random

import pytest

from data import toy
from data.grading import is_correct
from data.steps import extract_answer, split_steps
from data.toy import LEVELS, ToyLevel, first_wrong_step, generate, make_expression, parse_expression, solve

QUESTION = "Compute 99-76+96-67-20."
SOLUTION = ["=23+96-67-20", "=119-67-20", "=52-20", "=32", "\\boxed{32}"]


def test_generation_is_deterministic_under_the_seed():
    first = [generate(level, i, seed=0) for level in LEVELS for i in range(20)]
    assert first == [generate(level, i, seed=0) for level in LEVELS for i in range(20)]
    assert first != [generate(level, i, seed=1) for level in LEVELS for i in range(20)]
    assert toy.training_example(3, seed=0) == toy.training_example(3, seed=0)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_problems_follow_their_level(level):
    knobs = LEVELS[level]
    for i in range(50):
        problem = generate(level, i, seed=0)
        terms = parse_expression(problem.expression)
        assert knobs.min_ops <= len(terms) - 1 <= knobs.max_ops
        assert all(knobs.min_operand <= abs(t) <= knobs.max_operand for t in terms)
        assert problem.answer == sum(terms) and problem.level == level


def test_intermediate_values_are_never_negative():
    rng = random.Random(0)
    for level in [*LEVELS.values(), ToyLevel(8, 8, 0, 99)]:
        for _ in range(200):
            terms = parse_expression(make_expression(level, rng))
            running = [sum(terms[: k + 1]) for k in range(len(terms))]
            assert min(running) >= 0


def test_solve_reduces_left_to_right():
    assert solve("99-76+96-67-20") == SOLUTION
    assert solve("7") == ["\\boxed{7}"]


def test_first_wrong_step():
    assert first_wrong_step(QUESTION, SOLUTION) is None
    assert first_wrong_step(QUESTION, ["=23+96-67-20 ", "=119-67-20"]) is None  # stopped early
    assert first_wrong_step(QUESTION, ["=23+96-67-20", "=118-67-20", "=51-20"]) == 1  # wrong arithmetic
    assert first_wrong_step(QUESTION, ["=23+96-67-20", "=52-20", "=32", "\\boxed{32}"]) == 1  # skipped a step
    assert first_wrong_step(QUESTION, ["=23+96-67-20", "=119-67-20", "=52-20", "=32", "\\boxed{31}"]) == 4
    assert first_wrong_step(QUESTION, [*SOLUTION, "=32"]) == 5  # writing past the answer


def test_text_layer_on_a_toy_solution():
    text = "\n".join(SOLUTION) + "\n"
    assert split_steps(text) == SOLUTION
    assert extract_answer(text) == "32"
    assert is_correct(extract_answer(text), "32", toy.SOURCE)
    assert not is_correct(extract_answer(text.replace("{32}", "{31}")), "32", toy.SOURCE)
    assert toy.expression_of(generate(3, 0, seed=0).question) == generate(3, 0, seed=0).expression


def test_a_careless_writer_drops_the_last_term_and_is_otherwise_right():
    rng = random.Random(0)
    assert toy.careless_solution("99-76+96-67-20", rng, 0.0) == SOLUTION
    assert toy.careless_solution("99-76+96-67-20", rng, 1.0) == ["=23+96-67", "=119", "\\boxed{119}"]
    for i in range(200):
        problem = generate(5, i, seed=0)
        steps = toy.careless_solution(problem.expression, rng, 0.5)
        answer = int(steps[-1][len("\\boxed{") : -1])
        terms = parse_expression(problem.expression)
        wrong = first_wrong_step(problem.question, steps)
        # a slip anywhere drops a suffix of the terms: the answer is a prefix sum, and the
        # first wrong step is the first slip (checkable against the line above)
        assert answer in {sum(terms[:k]) for k in range(2, len(terms) + 1)}
        assert (wrong is None) == (answer == problem.answer)
    assert toy.slip_chances("1+2") == 0 and toy.slip_chances("99-76+96-67-20") == 3


def test_slip_is_a_probability():
    with pytest.raises(ValueError, match="slip"):
        toy.careless_solution("1+2+3", random.Random(0), 1.5)


@pytest.mark.parametrize(
    "steps, expected",
    [
        (["=23+96-67"], "slip"),  # the careless writer's: the tail's last term dropped
        (["=23+96-76-20"], "slip"),  # a right sum, a term miscopied
        (["=24+96-67-20"], "arithmetic"),
        (["=23+96-67-20", "=118-67-20"], "arithmetic"),  # the first wrong step is judged against the line above
        (["=23+96-67-20", "=119-67-20", "=52-20", "=32", "\\boxed{31}"], "other"),  # a wrong boxed answer
        (["\\boxed{32}"], "other"),  # boxed too early
        (["=23+9 6"], "other"),  # not an expression
    ],
)
def test_the_error_class_of_the_first_wrong_step(steps, expected):
    i = first_wrong_step(QUESTION, steps)
    assert i == len(steps) - 1
    assert toy.error_class(QUESTION, steps, len(steps) - 1) == expected
