"""The revision ORM's labels from the reviser's chains (train/orm_data.py): what each attempt's
record holds, fitted to the ORM's context, and the stage on a chains file, with the toy base's
tokenizer (no model runs)."""

import json
import logging

import pytest
from transformers import AutoTokenizer

from data.config import ConfigError
from data.prm_format import PRMFormat
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem, RecordError, StepLabels, read_records, to_json, write_atomic
from data.revision_format import revision_question
from train.orm_data import ORMDataConfig, ORMInput, main, orm_input, orm_labels
from ttc.revise import Attempt, ChainSet, chain_records

pytestmark = pytest.mark.e2e  # a real tokenizer and model config

PROBLEM = Problem("p", "Compute 6+7.", "13")
BASE = "train/checkpoints/toy-base"


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(BASE)


def orm(tokenizer, max_length: int = 1024) -> ORMInput:
    return ORMInput(tokenizer, PRMFormat(), PromptFormat(), max_length)


def trainer_tokens(tokenizer, record: StepLabels) -> int:
    """What train/prm.py's StepLabelDataset tokenizes (its defaults: the toy ORM recipe's)."""
    return len(PRMFormat().encode(tokenizer, PromptFormat().render(record.question, tokenizer), record.steps)[0])


def attempt(chain: int, index: int, text: str, answer: str | None, dropped: int = 0) -> Attempt:
    return Attempt("p", chain, index, text, answer, answer == "13", 0.5, 5, "stop", dropped)


def test_each_answered_attempt_is_labelled_with_its_chains_previous_attempts_in_the_question(tokenizer):
    chains = [
        [
            attempt(0, 0, "=12\n\\boxed{12}", "12"),
            attempt(0, 1, "=13\n\\boxed{13}", "13"),
            attempt(0, 2, "=13", None),
        ],  # no answer: no label
        [
            attempt(1, 0, "=13\n\\boxed{13}", "13"),
            attempt(1, 1, "=14\n\\boxed{14}", "14"),
            attempt(1, 2, "=13\n\\boxed{13}", "13"),
        ],
    ]
    labels = orm_labels(PROBLEM, ChainSet("p", chains), 1, orm(tokenizer))
    records = labels.records
    assert (labels.dropped_attempts, labels.too_long) == (0, 0)
    assert [(r.sample_index, r.values) for r in records] == [
        (0, [0.0, 0.0]),
        (1, [1.0, 1.0]),
        (3, [1.0, 1.0]),
        (4, [0.0, 0.0]),
        (5, [1.0, 1.0]),
    ]
    assert records[0].question == PROBLEM.question  # the first attempt saw none
    assert records[1].steps == ["=13", "\\boxed{13}"]
    assert records[1].question == revision_question(PROBLEM.question, ["=12\n\\boxed{12}"], 1).text
    # the window keeps the most recent attempt only
    assert records[4].question == revision_question(PROBLEM.question, ["=14\n\\boxed{14}"], 1).text
    assert "=13" not in records[4].question.split("Previous attempt 1:")[1]


def test_questions_fit_max_length_keeping_the_newest_attempts_and_an_attempt_too_long_alone_is_dropped(tokenizer):
    texts = [f"={n}\n" * 8 + f"\\boxed{{{n}}}" for n in (10, 11, 12, 13)]  # ~40 tokens each
    long = "=13\n" * 60 + "\\boxed{13}"  # ~250 tokens: over max_length with no previous attempt
    chain = [attempt(0, t, text, text[-3:-1]) for t, text in enumerate(texts)] + [attempt(0, 4, long, "13")]
    max_length = 150
    # before fitting, the ORM trainer would read more than max_length tokens
    unfitted = orm_labels(PROBLEM, ChainSet("p", [chain]), 4, orm(tokenizer, 10_000))
    assert max(trainer_tokens(tokenizer, r) for r in unfitted.records) > max_length
    labels = orm_labels(PROBLEM, ChainSet("p", [chain]), 4, orm(tokenizer, max_length))
    assert [r.sample_index for r in labels.records] == [0, 1, 2, 3] and labels.too_long == 1
    for r, full in zip(labels.records, unfitted.records):
        assert trainer_tokens(tokenizer, r) <= max_length
        kept = r.question.count("Previous attempt")
        assert r.question == revision_question(PROBLEM.question, texts[r.sample_index - kept : r.sample_index], 4).text
    assert labels.records[3].question.count("Previous attempt") < 3  # the oldest dropped: texts[0] first
    assert (
        labels.dropped_attempts
        == sum(
            full.question.count("Previous attempt") - r.question.count("Previous attempt")
            for r, full in zip(labels.records, unfitted.records)
        )
        > 0
    )


def test_the_reviser_s_own_dropped_attempts_stay_out(tokenizer):
    """The question starts from what the reviser saw (the chain record's `dropped`), then fits."""
    chain = [
        attempt(0, 0, "=12\n\\boxed{12}", "12"),
        attempt(0, 1, "=11\n\\boxed{11}", "11"),
        attempt(0, 2, "=13\n\\boxed{13}", "13", dropped=1),
    ]
    record = orm_labels(PROBLEM, ChainSet("p", [chain]), 4, orm(tokenizer)).records[2]
    assert record.question == revision_question(PROBLEM.question, ["=11\n\\boxed{11}"], 4).text


def test_main_labels_a_chains_file_in_problem_order(tmp_path, tokenizer):
    data = DataConfig(levels=[1, 2], per_level=1)
    problems = load_problems(data)
    sets = [
        ChainSet(
            p.id,
            [
                [
                    Attempt(p.id, c, t, f"={p.answer}\n\\boxed{{{p.answer}}}", p.answer, True, None, 3, "eos")
                    for t in range(2)
                ]
                for c in range(3)
            ],
        )
        for p in problems
    ]
    write_atomic(
        tmp_path / "chains.jsonl",
        [to_json(a) for cs in reversed(sets) for a in reversed([a for chain in cs.chains for a in chain])],
    )  # any order in the file
    path = main(
        ORMDataConfig(output_dir=str(tmp_path / "out"), chains=str(tmp_path / "chains.jsonl"), model=BASE, data=data)
    )
    expected = [r for p, cs in zip(problems, sets) for r in orm_labels(p, cs, 4, orm(tokenizer)).records]
    assert read_records(path, StepLabels) == expected and len(expected) == 2 * 3 * 2
    write_atomic(tmp_path / "short.jsonl", map(json.dumps, chain_records(sets[0])))  # no chains of problem 2
    with pytest.raises(RecordError, match=f"problem {problems[1].id} has chains"):
        main(
            ORMDataConfig(output_dir=str(tmp_path / "out"), chains=str(tmp_path / "short.jsonl"), model=BASE, data=data)
        )


def test_main_counts_attempts_too_long_and_refuses_when_none_fits(tmp_path, caplog):
    data = DataConfig(levels=[1], per_level=1)
    p = load_problems(data)[0]
    long = f"={p.answer}\n" * 80 + f"\\boxed{{{p.answer}}}"
    chain = [
        Attempt(p.id, 0, 0, f"={p.answer}\n\\boxed{{{p.answer}}}", p.answer, True, None, 3, "eos"),
        Attempt(p.id, 0, 1, long, p.answer, True, None, 3, "eos"),
    ]
    write_atomic(tmp_path / "chains.jsonl", [to_json(a) for a in chain])
    cfg = ORMDataConfig(
        output_dir=str(tmp_path / "out"), chains=str(tmp_path / "chains.jsonl"), model=BASE, data=data, max_length=200
    )
    with caplog.at_level(logging.WARNING, logger="train.orm_data"):
        path = main(cfg)
    assert [r.sample_index for r in read_records(path, StepLabels)] == [0]
    assert "and 1 answered attempts whose question and steps alone do not fit" in caplog.text
    cfg.max_length, cfg.output_dir = 10, str(tmp_path / "none")
    with pytest.raises(
        RecordError, match="no answered attempt in the chains fits the ORM's max_length 10 \\(2 too long\\)"
    ):
        main(cfg)


def test_the_orm_s_context_defaults_to_its_model_s_and_its_tags_must_be_tokens(tmp_path):
    cfg = ORMDataConfig(output_dir=str(tmp_path / "out"), chains="unused", model=BASE)
    assert orm_input(cfg).max_length == 1024  # the toy base's max_position_embeddings
    cfg.format = PRMFormat(step_tag="<no such tag>")
    with pytest.raises(ConfigError, match="^format: model train/checkpoints/toy-base: PRM step_tag '<no such tag>'"):
        orm_input(cfg)
