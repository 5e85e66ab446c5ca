"""The revision ORM's labels from the reviser's chains (train/orm_data.py): what each attempt's
record holds, and the stage on a chains file, with no model."""

import json

import pytest

from data.problems import DataConfig, load_problems
from data.records import Problem, RecordError, StepLabels, read_records, to_json, write_atomic
from data.revision_format import revision_question
from train.orm_data import Config, main, orm_labels
from ttc.revise import Attempt, ChainSet, chain_records

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
    assert records[1].question == revision_question(PROBLEM.question, ["=12\n\\boxed{12}"], 1).text
    # the window keeps the most recent attempt only
    assert records[4].question == revision_question(PROBLEM.question, ["=14\n\\boxed{14}"], 1).text
    assert "=13" not in records[4].question.split("Previous attempt 1:")[1]


def test_main_labels_a_chains_file_in_problem_order(tmp_path):
    data = DataConfig(levels=[1, 2], per_level=1)
    problems = load_problems(data)
    sets = [ChainSet(p.id, [[Attempt(p.id, c, t, f"={p.answer}\n\\boxed{{{p.answer}}}", p.answer, True, None, 3, "eos")
                             for t in range(2)] for c in range(3)]) for p in problems]
    write_atomic(tmp_path / "chains.jsonl", [to_json(a) for cs in reversed(sets) for a in reversed(
        [a for chain in cs.chains for a in chain])])  # any order in the file
    path = main(Config(output_dir=str(tmp_path / "out"), chains=str(tmp_path / "chains.jsonl"), data=data))
    expected = [r for p, cs in zip(problems, sets) for r in orm_labels(p, cs, 4)]
    assert read_records(path, StepLabels) == expected and len(expected) == 2 * 3 * 2
    write_atomic(tmp_path / "short.jsonl", map(json.dumps, chain_records(sets[0])))  # no chains of problem 2
    with pytest.raises(RecordError, match=f"problem {problems[1].id} has chains"):
        main(Config(output_dir=str(tmp_path / "out"), chains=str(tmp_path / "short.jsonl"), data=data))
