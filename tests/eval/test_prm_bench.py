"""eval/prm_bench.py: the published ProcessBench and PRMBench metrics on hand-made step values
(expected numbers written out as arithmetic), the threshold rule and its tuning on a split, the
bootstrap intervals and the paired comparison, the outputs (the summary's aggregate numbers, each
item's predictions in predictions.jsonl), and one `ttc bench-prm` run with real verifiers (the
committed toy PRM and the likelihood baseline on the toy base model) on fixture files in
ProcessBench's published layout."""

import json
import random
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from data.config import ConfigError, parse_config
from data.prm_bench import BenchSolution, BenchSteps
from data.records import read_records
from eval.prm_bench import (
    PREDICTIONS,
    BenchPRMConfig,
    BenchSummary,
    ItemRecord,
    StepsRecord,
    compare_prmbench,
    compare_processbench,
    evaluate_prmbench,
    evaluate_processbench,
    first_error,
    main,
    predictions,
    score_prmbench,
    score_processbench,
    step_counts,
    write,
)
from tests.support.runs import REPO
from ttc.pipeline.cli import stage_spec


def solution(id, split, label, steps=3, error_class=None, group=""):
    return BenchSolution(
        id, split, "Compute 1+2.", [f"step {i}" for i in range(steps)], label, label == -1, error_class, group
    )


# gsm8k: 3 erroneous (2 found exactly, 1 flagged a step early), 2 correct (1 left alone); math: the
# one erroneous solution passed as correct, the correct one left alone.
ITEMS = [
    solution("g0", "gsm8k", 1, error_class="slip"),
    solution("g1", "gsm8k", 0, error_class="arithmetic"),
    solution("g2", "gsm8k", 2, error_class="slip"),
    solution("g3", "gsm8k", -1),
    solution("g4", "gsm8k", -1),
    solution("m0", "math", 0, error_class="slip"),
    solution("m1", "math", -1),
]
VALUES = [
    [0.9, 0.2, 0.1],
    [0.3, 0.9, 0.9],
    [0.8, 0.4, 0.1],
    [0.9, 0.8, 0.7],
    [0.9, 0.9, 0.1],
    [0.6, 0.7, 0.8],
    [0.9, 0.9, 0.9],
]


def test_the_threshold_rule_is_the_first_step_below_it():
    assert first_error([0.9, 0.4, 0.2], 0.5) == 1
    assert first_error([0.9, 0.6], 0.5) == -1 and first_error([], 0.5) == -1
    assert first_error([0.5, 0.1], 0.5) == 1  # a value of exactly the threshold counts as correct
    assert [p.predicted for p in predictions(ITEMS, VALUES, 0.5)] == [1, 0, 1, -1, 2, -1, -1]


def test_processbench_metrics_on_hand_made_values():
    r = score_processbench(ITEMS, VALUES, 0.5, resamples=0)
    gsm8k, math = r.splits["gsm8k"], r.splits["math"]
    assert (gsm8k.n_erroneous, gsm8k.n_correct) == (3, 2)
    assert gsm8k.acc_erroneous == pytest.approx(2 / 3) and gsm8k.acc_correct == pytest.approx(1 / 2)
    assert gsm8k.f1.value == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))  # = 4/7
    assert math.acc_erroneous == 0 and math.acc_correct == 1 and math.f1.value == 0  # F1 is 0 when either is
    assert r.average_f1.value == pytest.approx((4 / 7 + 0) / 2)
    assert r.classes["slip"].n == 3 and r.classes["slip"].accuracy.value == pytest.approx(1 / 3)  # g0 of g0, g2, m0
    assert r.classes["arithmetic"].accuracy.value == 1
    assert r.threshold == 0.5 and r.threshold_from == "given"


def test_a_split_without_correct_solutions_has_no_f1_and_no_headline():
    r = score_processbench(ITEMS[:3], VALUES[:3], resamples=0)
    assert r.splits["gsm8k"].acc_correct is None and r.splits["gsm8k"].f1.value is None
    assert r.average_f1.value is None


def test_a_threshold_tuned_on_a_split_maximizes_its_f1_and_applies_to_every_split():
    # errors are valued 0.2, right steps 0.4: at 0.5 every step is flagged, at 0.4 exactly the errors
    items = [solution("a", "gsm8k", 1), solution("b", "gsm8k", -1), solution("c", "math", 0), solution("d", "math", -1)]
    values = [[0.4, 0.2, 0.4], [0.4, 0.4, 0.4], [0.2, 0.4, 0.4], [0.4, 0.4, 0.4]]
    assert score_processbench(items, values, 0.5, resamples=0).average_f1.value == 0  # correct ones all flagged
    tuned = score_processbench(items, values, "gsm8k", resamples=0)
    assert tuned.threshold == pytest.approx(0.4) and tuned.threshold_from == "gsm8k"  # the lowest of the best
    assert tuned.splits["gsm8k"].f1.value == 1 and tuned.splits["math"].f1.value == 1


def test_the_tuned_threshold_is_the_best_of_a_brute_force_search():
    rng = random.Random(0)
    items = [solution(f"g{i}", "gsm8k", rng.choice([-1, 0, 1, 2, 3]), steps=4) for i in range(60)]
    values = [[round(rng.random(), 2) for _ in range(4)] for _ in items]
    candidates = sorted({v for vs in values for v in vs}) + [1.01]
    best = max(
        cast(float, score_processbench(items, values, t, resamples=0).splits["gsm8k"].f1.value) for t in candidates
    )
    tuned = score_processbench(items, values, "gsm8k", resamples=0)
    assert tuned.splits["gsm8k"].f1.value == pytest.approx(best) and best > 0
    assert score_processbench(items, values, tuned.threshold, resamples=0).splits == tuned.splits


def many(n, hit_rate_err, hit_rate_cor, split="gsm8k"):
    """n erroneous (label 0) and n correct solutions, each its own question; the first
    hit_rate x n of each found."""
    items, values = [], []
    for i in range(n):
        items += [
            solution(f"{split}-e{i}", split, 0, group=f"q{i}"),
            solution(f"{split}-c{i}", split, -1, group=f"r{i}"),
        ]
        values += [[0.1 if i < hit_rate_err * n else 0.9] * 3, [0.9 if i < hit_rate_cor * n else 0.1] * 3]
    return items, values


def test_the_bootstrap_interval_is_seeded_brackets_the_f1_and_resamples_groups():
    items, values = many(40, 0.75, 0.5)
    r = score_processbench(items, values, resamples=500, seed=3)
    f1 = r.splits["gsm8k"].f1
    assert f1.value == pytest.approx(2 * 0.75 * 0.5 / 1.25)
    assert f1.low is not None and f1.value is not None and f1.high is not None
    assert f1.low < f1.value < f1.high and f1.high - f1.low < 0.4
    assert score_processbench(items, values, resamples=500, seed=3).splits["gsm8k"].f1 == f1  # seeded
    assert r.average_f1 == f1  # one split: the headline is its F1
    grouped = [
        BenchSolution(s.id, s.split, s.problem, s.steps, s.label, s.final_answer_correct, None, "one") for s in items
    ]
    assert score_processbench(grouped, values, resamples=500).splits["gsm8k"].f1.low is None  # one group: no interval


def test_the_paired_comparison_draws_the_same_groups_for_both_and_says_level_or_ahead():
    items, good = many(40, 0.9, 0.9)
    _, poor = many(40, 0.3, 0.3)
    a, b = predictions(items, good, 0.5), predictions(items, poor, 0.5)
    ahead = compare_processbench(a, b, ("good", "poor"), 300, 0)
    assert [c.metric for c in ahead] == ["gsm8k", "average F1"]
    assert ahead[-1].paired.verdict == "ahead" and ahead[-1].paired.diff == pytest.approx(0.9 - 0.3)
    same = compare_processbench(a, a, ("good", "good"), 300, 0)[-1].paired
    assert same.diff == 0 and same.low == same.high == 0 and same.level  # the same draws for both


def test_a_comparison_pairs_the_two_verifiers_item_by_item():
    items, good = many(10, 1.0, 1.0)
    _, poor = many(10, 0.0, 0.0)
    a, b = predictions(items, good, 0.5), predictions(items, poor, 0.5)
    ahead = compare_processbench(a, b, ("good", "poor"), 0, 0)[-1].paired
    assert (ahead.mean_a, ahead.mean_b) == (1, 0)
    swapped = compare_processbench(a, list(reversed(b)), ("good", "poor"), 0, 0)[-1].paired  # by id, not order
    assert (swapped.mean_a, swapped.mean_b) == (1, 0)
    assert compare_processbench(a[:4], b, ("good", "poor"), 0, 0)[-1].paired.n_questions == 4  # shared items only


def test_evaluate_processbench_summarizes_every_verifier_and_saves_a_typed_summary(tmp_path):
    summary, records = evaluate_processbench(
        ITEMS, {"a": VALUES, "b": [[0.9] * 3] * len(ITEMS)}, 0.5, ["a", "b"], 100, 0
    )
    summary.save(tmp_path / "prm_bench.json")
    loaded = BenchSummary.load(tmp_path / "prm_bench.json")
    assert loaded == summary
    assert loaded.processbench["b"].splits["gsm8k"].f1.value == 0  # never finds an error
    assert [c.metric for c in summary.comparisons] == ["gsm8k", "math", "average F1"]
    assert summary.comparisons[-1].paired.diff == pytest.approx((4 / 7 + 0) / 2 - 0)  # a's average F1 against b's 0
    assert records[0] == ItemRecord("g0", "gsm8k", "g0", 1, "slip", {"a": 1, "b": -1})


def strings(obj) -> set[str]:
    """Every key and string value in decoded JSON."""
    if isinstance(obj, dict):
        return set(obj) | {s for v in obj.values() for s in strings(v)}
    if isinstance(obj, list):
        return {s for v in obj for s in strings(v)}
    return {obj} if isinstance(obj, str) else set()


def test_predictions_go_to_records_one_line_an_item_and_the_summary_keeps_only_aggregates(tmp_path):
    write(*evaluate_processbench(ITEMS, {"a": VALUES, "b": [[0.9] * 3] * len(ITEMS)}, 0.5, ["a", "b"], 20), tmp_path)
    lines = (tmp_path / PREDICTIONS).read_text().splitlines()
    assert len(lines) == len(ITEMS)
    records = read_records(tmp_path / PREDICTIONS, ItemRecord)
    assert [r.id for r in records] == [s.id for s in ITEMS] and [r.label for r in records] == [s.label for s in ITEMS]
    assert [r.predicted for r in records] == [{"a": p, "b": -1} for p in [1, 0, 1, -1, 2, -1, -1]]
    assert [r.error_class for r in records] == [s.error_class for s in ITEMS]
    saved = strings(json.loads((tmp_path / "prm_bench.json").read_text()))
    assert "items" not in saved and not saved & {s.id for s in ITEMS}  # no per-item list in the summary


# --- PRMBench ------------------------------------------------------------------------------------


def steps_item(id, classification, n, errors, group):
    return BenchSteps(id, "Q", [f"s{i}" for i in range(n)], frozenset(errors), classification, group)


PRM_ITEMS = [
    steps_item("circular_0", "circular", 4, {1, 2}, "0"),  # TP 1, TN 1, FP 1, FN 1
    steps_item("counterfactual_0", "counterfactual", 3, {2}, "0"),  # TP 2, TN 1
    steps_item("correct_0", "correct", 2, set(), "0"),  # TP 1, FN 1 (its own class only)
    steps_item("multi_solutions_1", "multi_solutions", 2, set(), "1"),
]  # TP 2
PRM_VALUES = [[0.9, 0.3, 0.8, 0.2], [0.8, 0.7, 0.1], [0.9, 0.4], [0.6, 0.7]]


def test_a_step_is_valid_only_above_the_threshold():
    (counts,) = step_counts([steps_item("x", "circular", 2, {1}, "")], [[0.5, 0.5]], 0.5)
    assert (counts.tp, counts.fp, counts.tn, counts.fn) == (0, 0, 1, 1)  # 0.5 is not > 0.5: judged invalid


def test_prmscore_on_hand_made_values():
    r = score_prmbench(PRM_ITEMS, PRM_VALUES, 0.5, resamples=0)
    # overall, every class but `correct`: TP 5, FP 1, TN 2, FN 1
    assert r.f1_correct == pytest.approx(5 / 6)  # precision 5/6, recall 5/6
    assert r.f1_erroneous == pytest.approx(2 / 3)  # precision 2/(2+1), recall 2/(2+1)
    assert r.prmscore.value == pytest.approx(0.5 * 5 / 6 + 0.5 * 2 / 3)
    assert r.classes["circular"].value == pytest.approx(0.5 * 1 / 2 + 0.5 * 1 / 2)
    assert r.classes["counterfactual"].value == 1
    assert r.classes["multi_solutions"].value == 1  # no erroneous step: F1(correct) alone
    assert r.classes["correct"].value == pytest.approx(2 * 1 * (1 / 2) / (1 + 1 / 2))  # precision 1, recall 1/2
    assert r.groups == {"simplicity": 0.5, "soundness": 1.0, "sensitivity": 1.0}


def test_prmbench_comparison_is_paired_over_the_source_questions():
    items = [steps_item(f"circular_{i}", "circular", 4, {2, 3}, str(i)) for i in range(30)]
    good = [[0.9, 0.9, 0.1, 0.1]] * 30
    poor = [[0.1, 0.9, 0.9, 0.1]] * 30
    a = score_prmbench(items, good, resamples=200)
    assert a.prmscore.value == 1 and a.prmscore.low == a.prmscore.high == 1
    (c,) = compare_prmbench(step_counts(items, good, 0.5), step_counts(items, poor, 0.5), ("good", "poor"), 200, 0)
    assert c.metric == "PRMScore" and c.paired.diff == pytest.approx(1 - 0.5) and c.paired.verdict == "ahead"


def test_prmbench_records_hold_each_items_step_counts_by_verifier(tmp_path):
    other = [[0.9, 0.9, 0.1, 0.1], [0.1, 0.9, 0.9], [0.9, 0.9], [0.9, 0.1]]
    write(*evaluate_prmbench(PRM_ITEMS, {"a": PRM_VALUES, "b": other}, 0.5, ["a", "b"], 20), tmp_path)
    records = read_records(tmp_path / PREDICTIONS, StepsRecord)
    assert [(r.id, r.errors) for r in records] == [
        ("circular_0", [1, 2]),
        ("counterfactual_0", [2]),
        ("correct_0", []),
        ("multi_solutions_1", []),
    ]
    assert [r.counts["a"] for r in records] == [[1, 1, 1, 1], [2, 0, 1, 0], [1, 0, 0, 1], [2, 0, 0, 0]]  # tp fp tn fn
    assert [r.counts["b"] for r in records] == [[1, 1, 1, 1], [1, 1, 0, 1], [2, 0, 0, 0], [1, 0, 0, 1]]
    summary = BenchSummary.load(tmp_path / "prm_bench.json")
    # b overall (every class but correct): TP 3, FP 2, TN 1, FN 3; F1(erroneous) of precision 1/4, recall 1/3
    assert summary.prmbench["b"].f1_erroneous == pytest.approx(2 / 7)
    (c,) = summary.comparisons
    assert c.paired.mean_a == pytest.approx(0.5 * 5 / 6 + 0.5 * 2 / 3)
    assert c.paired.mean_b == pytest.approx(0.5 * 2 * (3 / 5) * (1 / 2) / (3 / 5 + 1 / 2) + 0.5 * 2 / 7)
    assert not strings(json.loads((tmp_path / "prm_bench.json").read_text())) & {i.id for i in PRM_ITEMS}


# --- the command -----------------------------------------------------------------------------------


def toy_processbench(root: Path) -> Path:
    """Two splits of toy-world solutions in ProcessBench's published layout (a JSON array a split)."""
    root.mkdir()
    right, wrong = ["=119-67-20", "=52-20", "=32"], ["=119-67-20", "=53-20", "=33"]
    for split in ("gsm8k", "math"):
        items = [
            {
                "id": f"{split}-{i}",
                "generator": "toy-base",
                "problem": "Compute 23+96-67-20.",
                "steps": steps,
                "final_answer_correct": label == -1,
                "label": label,
            }
            for i, (steps, label) in enumerate([(right, -1), (wrong, 1), (right, -1), (wrong, 1)])
        ]
        (root / f"{split}.json").write_text(json.dumps(items, indent=2))
    return root


def test_bench_prm_is_a_ttc_command_reading_verifier_sections(tmp_path):
    recipe = tmp_path / "bench.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "output_dir": str(tmp_path / "out"),
                "threshold": "gsm8k",
                "verifiers": {"ours": {"kind": "prm", "path": "p"}},
            }
        )
    )
    cfg = parse_config(stage_spec("bench-prm").config, ["--config", str(recipe)])
    assert cfg.verifiers["ours"].kind == "prm" and cfg.threshold == "gsm8k" and cfg.benchmark == "processbench"
    assert parse_config(BenchPRMConfig, ["--config", str(recipe), "--threshold", "0.3"]).threshold == 0.3
    recipe.write_text(yaml.safe_dump({"output_dir": "o", "verifiers": {"bad": {"kind": "nope", "path": "p"}}}))
    with pytest.raises(ConfigError, match=r"verifiers\.bad.*unknown verifier kind 'nope'"):
        parse_config(BenchPRMConfig, ["--config", str(recipe)])
    with pytest.raises(ValueError, match="compare: expected two of the verifiers"):
        BenchPRMConfig(cast("dict[str, Any]", {"a": {"path": "p"}}), "o", compare=["a", "b"])


def test_main_scores_the_toy_prm_and_the_likelihood_baseline_end_to_end(tmp_path):
    data = toy_processbench(tmp_path / "processbench")
    out = tmp_path / "out"
    cfg = BenchPRMConfig(
        verifiers=cast(  # raw sections, as a recipe gives them: __post_init__ builds the VerifierConfigs
            "dict[str, Any]",
            {
                "toy-prm": {"kind": "prm", "path": str(REPO / "train/checkpoints/toy-prm"), "device": "cpu"},
                "likelihood": {"kind": "likelihood", "path": str(REPO / "train/checkpoints/toy-base"), "device": "cpu"},
            },
        ),
        output_dir=str(out),
        data=str(data),
        splits=["gsm8k", "math"],
        compare=["toy-prm", "likelihood"],
        resamples=50,
        max_items=3,
    )
    text = main(cfg)
    summary = BenchSummary.load(out / "prm_bench.json")
    assert set(summary.processbench) == {"toy-prm", "likelihood"} and summary.data == str(data)
    for result in summary.processbench.values():
        assert {s: (v.n_erroneous, v.n_correct) for s, v in result.splits.items()} == {"gsm8k": (1, 2), "math": (1, 2)}
    records = read_records(out / PREDICTIONS, ItemRecord)
    assert len(records) == 6 and all(set(r.predicted) == {"toy-prm", "likelihood"} for r in records)
    assert all(-1 <= p < 3 for r in records for p in r.predicted.values())
    assert [c.metric for c in summary.comparisons] == ["gsm8k", "math", "average F1"]
    assert "| gsm8k | 1 | 2 |" in text and "## toy-prm: threshold 0.5" in text and "comparisons" in text
    assert (out / "prm_bench.md").read_text() == text and (out / "prm_bench.png").stat().st_size > 0


def test_a_verifier_that_flags_no_step_scores_zero_on_the_erroneous_steps_not_nothing():
    """3 correct and 2 erroneous steps, every one judged valid: F1(correct) = 2x3 / (2x3 + 2) = 0.75,
    F1(erroneous) = 0 (they exist, none is found), PRMScore = 0.375; with no erroneous step at all
    and none flagged, F1(erroneous) is undefined."""
    items = [BenchSteps("a", "Q", ["s1", "s2", "s3", "s4", "s5"], frozenset({3, 4}), "counterfactual", "a")]
    r = score_prmbench(items, [[0.9] * 5], resamples=0)
    assert (r.f1_correct, r.f1_erroneous) == (pytest.approx(0.75), 0) and r.prmscore.value == pytest.approx(0.375)
    clean = [BenchSteps("b", "Q", ["s1", "s2"], frozenset(), "multi_solutions", "b")]
    assert score_prmbench(clean, [[0.9, 0.9]], resamples=0).f1_erroneous is None
