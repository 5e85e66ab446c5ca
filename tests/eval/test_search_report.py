"""eval/search_report.summarize on hand-built records: cells, the standard error over seeds, the
per-question outcomes (mean over seeds) the report pairs, and each line's method."""

import pytest

from data.records import RecordError, to_json
from eval.search_report import EvalResult, SearchSummary, summarize, write


def result(pid: str, seed: int, correct: float, name: str = "weighted", n: int = 4, **params) -> EvalResult:
    return EvalResult(
        pid,
        "best_of_n",
        {"n": n, "seed": seed, "selection": "weighted", "pool": 16, **params},
        n,
        seed,
        None,
        correct,
        None,
        n,
        n,
        0,
        0,
        None,
        0,
        None,
        name=name,
    )


def test_cells_keep_each_question_averaged_over_seeds():
    records = [result("a", 0, 1.0), result("b", 0, 0.0), result("a", 1, 0.0), result("b", 1, 0.0)]
    line = summarize(records).lines["weighted"]
    cell = line.cells[4]
    assert (cell.accuracy, cell.problems, cell.seeds) == (0.25, 2, 2)
    assert cell.stderr == pytest.approx(0.25)  # seed means 0.5 and 0.0
    assert cell.per_question == {"a": 0.5, "b": 0.0}
    assert (line.strategy, line.settings) == ("best_of_n", {"selection": "weighted"})  # no n, seed or pool


def test_the_summary_round_trips_through_its_file(tmp_path):
    records = [result(q, 0, float(q == "a"), n=n) for n in (1, 4) for q in "ab"]
    (tmp_path / "results.jsonl").write_text("".join(to_json(r) + "\n" for r in records))
    write(tmp_path / "results.jsonl")
    summary = SearchSummary.load(tmp_path / "summary.json")
    assert summary == summarize(records) and summary.curves() == {"weighted": {1: 0.5, 4: 0.5}}


def test_seeds_on_different_questions_and_duplicates_are_errors():
    with pytest.raises(RecordError, match="seeds cover different problems"):
        summarize([result("a", 0, 1.0), result("b", 1, 1.0)])
    with pytest.raises(RecordError, match="two results for problem a, weighted, budget 4, seed 0"):
        summarize([result("a", 0, 1.0), result("a", 0, 0.0)])
    with pytest.raises(RecordError, match="weighted: records of two methods"):
        summarize([result("a", 0, 1.0), result("b", 0, 1.0, selection="majority")])
