"""FLOPs-matched comparison: the paper's formulas against hand-computed numbers, the toy models'
real sizes, the matched budget, per-bin winners, the figure and bad input."""

import json
from pathlib import Path

import pytest

from data.records import Sample, to_json
from eval.flops_matched import (LARGER, PAPER_RATIOS, TIE, TTC, FlopsMatchedConfig, ModelSize, compare,
                                greedy_accuracy, inference_flops, main, matched_budget, multiplier, pretraining_flops,
                                read_model_size, section)
from eval.search_report import EvalResult

CHECKPOINTS = Path(__file__).resolve().parents[2] / "train" / "checkpoints"
BUDGETS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def test_flops_formulas():
    assert pretraining_flops(2, 3) == 36  # 6 N D
    assert inference_flops(2, 3) == 12  # 2 N D


@pytest.mark.parametrize("ratio,k", [(0.16, 257.75), (0.79, 14 + 39 / 0.79), (22, 14 + 39 / 22), (1.0, 53.0)])
def test_paper_multiplier_m14(ratio, k):
    # M + 3 (M - 1) / R with M = 14: ~258, ~63, ~15.8 (paper.md section 7)
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
    assert (small.parameters, small.pretrain_tokens) == (207872, 25908576 + 5819552)  # both phases
    assert large.parameters == 1877120
    m = 1877120 / 207872
    assert multiplier(small, large, 0.16) == pytest.approx(m + 3 * (m - 1) / 0.16)
    with pytest.raises(ValueError, match="training_record.json"):
        read_model_size(CHECKPOINTS)


def test_matched_budget():
    assert [matched_budget(k, BUDGETS) for k in (257.75, 63.37, 15.77)] == [256, 64, 16]  # the paper's reading
    assert matched_budget(63.37, BUDGETS, "floor") == 32
    assert matched_budget(2 ** 2.5, BUDGETS) == 4  # log2 tie: the smaller
    assert matched_budget(5000, BUDGETS) == 256  # capped
    with pytest.raises(ValueError, match="no budget <="):
        matched_budget(0.5, BUDGETS, "floor")


def greedy(pid, correct):
    return Sample(pid, 0, "x", ["x"], "1", correct, 1, "stop")


def test_greedy_accuracy_per_bin():
    bins = {"a": 1, "b": 1, "c": 2, "d": 2}
    samples = [greedy("a", True), greedy("b", False), greedy("c", True), greedy("d", True), greedy("e", False)]
    assert greedy_accuracy(samples, bins, ["a", "b", "c", "d"]) == {1: 0.5, 2: 1.0}
    with pytest.raises(ValueError, match="no greedy sample for 1 question"):
        greedy_accuracy(samples[1:], bins, ["a", "b", "c", "d"])


def test_compare_winners():
    small = {1: {1: 0.5, 16: 0.9, 256: 0.95}, 2: {1: 0.1, 16: 0.3, 256: 0.5}}
    large = {1: 0.8, 2: 0.5}
    rows = compare(small, large, {0.16: 257.75, 22: 15.77})
    assert [(r.bin, r.ratio, r.budget, r.winner) for r in rows] == [
        (1, 0.16, 256, TTC), (1, 22, 16, TTC), (2, 0.16, 256, TIE), (2, 22, 16, LARGER)]
    with pytest.raises(ValueError, match="bin 2 is in only one"):
        compare(small, {1: 0.8}, {1.0: 4})


def test_section_writes_figure_and_table(tmp_path):
    small = {b: {n: min(1.0, 0.1 * b + 0.05 * i) for i, n in enumerate(BUDGETS)} for b in (1, 2)}
    result, rows = section(small, {1: 0.3, 2: 0.4}, ModelSize(1000, 10**6), ModelSize(14000, 10**6),
                           PAPER_RATIOS, tmp_path)
    assert result.figures == [tmp_path / "flops_matched.png"] and result.figures[0].stat().st_size > 0
    assert "| 0.16 | 257.8 | 257.8 | 256 |" in result.markdown
    assert len(rows) == 6 and "| 1 | test-time compute: 0.500 vs 0.300 (+67%)" in result.markdown


def test_main_end_to_end(tmp_path):
    questions = [f"q{i}" for i in range(4)]
    fields = dict(answer=None, solution=None, candidates=1, prompt_tokens=0, generated_tokens=0, prm_tokens=None,
                  flops_policy=0, flops_prm=None, seed=0)
    results = [EvalResult(q, "best_of_n", {"n": n, "selection": sel}, n, correct=float(i < 2 or n > 8),
                          generations=n, name=f"Best-of-N {sel}", **fields)
               for n in BUDGETS for sel in ("weighted", "majority") for i, q in enumerate(questions)]
    (tmp_path / "results.jsonl").write_text("".join(to_json(r) + "\n" for r in results))
    (tmp_path / "bins.json").write_text(json.dumps({"bins": {"q0": 1, "q1": 1, "q2": 2, "q3": 2}}))
    (tmp_path / "large.jsonl").write_text("".join(to_json(greedy(q, q != "q3")) + "\n" for q in questions))
    cfg = FlopsMatchedConfig([str(tmp_path / "results.jsonl")], str(tmp_path / "bins.json"),
                             str(tmp_path / "large.jsonl"), str(tmp_path / "out"),
                             small_model=str(CHECKPOINTS / "toy-base"), large_model=str(CHECKPOINTS / "toy-large"))
    text = main(cfg)
    rows = json.loads((tmp_path / "out" / "flops_matched.json").read_text())
    # bin 2: 0 until N > 8; R=22 -> k ~10.1 -> 8 (larger wins), R=0.16 -> k ~160 -> 128 (test-time compute wins)
    assert [(r["bin"], r["budget"], r["winner"]) for r in rows] == [
        (1, 128, TIE), (1, 32, TIE), (1, 8, TIE), (2, 128, TTC), (2, 32, TTC), (2, 8, LARGER)]
    assert "M = 9.03" in text and (tmp_path / "out" / "flops_matched.png").stat().st_size > 0
