"""The revision report: its numbers on hand-built chains, the ORM's calls (one per batch of
problems, as the chains were sampled), and one real run (the toy base model's chains from
`ttc chains`, a tiny PRM as the ORM) that writes every file and resumes without the ORM."""

from typing import Any, cast

import pytest

from data.problems import DataConfig, load_problems
from data.records import RecordError, to_json, write_atomic
from data.revision_format import revision_question
from eval import revision
from eval.paired import curve_of
from eval.revision import (
    ALL,
    PARALLEL,
    SEQUENTIAL,
    RevisionEvalConfig,
    RevisionSummary,
    SelectionName,
    Transitions,
    evaluate,
    main,
    markdown,
    pass_at_1_per_problem,
    ratio_sweep,
    sequential_vs_parallel,
    splits,
    transitions,
)
from tests.support.fakes import TableVerifier
from tests.support.runs import synthetic_labels, train_tiny_prm
from ttc.lm.spec import LMConfig
from ttc.revise import Attempt, ChainSet, accuracy
from ttc.stages import chains
from ttc.verifiers.spec import VerifierConfig


def chain_set(pid, rows):
    """rows: one string per chain, an attempt per character: 'c' correct, 'w' wrong (answer 9)."""
    return ChainSet(
        pid,
        [
            [Attempt(pid, c, t, "", "1" if x == "c" else "9", x == "c", 0.5, 1, "eos") for t, x in enumerate(row)]
            for c, row in enumerate(rows)
        ],
    )


SETS = [chain_set("a", ["wccw", "wwcc"]), chain_set("b", ["cwcc", "wwww"])]


def test_pass_at_1_by_step_per_problem_and_overall():
    per_problem = pass_at_1_per_problem(SETS)
    assert per_problem[1] == {"a": 0.0, "b": 0.5} and per_problem[4] == {"a": 0.5, "b": 0.5}
    assert curve_of(per_problem) == {1: 0.25, 2: 0.25, 3: 0.75, 4: 0.5}


def test_evaluate_keeps_the_per_problem_values_of_its_curves(tmp_path):
    cfg = RevisionEvalConfig(output_dir="unused", chains="unused", orm=VerifierConfig(path="o"), budget=4)
    summary = evaluate(SETS, {"a": 1, "b": 2}, cfg)
    assert summary.pass_at_1_per_question[3] == {"a": 1.0, "b": 0.5} and summary.pass_at_1[3] == 0.75
    seq = summary.sequential_parallel_per_question[SelectionName.MAJORITY][SEQUENTIAL][4]
    assert set(seq) == {"a", "b"} and summary.sequential_parallel[SelectionName.MAJORITY][SEQUENTIAL][
        4
    ] == pytest.approx((seq["a"] + seq["b"]) / 2)
    sweep = ratio_sweep(SETS, 4, 2, 4, "weighted", cfg.num_subsets, 0)
    assert summary.ratio_per_question[SelectionName.ORM_WEIGHTED][4.0] == sweep[4.0]
    assert set(summary.ratio[SelectionName.MAJORITY]) == {ALL, "level 1", "level 2"}
    summary.save(tmp_path / "revision_eval.json")  # ratios (float keys) and steps (int keys) come back as they were
    assert RevisionSummary.load(tmp_path / "revision_eval.json") == summary


def test_transitions():
    # correct attempts with a next one: a0:c(1)->c, c(2)->w; a1:c(2)->c; b0:c(0)->w, c(2)->c
    t = transitions(SETS)
    assert (t.correct, t.correct_to_incorrect) == (5, pytest.approx(2 / 5))
    assert (t.incorrect, t.incorrect_to_correct) == (7, pytest.approx(3 / 7))
    assert transitions([chain_set("x", ["w"])]) == Transitions(0, None, 0, None)  # no attempt with a next one


def test_sequential_parallel_and_ratio_are_means_of_the_estimator():
    per_problem = sequential_vs_parallel(SETS, chains=2, length=4, num_subsets=100, seed=0)
    curves = {name: {kind: curve_of(c) for kind, c in kinds.items()} for name, kinds in per_problem.items()}
    assert {name: list(kinds) for name, kinds in curves.items()} == {
        "ORM weighted": [SEQUENTIAL, PARALLEL],
        "majority": [SEQUENTIAL, PARALLEL],
    }
    majority = curves[SelectionName.MAJORITY]
    assert sorted(majority[SEQUENTIAL]) == [1, 2, 4] and sorted(majority[PARALLEL]) == [1, 2]
    assert per_problem[SelectionName.MAJORITY][SEQUENTIAL][4] == {
        "a": accuracy(SETS[0], 1, 4, "majority"),
        "b": accuracy(SETS[1], 1, 4, "majority"),
    }
    steps = curve_of(pass_at_1_per_problem(SETS))
    assert (
        curves[SelectionName.ORM_WEIGHTED][PARALLEL][1] == curves[SelectionName.ORM_WEIGHTED][SEQUENTIAL][1] == steps[1]
    )
    sweep = curve_of(ratio_sweep(SETS, 4, 2, 4, "weighted", 100, 0))
    assert sorted(sweep) == [1.0, 4.0]  # 2 x 2 and 1 x 4: 4 chains of 1 would need 4 chains
    summary = RevisionSummary(
        2, 2, 4, 4, steps, curves, {SelectionName.ORM_WEIGHTED: {ALL: sweep}}, transitions(SETS), {}, {}, {}
    )
    text = markdown(summary)
    assert "| step | 1 | 2 | 3 | 4 |" in text and "| method | N=1 | N=2 | N=4 |" in text
    assert "| sequential, ORM weighted |" in text and "| parallel, majority |" in text


def test_splits_and_config_checks(tmp_path):
    assert splits(16, 16, 16) == [(16, 1), (8, 2), (4, 4), (2, 8), (1, 16)]
    assert splits(16, 4, 8) == [(4, 4), (2, 8)]
    base: dict[str, Any] = dict(output_dir=str(tmp_path), chains="unused", orm=VerifierConfig(path="o"))
    with pytest.raises(ValueError, match="no split C x L with C <= 2 chains and L <= 4 attempts"):
        evaluate(SETS, {"a": 1, "b": 2}, RevisionEvalConfig(**base, budget=16))
    with pytest.raises(ValueError, match=">= 1"):
        RevisionEvalConfig(**base, budget=0)
    with pytest.raises(ValueError, match="aggregation"):
        RevisionEvalConfig(**base, aggregation=cast(Any, "mean"))  # refused


def test_the_orm_scores_each_batch_of_problems_in_one_call(tmp_path, monkeypatch):
    """Every attempt of `batch_problems` problems per verifier call, in (problem, chain, attempt)
    order, its chain's previous attempts in the question: the calls of the `revision` strategy on
    the batches `ttc chains` sampled, so the scores are the same floats."""
    data = DataConfig(levels=[1, 2, 3], per_level=1)
    problems = load_problems(data)

    def text(p, c, t):
        return f"{p.id} {c} {t}\n\\boxed{{1}}"

    attempts = [
        Attempt(p.id, c, t, text(p, c, t), "1", False, None, 1, "eos")
        for p in problems
        for c in range(2)
        for t in range(2)
    ]
    write_atomic(tmp_path / "chains.jsonl", map(to_json, attempts))
    orm = TableVerifier()
    monkeypatch.setattr(revision, "load_verifier", lambda cfg, prompt: orm)
    cfg = RevisionEvalConfig(
        output_dir=str(tmp_path / "eval"),
        chains=str(tmp_path / "chains.jsonl"),
        orm=VerifierConfig(path="o"),
        data=data,
        budget=2,
        max_attempts=1,
        batch_problems=2,
    )
    main(cfg)
    assert [len(call) for call in orm.calls] == [2 * 4, 4]
    p = problems[0]
    assert orm.calls[0][:4] == [
        (revision_question(p.question, [text(p, c, t - 1)] if t else [], 1).text, tuple(text(p, c, t).split("\n")))
        for c in range(2)
        for t in range(2)
    ]


@pytest.fixture(scope="module")
def toy_orm_path(tmp_path_factory, toy_base_path):
    return train_tiny_prm(tmp_path_factory.mktemp("revision-eval-orm"), toy_base_path, synthetic_labels(20))


def test_main_writes_the_report_and_resumes_without_the_orm(tmp_path, toy_base_path, toy_orm_path, hf_lm):
    data = DataConfig(levels=[1, 3], per_level=2, split="revision-eval")
    sampling = chains.ChainsConfig(
        output_dir=str(tmp_path / "chains"),
        reviser=LMConfig(model=str(toy_base_path)),
        data=data,
        chains=2,
        length=4,
        max_tokens=64,
        batch_problems=3,
    )
    cfg = RevisionEvalConfig(
        output_dir=str(tmp_path / "eval"),
        chains=str(chains.run(sampling, hf_lm)),
        orm=VerifierConfig(path=str(toy_orm_path)),
        data=data,
        budget=4,
        batch_problems=3,
    )
    text = main(cfg)
    out = tmp_path / "eval"
    for name in (
        "scored_chains.jsonl",
        "revision_eval.json",
        "revision_eval.md",
        "revision_steps.png",
        "sequential_parallel.png",
        "ratio.png",
        "config.yaml",
    ):
        assert (out / name).stat().st_size > 0, name
    assert len((out / "scored_chains.jsonl").read_text().splitlines()) == 4 * 2 * 4
    summary = RevisionSummary.load(out / "revision_eval.json")
    assert (summary.chains, summary.length) == (2, 4)  # the chains file's shape
    assert set(summary.ratio[SelectionName.ORM_WEIGHTED]) == {ALL, "level 1", "level 3"}
    assert len(summary.pass_at_1_per_question[1]) == 4  # the 4 problems, for paired intervals
    assert "correct -> incorrect" in text and "Fig. 7" in text
    # every attempt is scored: the report is rebuilt from scored_chains.jsonl, the ORM is not loaded
    cfg.orm = VerifierConfig(path=str(tmp_path / "no-such-orm"))
    assert main(cfg) == text
    sampling.seed, sampling.overwrite = 1, True  # other chains in the same place: their old scores must not be used
    chains.run(sampling, hf_lm)
    with pytest.raises(RecordError, match="scores other chains"):
        main(cfg)
