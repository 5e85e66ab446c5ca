"""eval/search_report.summarize on hand-built records: cells, the standard error over seeds, and
the per-question outcomes (mean over seeds) the report pairs."""

import pytest

from data.records import RecordError
from eval.search_report import EvalResult, summarize


def result(pid: str, seed: int, correct: float, name: str = "weighted", n: int = 4) -> EvalResult:
    return EvalResult(pid, "best_of_n", {"n": n}, n, seed, None, correct, None, n, n, 0, 0, None, 0, None, name=name)


def test_cells_keep_each_question_averaged_over_seeds():
    records = [result("a", 0, 1.0), result("b", 0, 0.0), result("a", 1, 0.0), result("b", 1, 0.0)]
    cell = summarize(records)["weighted"][4]
    assert (cell.accuracy, cell.problems, cell.seeds) == (0.25, 2, 2)
    assert cell.stderr == pytest.approx(0.25)  # seed means 0.5 and 0.0
    assert cell.per_question == {"a": 0.5, "b": 0.0}


def test_seeds_on_different_questions_and_duplicates_are_errors():
    with pytest.raises(RecordError, match="seeds cover different problems"):
        summarize([result("a", 0, 1.0), result("b", 1, 1.0)])
    with pytest.raises(RecordError, match="two results for problem a, weighted, budget 4, seed 0"):
        summarize([result("a", 0, 1.0), result("a", 0, 0.0)])
