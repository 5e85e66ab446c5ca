"""The revision ORM's labels from the reviser's chains (train/orm_data.py); the whole stage runs
in the demo's end-to-end test."""

from data.records import Problem
from data.revision_format import revision_question
from train.orm_data import orm_labels
from ttc.revise import Attempt, ChainSet

PROBLEM = Problem("p", "Compute 6+7.", "13")


def attempt(chain: int, index: int, text: str, answer: str | None) -> Attempt:
    return Attempt("p", chain, index, text, answer, answer == "13", 0.5, 5, "stop")


def test_each_answered_attempt_is_labelled_with_its_chains_previous_attempts_in_the_question():
    chains = [[attempt(0, 0, "=12\n\\boxed{12}", "12"), attempt(0, 1, "=13\n\\boxed{13}", "13"),
               attempt(0, 2, "=13", None)],  # no answer: no label
              [attempt(1, 0, "=13\n\\boxed{13}", "13"), attempt(1, 1, "=14\n\\boxed{14}", "14"),
               attempt(1, 2, "=13\n\\boxed{13}", "13")]]
    records = orm_labels(PROBLEM, ChainSet("p", chains), max_attempts=1)
    assert [(r.sample_index, r.values) for r in records] == [
        (0, [0.0, 0.0]), (1, [1.0, 1.0]), (3, [1.0, 1.0]), (4, [0.0, 0.0]), (5, [1.0, 1.0])]
    assert records[0].question == PROBLEM.question  # the first attempt saw none
    assert records[1].steps == ["=13", "\\boxed{13}"]
    assert records[1].question == revision_question(PROBLEM.question, ["=12\n\\boxed{12}"], 1)
    # the window keeps the most recent attempt only
    assert records[4].question == revision_question(PROBLEM.question, ["=14\n\\boxed{14}"], 1)
    assert "=13" not in records[4].question.split("Previous attempt 1:")[1]
