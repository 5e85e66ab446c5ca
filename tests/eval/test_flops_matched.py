"""FLOPs-matched comparison: the paper's formulas against hand-computed numbers, the toy models'
real sizes, the matched budget, per-bin winners, the figure and bad input."""

import shutil
from pathlib import Path

import pytest

from data.bins import Bins
from data.config import ConfigError
from data.records import Sample, to_json
from eval.flops_matched import (LARGER, PAPER_RATIOS, TIE, TTC, FlopsMatchedConfig, FlopsMatchedSummary, ModelSize,
                                by_bin, compare, greedy_accuracy, main, matched_budget, multiplier, pretraining_flops,
                                read_model_size, section)
from eval.paired import Paired
from eval.search_report import EvalResult
from ttc.lm import forward_flops

CHECKPOINTS = Path(__file__).resolve().parents[2] / "train" / "checkpoints"
BUDGETS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def test_flops_formulas():
    assert pretraining_flops(2, 3) == 36  # 6 N D
    assert forward_flops(2, 3) == 12  # 2 N D


@pytest.mark.parametrize("ratio,k", [(0.16, 257.75), (0.79, 14 + 39 / 0.79), (22, 14 + 39 / 22), (1.0, 53.0)])
def test_paper_multiplier_m14(ratio, k):
    # M + 3 (M - 1) / R with M = 14: ~258, ~63, ~15.8 (the paper's Section 7)
    assert multiplier(ModelSize(1000, 10**6), ModelSize(14000, 10**6), ratio) == pytest.approx(k)


def test_own_training_tokens_by_hand():
    small, large = ModelSize(100, 1000), ModelSize(1000, 500)
    # R = 1: D_inf = 1000. paper: 10 + 3 * 9 = 37; own: (6*1000*500 + 2*1000*1000 - 6*100*1000) / (2*100*1000) = 22
    assert multiplier(small, large, 1.0) == pytest.approx(37.0)
    assert multiplier(small, large, 1.0, "own") == pytest.approx(22.0)
    assert multiplier(small, ModelSize(1000, 1000), 1.0, "own") == pytest.approx(37.0)  # same data: the paper's
    with pytest.raises(ValueError, match="R must be > 0"):
        multiplier(small, large, 0.0)


def test_toy_models_real_sizes():
    small, large = read_model_size(CHECKPOINTS / "toy-base"), read_model_size(CHECKPOINTS / "toy-large")
    assert (small.parameters, small.pretrain_tokens) == (207872, 25908576 + 5819552 + 7867296)  # all three phases
    assert large.parameters == 1877120
    m = 1877120 / 207872
    assert multiplier(small, large, 0.16) == pytest.approx(m + 3 * (m - 1) / 0.16)
    with pytest.raises(ValueError, match="training_record.json"):
        read_model_size(CHECKPOINTS)


def test_a_public_model_counted_from_its_config_with_the_recipes_tokens(tmp_path):
    """No training_record.json (a hub checkpoint): parameters from config.json alone, tokens from the recipe;
    the count equals the toy base's recorded one, and a missing token count is one error naming the key."""
    folder = tmp_path / "public"
    folder.mkdir()
    shutil.copy(CHECKPOINTS / "toy-base" / "config.json", folder / "config.json")  # no weights, no record
    assert read_model_size(folder, 1.9e13, "large_model") == ModelSize(207872, 19_000_000_000_000)
    with pytest.raises(ConfigError, match="large_model: .*large_tokens"):
        read_model_size(folder, None, "large_model")


def test_matched_budget():
    assert [matched_budget(k, BUDGETS) for k in (257.75, 63.37, 15.77)] == [256, 64, 16]  # the paper's reading
    assert matched_budget(63.37, BUDGETS, "floor") == 32
    assert matched_budget(2 ** 2.5, BUDGETS) == 4  # log2 tie: the smaller
    assert matched_budget(5000, BUDGETS) == 256  # capped
    with pytest.raises(ValueError, match="no budget <="):
        matched_budget(0.5, BUDGETS, "floor")


def greedy(pid, correct):
    return Sample(pid, 0, "x", ["x"], "1", correct, 1, "stop")


def test_greedy_accuracy_per_question_and_bin():
    bins = {"a": 1, "b": 1, "c": 2, "d": 2}
    samples = [greedy("a", True), greedy("b", False), greedy("c", True), greedy("d", True), greedy("e", False)]
    per_question = greedy_accuracy(samples, ["a", "b", "c", "d"])
    assert per_question == {"a": 1.0, "b": 0.0, "c": 1.0, "d": 1.0}
    assert by_bin(per_question, bins) == {1: {"a": 1.0, "b": 0.0}, 2: {"c": 1.0, "d": 1.0}}
    with pytest.raises(ValueError, match="no greedy sample for 1 question"):
        greedy_accuracy(samples[1:], ["a", "b", "c", "d"])


def questions(*values):
    return {f"q{i}": float(v) for i, v in enumerate(values)}


def test_compare_winners_by_the_paired_interval():
    # bin 1: +0.5 on every question (SE 0): test-time compute wins at both R; at 16, +0.25 on 4 questions
    # with differences 0, 0, 0, 1 (SE 0.25, half-width 0.49): a tie. bin 2: -0.5 everywhere at 16.
    small = {1: {16: questions(1, 1, 1, 1), 256: questions(1, 1, 1, 1)}, 2: {16: questions(0, 0, 0, 0),
                                                                        256: questions(1, 1, 1, 0)}}
    large = {1: questions(0.5, 0.5, 0.5, 0.5), 2: questions(0.5, 0.5, 0.5, 0.5)}
    rows = compare(small, large, {0.16: 257.75, 22: 15.77})
    assert [(r.bin, r.ratio, r.budget, r.winner) for r in rows] == [
        (1, 0.16, 256, TTC), (1, 22, 16, TTC), (2, 0.16, 256, TIE), (2, 22, 16, LARGER)]
    tie = rows[2].paired
    assert (tie.diff, tie.n_questions, tie.level) == (0.25, 4, True)
    assert (tie.low, tie.high) == (pytest.approx(0.25 - 1.959964 * 0.25), pytest.approx(0.25 + 1.959964 * 0.25))
    assert compare(small, large, {22: 15.77}, tolerance=0.6)[0].winner == TIE  # a lead of 0.5 is within 0.6
    with pytest.raises(ValueError, match="bin 2 is in only one"):
        compare(small, {1: large[1]}, {1.0: 4})


def test_section_writes_figure_and_table(tmp_path):
    small = {b: {n: questions(*[min(1.0, 0.1 * b + 0.05 * i)] * 2) for i, n in enumerate(BUDGETS)} for b in (1, 2)}
    result, rows = section(small, {1: questions(0.3, 0.3), 2: questions(0.4, 0.4)}, ModelSize(1000, 10**6),
                           ModelSize(14000, 10**6), PAPER_RATIOS, tmp_path)
    assert result.figures == [tmp_path / "flops_matched.png"] and result.figures[0].stat().st_size > 0
    assert "| 0.16 | 257.8 | 257.8 | 256 |" in result.markdown
    assert len(rows) == 6
    assert "| 1 | test-time compute: 0.500 vs 0.300 (+67%); 95% CI +0.200 to +0.200 |" in result.markdown


def test_main_end_to_end(tmp_path):
    ids = [f"q{i}" for i in range(8)]
    fields = dict(answer=None, solution=None, candidates=1, prompt_tokens=0, generated_tokens=0, prm_tokens=None,
                  flops_policy=0, flops_prm=None, seed=0)
    results = [EvalResult(q, "best_of_n", {"n": n, "selection": sel}, n, correct=float(i < 4 or n > 8),
                          generations=n, name=f"Best-of-N {sel}", **fields)
               for n in BUDGETS for sel in ("weighted", "majority") for i, q in enumerate(ids)]
    (tmp_path / "results.jsonl").write_text("".join(to_json(r) + "\n" for r in results))
    bins = {q: 1 if i < 4 else 2 for i, q in enumerate(ids)}
    Bins("oracle", bins, {q: 0.5 for q in ids}, 2).save(tmp_path / "bins.json")
    # the larger model: wrong on all of bin 1, right on all of bin 2
    (tmp_path / "large.jsonl").write_text("".join(to_json(greedy(q, i >= 4)) + "\n" for i, q in enumerate(ids)))
    cfg = FlopsMatchedConfig([str(tmp_path / "results.jsonl")], str(tmp_path / "bins.json"),
                             str(tmp_path / "large.jsonl"), str(tmp_path / "out"),
                             small_model=str(CHECKPOINTS / "toy-base"), large_model=str(CHECKPOINTS / "toy-large"))
    text = main(cfg)
    rows = FlopsMatchedSummary.load(tmp_path / "out" / "flops_matched.json").rows
    # bin 1: always right vs the larger model's wrong: test-time compute wins at every R; bin 2: 0 until N > 8:
    # R=22 -> k ~10.1 -> 8 (larger wins), R=0.16 -> k ~160 -> 128 and R=0.79 -> 32 (level: both right)
    assert [(r.bin, r.budget, r.winner) for r in rows] == [
        (1, 128, TTC), (1, 32, TTC), (1, 8, TTC), (2, 128, TIE), (2, 32, TIE), (2, 8, LARGER)]
    assert rows[5].paired == Paired(0.0, 1.0, -1.0, -1.0, -1.0, 4, 1)
    assert "M = 9.03" in text and (tmp_path / "out" / "flops_matched.png").stat().st_size > 0
