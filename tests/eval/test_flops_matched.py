"""FLOPs-matched comparison: the paper's formulas against hand-computed numbers, the toy models'
real sizes, the matched budget (a k the grid does not reach: no rows), the verifier's FLOPs
counted, per-bin winners, the figure, the summary and the report's sentence, and bad input."""

import json
import shutil
from dataclasses import replace
from typing import Any

import pytest

from data.bins import Bins
from data.config import ConfigError
from data.records import RecordError, Sample, to_json
from eval.flops_matched import (
    LARGER,
    PAPER_RATIOS,
    TIE,
    TTC,
    FlopsMatchedConfig,
    FlopsMatchedSummary,
    GridFlops,
    Match,
    ModelSize,
    by_bin,
    compare,
    flops_findings,
    greedy_accuracy,
    grid_flops,
    main,
    match,
    matched_budget,
    multiplier,
    pretraining_flops,
    read_model_size,
    section,
)
from eval.search_report import EvalResult
from tests.support.runs import REPO
from ttc.lm import forward_flops

CHECKPOINTS = REPO / "train" / "checkpoints"
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
    assert matched_budget(2**2.5, BUDGETS) == 4  # log2 tie: the smaller
    # never capped: past the grid continued by doubling (nearest: > 256 sqrt 2 = 362.04; floor: >= 512) is None
    assert [matched_budget(k, BUDGETS) for k in (362.0, 362.1, 5000)] == [256, None, None]
    assert (matched_budget(511.9, BUDGETS, "floor"), matched_budget(512, BUDGETS, "floor")) == (256, None)
    # below the grid: nearest k <= 1 / sqrt 2 = 0.7071 (a tie goes to the smaller, 1/2), floor k < 1
    assert (matched_budget(0.71, BUDGETS), matched_budget(0.7, BUDGETS)) == (1, None)
    assert (matched_budget(1, BUDGETS, "floor"), matched_budget(0.99, BUDGETS, "floor")) == (1, None)


def record(n, policy, prm, generations=None):
    return EvalResult(
        "q",
        "best_of_n",
        {"n": n, "selection": "weighted"},
        n,
        0,
        None,
        1.0,
        None,
        1,
        n if generations is None else generations,
        0,
        0,
        None,
        policy,
        prm,
        name="Best-of-N weighted",
    )


def test_grid_flops_are_per_generation_ratios_of_sums():
    # policy (100 + 200 + 300) / (1 + 2 + 2) = 120 a generation; the verifier over the records that count it: 60 / 4
    records = [record(1, 100, None), record(2, 200, 40), record(1, 300, 20, generations=2)]
    flops = grid_flops([records[0], record(4, 500, None)])
    assert flops == GridFlops(120.0, None, 2) and flops.factor is None
    flops = grid_flops(records)
    assert flops == GridFlops(120.0, 15.0, 3)
    assert flops.factor == pytest.approx(120 / 135)
    assert GridFlops(0.0, 5.0, 1).factor is None  # no policy FLOPs: no share to take
    with pytest.raises(ConfigError, match="count_verifier: the result records keep no verifier FLOPs"):
        GridFlops(120.0, None, 2).check(count_verifier=True)
    GridFlops(120.0, None, 2).check(count_verifier=False)
    with pytest.raises(ValueError, match="no generations"):
        grid_flops([record(1, 0, None, generations=0)])


def test_the_verifier_counted_k_and_both_budgets():
    # the paper's M = 14; the verifier costs as much as the policy a generation: k_v = k / 2
    small, large = ModelSize(1000, 10**6), ModelSize(14000, 10**6)
    half = GridFlops(300.0, 300.0, 1)
    found = [match(r, multiplier(small, large, r), half, BUDGETS, "nearest", True) for r in PAPER_RATIOS]
    assert [(m.budget, m.budget_verifier, m.made) for m in found] == [(256, 128, True), (64, 32, True), (16, 8, True)]
    assert found[0].k_verifier == pytest.approx(257.75 / 2)
    assert found[0].used(True) == (pytest.approx(128.875), 128) and found[0].used(False) == (257.75, 256)
    # a grid to 128 (reaching 181): R=0.16 is made only with the verifier counted
    m = match(0.16, 257.75, half, BUDGETS[:-1], "nearest", True)
    assert (m.budget, m.budget_verifier, m.made) == (None, 128, True)
    assert not match(0.16, 257.75, half, BUDGETS[:-1], "nearest", False).made
    # a quarter of the FLOPs the verifier's: k_v = 0.75 k = 193.3 -> 256
    assert match(0.16, 257.75, GridFlops(300.0, 100.0, 1), BUDGETS, "nearest", True).k_verifier == pytest.approx(
        193.3125
    )
    with pytest.raises(ConfigError, match="count_verifier"):
        match(0.16, 257.75, GridFlops(300.0, None, 1), BUDGETS, "nearest", True)
    unknown = match(0.16, 257.75, GridFlops(300.0, None, 1), BUDGETS, "nearest", False)
    assert (unknown.k_verifier, unknown.budget_verifier, unknown.made) == (None, None, True)


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
    small = {
        1: {16: questions(1, 1, 1, 1), 256: questions(1, 1, 1, 1)},
        2: {16: questions(0, 0, 0, 0), 256: questions(1, 1, 1, 0)},
    }
    large = {1: questions(0.5, 0.5, 0.5, 0.5), 2: questions(0.5, 0.5, 0.5, 0.5)}
    rows = compare(small, large, {0.16: (257.75, 256), 22: (15.77, 16)})
    assert [(r.bin, r.ratio, r.budget, r.winner) for r in rows] == [
        (1, 0.16, 256, TTC),
        (1, 22, 16, TTC),
        (2, 0.16, 256, TIE),
        (2, 22, 16, LARGER),
    ]
    tie = rows[2].paired
    assert (tie.diff, tie.n_questions, tie.level) == (0.25, 4, True)
    assert (tie.low, tie.high) == (pytest.approx(0.25 - 1.959964 * 0.25), pytest.approx(0.25 + 1.959964 * 0.25))
    assert compare(small, large, {22: (15.77, 16)}, tolerance=0.6)[0].winner == TIE  # a lead of 0.5 is within 0.6
    with pytest.raises(ValueError, match="bin 2 is in only one"):
        compare(small, {1: large[1]}, {1.0: (4, 4)})


def test_section_writes_figure_and_table(tmp_path):
    small = {b: {n: questions(*[min(1.0, 0.1 * b + 0.05 * i)] * 2) for i, n in enumerate(BUDGETS)} for b in (1, 2)}
    result, summary = section(
        small,
        {1: questions(0.3, 0.3), 2: questions(0.4, 0.4)},
        ModelSize(1000, 10**6),
        ModelSize(14000, 10**6),
        PAPER_RATIOS,
        tmp_path,
        GridFlops(300.0, 300.0, 7),
    )
    assert result.figures == [tmp_path / "flops_matched.png"] and result.figures[0].stat().st_size > 0
    assert "| 0.16 | 257.8 | 257.8 | 128.9 | 256 | **128** |" in result.markdown
    assert (
        "k counts the verifier, k_v = k x 0.500: a generation over the grid's 7 records runs the policy 300 FLOPs, "
        "the verifier 300. The rows use the budget in bold"
    ) in result.markdown
    assert len(summary.rows) == 6 and [r.budget for r in summary.rows[:3]] == [128, 32, 8]
    # at 128 (index 7) bin 1 is 0.1 + 0.35
    assert "| 1 | test-time compute: 0.450 vs 0.300 (+50%); 95% CI +0.150 to +0.150 |" in result.markdown


def test_a_k_past_the_grid_makes_no_rows_and_says_so(tmp_path):
    """A grid to 16: at R=0.16 k_v = 128.9 and at 0.79 31.7 (> 16 sqrt 2) are not made, neither capped to 16;
    at R=22 k_v = 7.9 -> 8 (k = 15.8 -> 16 without the verifier). Saved and read back as it was."""
    grid = BUDGETS[:5]
    small = {b: {n: questions(0.5, 0.5) for n in grid} for b in (1, 2)}
    result, summary = section(
        small,
        {1: questions(0.3, 0.3), 2: questions(0.4, 0.4)},
        ModelSize(1000, 10**6),
        ModelSize(14000, 10**6),
        PAPER_RATIOS,
        tmp_path,
        GridFlops(300.0, 300.0, 7),
    )
    assert [(m.budget, m.budget_verifier, m.made) for m in summary.matches] == [
        (None, None, False),
        (None, None, False),
        (16, 8, True),
    ]
    assert [(r.bin, r.ratio, r.budget) for r in summary.rows] == [(1, 22, 8), (2, 22, 8)]
    assert (
        "| 0.16 | 257.8 | 257.8 | 128.9 | not made: the grid stops at 16, k = 257.8 | "
        "**not made: the grid stops at 16, k = 128.9** |" in result.markdown
    )
    assert (
        "| 1 | not made: the grid stops at 16, k = 128.9 | not made: the grid stops at 16, k = 31.7 | "
        "test-time compute: 0.500 vs 0.300" in result.markdown
    )
    summary.save(tmp_path / "flops_matched.json")
    assert FlopsMatchedSummary.load(tmp_path / "flops_matched.json") == summary
    (finding,) = flops_findings(tmp_path)
    assert (
        "With FLOPs matched (k counts the verifier, k_v = k x 0.500: a generation over the grid's" in finding.sentence
    )
    assert (
        "by bin: at R=0.16 not made (the grid stops at 16, k = 128.9); at R=0.79 not made (the grid stops at 16, "
        "k = 31.7); at R=22 (budget 8; 16 with the policy's FLOPs alone): bin 1 ahead"
    ) in finding.sentence
    # policy FLOPs alone: R=22 at 16, the verifier-counted budget shown beside it
    _, alone = section(
        small,
        {1: questions(0.3, 0.3), 2: questions(0.4, 0.4)},
        ModelSize(1000, 10**6),
        ModelSize(14000, 10**6),
        [22],
        tmp_path,
        GridFlops(300.0, 300.0, 7),
        count_verifier=False,
    )
    assert [r.budget for r in alone.rows] == [16, 16]
    alone.save(tmp_path / "flops_matched.json")
    assert "at R=22 (budget 16; 8 with the verifier counted)" in flops_findings(tmp_path)[0].sentence
    assert "k counts the policy's FLOPs alone, not the verifier's" in flops_findings(tmp_path)[0].sentence


def test_summary_version_and_consistency(tmp_path):
    m = Match(22.0, 15.8, 16, 7.9, 8, True)
    FlopsMatchedSummary([m], [], [1, 2], True, GridFlops(1.0, 1.0, 1)).save(tmp_path / "f.json")
    record = json.loads((tmp_path / "f.json").read_text())
    assert (record["format"], record["version"]) == ("ttc.flops_matched", 2)
    assert record["matches"][0] == {
        "ratio": 22.0,
        "k": 15.8,
        "budget": 16,
        "k_verifier": 7.9,
        "budget_verifier": 8,
        "made": True,
    }
    (tmp_path / "f.json").write_text(json.dumps({**record, "version": 1}))
    with pytest.raises(RecordError, match="field 'version' is 1; this code reads 2"):
        FlopsMatchedSummary.load(tmp_path / "f.json")
    row = compare({1: {8: questions(1, 1)}}, {1: questions(0, 0)}, {22.0: (7.9, 8)})
    with pytest.raises(ValueError, match="R=22 has rows but its match was not made"):
        FlopsMatchedSummary([Match(22.0, 15.8, 16, 7.9, None, False)], row, [8], True, GridFlops(1.0, 1.0, 1))


def test_main_end_to_end(tmp_path):
    ids = [f"q{i}" for i in range(8)]
    fields: dict[str, Any] = dict(
        answer=None, solution=None, candidates=1, prompt_tokens=0, generated_tokens=0, prm_tokens=0, seed=0
    )
    # the verifier runs as many FLOPs a generation as the policy: k_v = k / 2
    results = [
        EvalResult(
            q,
            "best_of_n",
            {"n": n, "selection": sel},
            n,
            correct=float(i < 4 or n > 8),
            generations=n,
            name=f"Best-of-N {sel}",
            flops_policy=300 * n,
            flops_prm=300 * n,
            **fields,
        )
        for n in BUDGETS
        for sel in ("weighted", "majority")
        for i, q in enumerate(ids)
    ]
    (tmp_path / "results.jsonl").write_text("".join(to_json(r) + "\n" for r in results))
    bins = {q: 1 if i < 4 else 2 for i, q in enumerate(ids)}
    Bins("oracle", bins, {q: 0.5 for q in ids}, 2).save(tmp_path / "bins.json")
    # the larger model: wrong on all of bin 1, right on all of bin 2
    (tmp_path / "large.jsonl").write_text("".join(to_json(greedy(q, i >= 4)) + "\n" for i, q in enumerate(ids)))
    cfg = FlopsMatchedConfig(
        [str(tmp_path / "results.jsonl")],
        str(tmp_path / "bins.json"),
        str(tmp_path / "large.jsonl"),
        str(tmp_path / "out"),
        small_model=str(CHECKPOINTS / "toy-base"),
        large_model=str(CHECKPOINTS / "toy-large"),
    )
    alone = replace(cfg, output_dir=str(tmp_path / "alone"), count_verifier=False)
    text = main(alone)
    rows = FlopsMatchedSummary.load(tmp_path / "alone" / "flops_matched.json").rows
    # bin 1: always right vs the larger model's wrong: test-time compute wins at every R; bin 2: 0 until N > 8:
    # R=22 -> k ~10.1 -> 8 (larger wins), R=0.16 -> k ~160 -> 128 and R=0.79 -> 32 (level: both right)
    assert [(r.bin, r.budget, r.winner) for r in rows] == [
        (1, 128, TTC),
        (1, 32, TTC),
        (1, 8, TTC),
        (2, 128, TIE),
        (2, 32, TIE),
        (2, 8, LARGER),
    ]
    tie = rows[5].paired
    assert (tie.mean_a, tie.mean_b, tie.diff, tie.low, tie.high, tie.n_questions) == (0.0, 1.0, -1.0, -1.0, -1.0, 4)
    assert "M = 9.03" in text and (tmp_path / "alone" / "flops_matched.png").stat().st_size > 0
    # the verifier counted (the default): k_v ~ 79.8, 19.7, 5.05 -> 64, 16, 4, where bin 2 is still 0
    main(cfg)
    summary = FlopsMatchedSummary.load(tmp_path / "out" / "flops_matched.json")
    assert summary.flops == GridFlops(300.0, 300.0, len(results)) and summary.count_verifier
    assert [(m.budget, m.budget_verifier) for m in summary.matches] == [(128, 64), (32, 16), (8, 4)]
    assert [(r.bin, r.budget, r.winner) for r in summary.rows] == [
        (1, 64, TTC),
        (1, 16, TTC),
        (1, 4, TTC),
        (2, 64, TIE),
        (2, 16, TIE),
        (2, 4, LARGER),
    ]
    assert summary.rows[0].k == pytest.approx(summary.matches[0].k / 2)
    # records without a verifier count: refused before anything is written, unless the verifier is not counted
    (tmp_path / "bare.jsonl").write_text("".join(to_json(replace(r, flops_prm=None)) + "\n" for r in results))
    bare = replace(cfg, results=[str(tmp_path / "bare.jsonl")], output_dir=str(tmp_path / "bare"))
    with pytest.raises(ConfigError, match="count_verifier: the result records keep no verifier FLOPs"):
        main(bare)
    assert not (tmp_path / "bare").exists()
