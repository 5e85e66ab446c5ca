import math
import subprocess
import sys

import pytest

from data.records import Sample
from eval.paired import curve_of
from eval.prm import (
    LIKELIHOOD,
    PRM,
    Curve,
    FinalAUC,
    PRMEvalSummary,
    auc,
    best_of_n,
    evaluate,
    final_score_auc,
    markdown,
    within_question_auc,
)
from tests.support.runs import REPO
from ttc.pipeline import cli


def test_auc_matches_pair_counting():
    scores = [0.1, 0.4, 0.35, 0.8, 0.4]
    labels = [False, False, True, True, True]
    pairs = [(p, n) for p, y in zip(scores, labels) if y for n, z in zip(scores, labels) if not z]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert auc(scores, labels) == pytest.approx(expected)
    assert auc([0.2, 0.9], [False, True]) == 1.0
    assert math.isnan(auc([0.5], [True]))


def sample(i, answer, correct):
    return Sample("p", i, "", ["x"], answer, correct, 1, "eos")


def test_verifier_weighting_beats_majority_when_scores_are_informative():
    # 3 wrong answers agree, the right one appears twice with high scores
    items = [
        (sample(0, "1", False), [0.1]),
        (sample(1, "1", False), [0.2]),
        (sample(2, "1", False), [0.1]),
        (sample(3, "2", True), [0.9]),
        (sample(4, "2", True), [0.8]),
        (sample(5, "3", False), [0.3]),
        (sample(6, "1", False), [0.1]),
        (sample(7, "2", True), [0.9]),
    ]
    per_problem = best_of_n({"p": items}, [1, 8], seed=0)
    assert per_problem[Curve.MAJORITY][8] == {"p": 0.0}
    curves = {name: curve_of(c) for name, c in per_problem.items()}
    assert curves[Curve.PASS1][8] == pytest.approx(3 / 8)
    assert curves[Curve.MAJORITY][8] == 0.0
    assert curves[Curve.WEIGHTED_LAST][8] == curves[Curve.NAIVE_LAST][8] == 1.0
    assert curves[Curve.PASS1][1] == pytest.approx(3 / 8)  # 8 groups of 1
    final = final_score_auc({"p": items})
    assert final.within_question == final.all_solutions == 1.0  # one question: the same pairs
    summary = PRMEvalSummary(curves, per_problem, {PRM: final}, {}, step_auc=None, labelled_steps=8)
    text = markdown(summary)
    assert "N=8" in text and "(PRM): 1.000 over all solutions, 1.000 within a question" in text
    assert "step-level AUC vs hard MC labels: nan\n" in text  # labels given, all of one outcome
    assert "step-level" not in markdown(PRMEvalSummary(curves, per_problem, {PRM: final}, {}))  # no labels


def test_a_score_that_only_knows_the_question_ranks_nothing_within_it():
    # an easy question scored 0.9 and a hard one 0.2, whatever the solution: difficulty, not checking
    easy = [(Sample("e", i, "", ["x"], str(i % 2), i % 4 != 0, 1, "eos"), [0.9]) for i in range(8)]
    hard = [(Sample("h", i, "", ["x"], str(i % 2), i % 4 == 0, 1, "eos"), [0.2]) for i in range(8)]
    final = final_score_auc({"e": easy, "h": hard})
    assert final.all_solutions == 0.75 and final.within_question == 0.5
    wrong = [(Sample("w", i, "", ["x"], "9", False, 1, "eos"), [0.2]) for i in range(4)]
    assert final_score_auc({"w": wrong}) == FinalAUC(None, None)  # one outcome only: nothing to rank


def test_evaluate_keeps_per_problem_values_for_paired_intervals():
    # "e": one correct sample (PRM 0.9) against 3 agreeing wrong ones (0.2 each, 0.6 together);
    # "h": all wrong (no within-question AUC); "s": only 3 samples
    easy = [
        (Sample("e", i, "", ["x"], "1" if i < 1 else "9", i < 1, 1, "eos"), [0.9 if i < 1 else 0.2]) for i in range(4)
    ]
    hard = [(Sample("h", i, "", ["x"], "9", False, 1, "eos"), [0.5]) for i in range(4)]
    short = [(Sample("s", i, "", ["x"], "1", True, 1, "eos"), [0.5]) for i in range(3)]
    prm = {"e": easy, "h": hard, "s": short}
    flat = {q: [(s, [0.5]) for s, _ in items] for q, items in prm.items()}
    summary = evaluate({PRM: prm, LIKELIHOOD: flat}, [1, 4], seed=0)
    per = summary.per_question
    assert per[Curve.WEIGHTED_LAST][4] == {"e": 1.0, "h": 0.0}  # "s" has fewer than 4 samples
    assert per[Curve.MAJORITY][4] == {"e": 0.0, "h": 0.0}
    assert summary.curves[Curve.WEIGHTED_LAST][4] == 0.5
    assert set(per[Curve.LIKELIHOOD_WEIGHTED][1]) == {"e", "h", "s"}
    assert summary.within_question_auc == {PRM: {"e": 1.0}, LIKELIHOOD: {"e": 0.5}}
    assert within_question_auc(prm) == {"e": 1.0} and summary.final_auc[PRM].within_question == 1.0


def test_the_summary_round_trips_through_its_file(tmp_path):
    items = [(sample(i, str(i % 2), i % 2 == 0), [0.1 * i]) for i in range(4)]
    summary = evaluate({PRM: {"p": items}}, [1, 2], seed=0)
    summary.save(tmp_path / "prm_eval.json")
    loaded = PRMEvalSummary.load(tmp_path / "prm_eval.json")
    assert loaded == summary and list(loaded.curves) == list(summary.curves)
    assert all(isinstance(name, Curve) for name in [*loaded.curves, *loaded.per_question])
    assert list(loaded.curves)[:3] == [Curve.PASS1, Curve.MAJORITY, Curve.WEIGHTED_LAST]
    assert '"best-of-N weighted (last)": {' in (tmp_path / "prm_eval.json").read_text()  # the file names it as shown
    assert "| best-of-N weighted (last) | " in markdown(loaded)


def test_eval_prm_with_a_vllm_prm_and_a_likelihood_baseline_exits_cleanly(tmp_path, toy_base_path):
    """The command as a Slurm job runs it, in its own process: the PRM on vLLM, then the
    likelihood on transformers. Its exit status is what a dependent job waits on, so an abort in
    the interpreter's teardown, after every output was written, fails the run all the same."""
    toy = ["--data.split", "test", "--data.levels", "[1,2]", "--data.per_level", "2"]
    cli.main(
        [
            "sample",
            "--config",
            "configs/toy/sample.yaml",
            "--lm.model",
            str(toy_base_path),
            "--lm.backend",
            "hf",
            *toy,
            "--sampling.n",
            "2",
            "--sampling.max_tokens",
            "32",
            "--output_dir",
            str(tmp_path / "samples"),
        ]
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ttc.pipeline.cli",
            "eval-prm",
            "--config",
            "configs/toy/eval_prm.yaml",
            "--prm.path",
            str(REPO / "train/checkpoints/toy-prm"),
            "--prm.backend",
            "vllm",
            "--baseline.kind",
            "likelihood",
            "--baseline.path",
            str(toy_base_path),
            "--labels",
            "null",
            *toy,
            "--max_n",
            "2",
            "--samples",
            str(tmp_path / "samples/samples.jsonl"),
            "--output_dir",
            str(tmp_path / "prm"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "prm" / "prm_eval.json").is_file()


def test_the_within_question_auc_ranks_by_the_aggregation_asked_for():
    """Min ranks a solution by its weakest step, last by its final one: they disagree here."""
    dipped, flat = (
        Sample("q", 0, "", ["a", "b"], "1", True, 2, "stop"),
        Sample("q", 1, "", ["a", "b"], "2", False, 2, "stop"),
    )
    by_problem = {"q": [(dipped, [0.1, 0.9]), (flat, [0.5, 0.6])]}
    assert within_question_auc(by_problem) == {"q": 1.0}
    assert within_question_auc(by_problem, "min") == {"q": 0.0}
