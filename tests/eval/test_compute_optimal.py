"""Compute-optimal selection on hand-built SearchResult records: method labels, 2-fold CV that
picks on one fold and scores on the other, the best fixed method on the same folds, the
allocation across bins (against brute force, on the same folds, its policy), spent generations,
the efficiency ratios, the policy, figures, the report's sentences, bad input."""

import itertools
import json
from typing import cast

import numpy as np
import pytest

from data.bins import Bins
from data.config import ConfigError
from data.records import RecordError, to_json
from data.shards import write_settings
from eval.compute_optimal import (
    ALLOCATED,
    CO,
    FIXED,
    MAJORITY,
    WEIGHTED,
    ComputeOptimalConfig,
    ComputeOptimalSummary,
    MethodsConfig,
    allocate,
    analyse,
    build_grid,
    compute_optimal_findings,
    efficiency,
    fit_policy,
    fitted_models,
    headline,
    main,
    method_label,
    method_spec,
    options_of,
    read_results,
    spent_headline,
    split_folds,
)
from eval.paired import Ratio, paired
from eval.search_report import EvalResult
from tests.support.runs import REPO
from ttc.policy import Policy, model_digest
from ttc.search.tree import TreeConfig

METHODS = {  # name -> (strategy, params other than n, seed and width)
    "bon_w": ("best_of_n", {"selection": "weighted"}),
    "bon_maj": ("best_of_n", {"selection": "majority"}),
    "beam_sqrt": ("beam", {"selection": "weighted", "beam_width": "sqrt", "lookahead": 0}),
    "beam_4": ("beam", {"selection": "weighted", "beam_width": 4, "lookahead": 0}),
}
BON_W, BON_MAJ, BEAM_SQRT, BEAM_4 = METHODS


def rec(pid, method, n, correct, seed=0, k=0, spent=None):
    strategy, params = METHODS[method] if isinstance(method, str) else method
    return {
        "problem_id": pid,
        "strategy": strategy,
        "params": {**params, "n": n, "seed": seed, "width": 2},
        "budget": n,
        "generations": n * (k + 1),
        "seed": seed,
        "correct": float(correct),
        **({} if spent is None else {"spent": spent}),
    }


def grid_records(table, questions):
    """Records from {method: {budget: [correct per question]}}."""
    return [
        rec(q, method, n, c)
        for method, by_n in table.items()
        for n, cs in by_n.items()
        for q, c in zip(questions, cs, strict=True)
    ]


def binned(bins, kind="oracle", num_bins=5):
    """Bins whose values follow them (bin 1 highest), as eval/difficulty cuts them."""
    return Bins(kind, bins, {q: 1 - b / 10 for q, b in bins.items()}, num_bins)


def test_method_label_ignores_budget_run_keys_and_derived_values():
    a = method_spec(rec("q", BEAM_SQRT, 4, 1))
    b = method_spec(rec("q", BEAM_SQRT, 16, 0, seed=3))
    assert a == b == {"strategy": "beam", "selection": "weighted", "beam_width": "sqrt", "lookahead": 0}
    assert method_label(a) == 'beam(beam_width="sqrt", lookahead=0, selection="weighted")'
    assert method_label(a) != method_label(method_spec(rec("q", BEAM_4, 4, 1)))
    revision = {"strategy": "revision", "params": {"n": 8, "seed": 0, "ratio": 1.0, "chains": 2, "length": 4}}
    assert method_spec(revision) == {"strategy": "revision", "ratio": 1.0}  # the chain split follows from n
    with pytest.raises(ValueError, match="strategy 'magic' is not one of"):
        method_spec({"strategy": "magic", "params": {}})


def test_budget_is_generations_with_lookahead():
    lookahead = ("beam", {"selection": "weighted", "beam_width": "sqrt", "lookahead": 1})  # k = 1
    records = [rec("q", lookahead, 2, 1, k=1)]
    assert list(build_grid(records, MethodsConfig()).acc)[0][1] == 4  # N(k+1)
    assert list(build_grid(records, MethodsConfig(budget_field="budget")).acc)[0][1] == 2


def test_accuracy_is_mean_over_seeds_then_questions():
    records = [rec("a", BON_W, 1, 1, seed=0), rec("a", BON_W, 1, 0, seed=1), rec("b", BON_W, 1, 1)]
    grid = build_grid(records, MethodsConfig())
    assert grid.acc[(grid.find(METHODS[BON_W][1], "w"), 1)].tolist() == [0.5, 1.0]


def test_split_folds_seeded_disjoint_half():
    idx = np.arange(3, 10)
    a, b = split_folds(idx, seed=0, bin_=2)
    assert len(a) == 4 and len(b) == 3 and sorted([*a, *b]) == list(idx)
    assert [x.tolist() for x in split_folds(idx[::-1], 0, 2)] == [a.tolist(), b.tolist()]  # input order irrelevant
    assert any(split_folds(idx, s, 2)[0].tolist() != a.tolist() for s in range(1, 6))


def cv_case():
    """One bin of 4 questions where the method best on fold A is worst on fold B: X wins on A
    (2/2 vs 1/2), Y wins on B (2/2 vs 0/2) and on all questions (3/4 vs 2/4)."""
    questions = ["q0", "q1", "q2", "q3"]
    bins = {q: 1 for q in questions}
    fold_a, fold_b = split_folds(np.arange(4), MethodsConfig().seed, 1)
    x, y = np.zeros(4), np.zeros(4)
    x[fold_a] = 1
    y[fold_a[0]] = 1
    y[fold_b] = 1
    table = {BON_W: {4: [0, 0, 0, 0]}, BON_MAJ: {4: [0, 0, 0, 0]}, BEAM_4: {4: x}, BEAM_SQRT: {4: y}}
    return grid_records(table, questions), bins, BEAM_4, BEAM_SQRT


def test_cv_scores_each_fold_with_the_other_folds_choice():
    records, bins, meth_x, meth_y = cv_case()
    grid = build_grid(records, MethodsConfig())
    a = analyse(grid, binned(bins), MethodsConfig())
    label = {m: method_label(method_spec(rec("q", m, 4, 0))) for m in (meth_x, meth_y)}
    assert a.folds[1][4] == (label[meth_x], label[meth_y])  # chosen on A, chosen on B
    # fold B scored by X (0/2), fold A by Y (1/2): 1 of 4; choosing in-sample would give 3/4
    assert a.per_bin[1][CO][4] == a.overall[CO][4] == 0.25
    assert a.policy[1][4] == (label[meth_y], 0.75)


def test_majority_never_chosen_and_ties_go_to_the_first_label():
    questions = ["q0", "q1"]
    table = {BON_W: {1: [0, 1]}, BON_MAJ: {1: [1, 1]}, BEAM_SQRT: {1: [0, 1]}}
    grid = build_grid(grid_records(table, questions), MethodsConfig())
    a = analyse(grid, binned({"q0": 1, "q1": 1}), MethodsConfig())
    assert a.policy[1][1][0].startswith("beam(")  # tied with best-of-N; "beam" sorts first; majority excluded
    assert a.overall[MAJORITY][1] == 1.0 and a.overall[CO][1] == 0.5


def efficiency_grid():
    """Two bins of 4; beam sqrt is perfect everywhere, best-of-N weighted reaches it at 4."""
    questions = [f"q{i}" for i in range(8)]
    bins = {q: 1 + i // 4 for i, q in enumerate(questions)}
    table = {
        BON_W: {1: [1, 1, 0, 0] * 2, 2: [1, 1, 1, 0] * 2, 4: [1] * 8},
        BON_MAJ: {1: [1, 0, 0, 0] * 2, 2: [1, 1, 0, 0] * 2, 4: [1, 1, 1, 0] * 2},
        BEAM_SQRT: {1: [1] * 8, 2: [1] * 8, 4: [1] * 8},
        BEAM_4: {4: [0] * 8},
    }  # beam M=4 runs only at N >= 4
    return grid_records(table, questions), bins


def test_curves_and_efficiency_ratio():
    records, bins = efficiency_grid()
    a = analyse(build_grid(records, MethodsConfig()), binned(bins), MethodsConfig())
    assert a.budgets == [1, 2, 4]
    assert a.overall[CO] == {1: 1.0, 2: 1.0, 4: 1.0}
    assert a.overall[WEIGHTED] == {1: 0.5, 2: 0.75, 4: 1.0}
    assert a.per_bin[2][MAJORITY] == {1: 0.25, 2: 0.5, 4: 0.75}
    assert a.efficiency == {1: 1, 2: 1, 4: 1}
    assert headline(a.efficiency) == (4, 1, 4.0)
    # per question, for paired intervals: best-of-N weighted at 1 is right on q0, q1 of each bin
    assert a.per_question[WEIGHTED][1] == {f"q{i}": float(i % 4 < 2) for i in range(8)}
    assert a.per_question[CO][4] == {f"q{i}": 1.0 for i in range(8)} and a.bins["q5"] == 2
    # compute-optimal is perfect at N=1 on any resample of the questions: 4x on every one
    assert (a.spread.match, a.spread.low, a.spread.high, a.spread.n_questions, a.spread.wide) == (1, 4.0, 4.0, 8, False)


def test_efficiency_by_hand():
    co = {1: 0.2, 2: 0.3, 4: 0.5, 8: 0.6, 16: 0.62}
    bon = {1: 0.1, 2: 0.2, 4: 0.3, 8: 0.5, 16: 0.61}
    assert efficiency(co, bon) == {1: 1, 2: 1, 4: 2, 8: 4, 16: 16}
    assert headline(efficiency(co, bon)) == (16, 16, 1.0)
    assert efficiency(co, bon, tolerance=0.02)[16] == 8  # 0.6 >= 0.61 - 0.02
    assert headline(efficiency(co, {1: 0.9})) == (1, None, None)


def test_the_policy_has_runnable_settings_and_with_predicted_bins_their_edges_and_probe(tmp_path):
    records, bins = efficiency_grid()
    grid = build_grid(records, MethodsConfig())
    oracle = fit_policy(grid, analyse(grid, binned(bins), MethodsConfig()), binned(bins), MethodsConfig())
    entry = oracle.table[2][4]
    assert entry.strategy == "beam" and entry.params == {
        "selection": "weighted",
        "beam_width": "sqrt",
        "lookahead": 0,
        "n": 4,
    }  # no seed, no derived width
    assert entry.accuracy == 1.0 and cast(TreeConfig, entry.config("e")).width == 2
    assert (oracle.kind, oracle.budget_field, oracle.edges, oracle.probe) == ("oracle", "generations", None, None)
    predicted_bins = binned(bins, "predicted", num_bins=2)
    predicted = fit_policy(grid, analyse(grid, predicted_bins, MethodsConfig()), predicted_bins, MethodsConfig())
    assert predicted.edges == pytest.approx([0.85])  # bin 1 holds 0.9, bin 2 0.8
    assert predicted.probe == {"temperature": 0.8, "top_p": 1.0, "max_tokens": 1024, "stop": []}  # best-of-N's
    predicted.save(tmp_path / "policy.json")
    assert Policy.load(tmp_path / "policy.json") == predicted
    record = json.loads((tmp_path / "policy.json").read_text())
    record["table"]["1"]["1"] = {
        "method": "bon",
        "strategy": "best_of_n",
        "params": {"n": 1, "max_tokens": 8},
        "accuracy": 1.0,
    }
    (tmp_path / "policy.json").write_text(json.dumps(record))
    with pytest.raises(
        RecordError,
        match=r"policy.json: table.1.1.params: best-of-N samples with .*'max_tokens': 8.*"
        r"the probe \(which joins its pool\) with .*'max_tokens': 1024",
    ):
        Policy.load(tmp_path / "policy.json")


def test_bad_input():
    records, bins = efficiency_grid()
    cfg = MethodsConfig()
    with pytest.raises(ValueError, match="no result records"):
        build_grid([], cfg)
    with pytest.raises(ValueError, match="a second result for problem q0"):
        build_grid(records + records[:1], cfg)
    with pytest.raises(ValueError, match=r"at budget 4: no result for 1 of 8 question\(s\), e.g. q7"):
        build_grid(
            [r for r in records if not (r["problem_id"] == "q7" and r["strategy"] == "beam" and r["generations"] == 4)],
            cfg,
        )
    with pytest.raises(ValueError, match=r"missing field\(s\) \['correct'\]"):
        build_grid([{k: v for k, v in records[0].items() if k != "correct"}], cfg)
    holed = [r for r in records if not (r["strategy"] == "beam" and r["generations"] == 2)]
    with pytest.raises(ValueError, match=r"budgets \[1, 4\] but none at \[2\]"):
        analyse(build_grid(holed, cfg), binned(bins), cfg)
    grid = build_grid(records, cfg)
    with pytest.raises(ValueError, match="no difficulty bin, e.g. q7"):
        analyse(grid, binned({q: b for q, b in bins.items() if q != "q7"}), cfg)
    with pytest.raises(ValueError, match="problem q7 has bin 6"):
        binned({**bins, "q7": 6})
    with pytest.raises(ValueError, match="bin 3 has fewer than 2 questions"):
        analyse(grid, binned({**bins, "q7": 3}), cfg)
    with pytest.raises(ValueError, match="best-of-N weighted: 0 methods match"):
        analyse(
            build_grid(
                [r for r in records if r["params"]["selection"] != "weighted" or r["strategy"] != "best_of_n"], cfg
            ),
            binned(bins),
            cfg,
        )
    with pytest.raises(ValueError, match="majority: 3 methods match"):
        analyse(grid, binned(bins), MethodsConfig(majority={"selection": "weighted"}))


# what a results record holds beside the grid's fields: no ledger (the analyses read accuracy only)
NO_LEDGER = dict(
    answer=None,
    solution=None,
    candidates=1,
    prompt_tokens=0,
    generated_tokens=0,
    prm_tokens=None,
    flops_policy=0,
    flops_prm=None,
)


def write_results(path, records):
    """Grid records as a `ttc eval` results file."""
    lines = (to_json(EvalResult(**{**r, **NO_LEDGER}, name=method_label(method_spec(r)))) for r in records)
    path.write_text("".join(line + "\n" for line in lines))


def write_inputs(tmp_path, name="results.jsonl"):
    """efficiency_grid's records as a `ttc eval` results file, and its bins of both kinds."""
    records, bins = efficiency_grid()
    results = tmp_path / name
    write_results(results, records)
    bin_files = {}
    for kind in ("oracle", "predicted"):
        bin_files[kind] = str(tmp_path / f"bins_{kind}.json")
        binned(bins, kind, num_bins=2).save(bin_files[kind])
    return results, bin_files


@pytest.mark.e2e
def test_main_writes_tables_policy_and_figures(tmp_path):
    results, bin_files = write_inputs(tmp_path)
    with pytest.raises(ConfigError, match="bins.oracle: .*bins_predicted.json holds predicted bins"):
        main(ComputeOptimalConfig([str(results)], {"oracle": bin_files["predicted"]}, str(tmp_path / "out")))
    text = main(ComputeOptimalConfig([str(results)], bin_files, str(tmp_path / "out")))
    assert "| compute-optimal (oracle bins) | 1.000 | 1.000 | 1.000 |" in text
    assert "| best-of-N weighted | 0.500 | 0.750 | 1.000 |" in text
    assert "with 1: 4x less compute (bootstrap 95% range over 8 questions: 4x to 4x)" in text
    out = tmp_path / "out"
    for name in (
        "compute_optimal.png",
        "efficiency.png",
        "compute_optimal_bins_oracle.png",
        "compute_optimal_bins_predicted.png",
        "compute_optimal.md",
        "compute_optimal.json",
        "config.yaml",
    ):
        assert (out / name).stat().st_size > 0, name
    assert Policy.load(out / "policy_predicted.json").table[1][1].strategy == "beam"
    assert Policy.load(out / "policy_predicted.json").models is None  # no settings beside the results: unknown
    oracle, predicted = ComputeOptimalSummary.load(out / "compute_optimal.json").analyses
    assert (oracle.kind, predicted.kind) == ("oracle", "predicted")
    assert oracle.per_question[WEIGHTED][2] == {f"q{i}": float(i % 4 < 3) for i in range(8)}
    assert oracle.bins["q0"] == 1 and oracle.seeds == 1
    assert oracle.spread == Ratio(budget=4, match=1, low=4.0, high=4.0, n_questions=8, n_seeds=1)
    assert oracle == analyse(
        build_grid(read_results([str(results)]), MethodsConfig()), Bins.load(bin_files["oracle"]), MethodsConfig()
    )  # as analysed, tuples and all


# --- the best fixed method, on the same folds ---------------------------------------------------
def label_of(method):
    return method_label(method_spec(rec("q", method, 1, 0)))


def by_bin_grid():
    """Two bins of 4: best-of-N weighted is perfect on bin 1 and wrong on bin 2, beam sqrt the
    reverse, at budgets 1 and 2: selection per bin is perfect, one method for both is half right."""
    questions = [f"q{i}" for i in range(8)]
    table = {m: {n: [float((i < 4) == (m == BON_W)) for i in range(8)] for n in (1, 2)} for m in (BON_W, BEAM_SQRT)}
    table[BON_MAJ] = {1: [0] * 8, 2: [0] * 8}
    return grid_records(table, questions), {q: 1 + i // 4 for i, q in enumerate(questions)}


TOY_BASE, TOY_PRM = str(REPO / "train/checkpoints/toy-base"), str(REPO / "train/checkpoints/toy-prm")


@pytest.mark.e2e
def test_the_policy_records_the_models_its_results_were_measured_with(tmp_path):
    results, bin_files = write_inputs(tmp_path)
    search = {"lm.model": TOY_BASE, "prm.path": TOY_PRM, "strategies": {"bon": {"strategy": "best_of_n"}}}
    write_settings(tmp_path / "results.settings.json", search)  # as `ttc eval` saves them beside its results
    main(ComputeOptimalConfig([str(results)], bin_files, str(tmp_path / "out")))
    fitted = {
        "lm": {"path": TOY_BASE, "digest": model_digest(TOY_BASE)},
        "prm": {"path": TOY_PRM, "digest": model_digest(TOY_PRM)},
    }
    for name in ("policy_predicted.json", "policy_predicted_allocated.json", "policy_oracle.json"):
        assert Policy.load(tmp_path / "out" / name).models == fitted, name
    assert fitted["lm"]["digest"] != fitted["prm"]["digest"]
    # a revision grid's lm and prm are the reviser and the ORM
    (tmp_path / "rev").mkdir()
    write_settings(
        tmp_path / "rev" / "results.settings.json", {**search, "strategies": {"rev": {"strategy": "revision"}}}
    )
    both = fitted_models([str(results), str(tmp_path / "rev" / "results.jsonl")])
    assert both == {**fitted, "reviser": fitted["lm"], "orm": fitted["prm"]}
    # two files measured with another PRM: refused, naming both
    (tmp_path / "other").mkdir()
    write_settings(tmp_path / "other" / "results.settings.json", {**search, "prm.path": TOY_BASE})
    with pytest.raises(
        ConfigError,
        match=rf"results: .*other/results.jsonl was measured with prm {TOY_BASE}, "
        rf"another file with prm {TOY_PRM}: ",
    ):
        fitted_models([str(results), str(tmp_path / "other" / "results.jsonl")])


def test_compute_optimal_beats_the_best_fixed_method_when_the_best_method_differs_by_bin():
    records, bins = by_bin_grid()
    a = analyse(build_grid(records, MethodsConfig()), binned(bins), MethodsConfig())
    assert a.overall[CO] == {1: 1.0, 2: 1.0} and a.overall[FIXED] == {1: 0.5, 2: 0.5}
    assert a.fixed[2] == (label_of(BEAM_SQRT),) * 2  # tied on each fold (2 of 4 right): the first label
    assert a.per_bin[1][FIXED] == {1: 0.0, 2: 0.0} and a.per_bin[2][FIXED] == {1: 1.0, 2: 1.0}
    gain = paired(a.per_question[CO][2], a.per_question[FIXED][2])
    assert (gain.diff, gain.verdict) == (0.5, "ahead")


def test_the_best_fixed_method_is_chosen_on_the_union_of_every_bins_fold():
    """X is right on every bin's fold A and on one question of fold B; Y on all of fold B: X is
    chosen on A, Y on B, so fold A is scored by Y (0 right) and fold B by X (1 right of 4)."""
    records, bins = by_bin_grid()
    grid = build_grid(records, MethodsConfig())
    folds = [split_folds(np.arange(4 * (b - 1), 4 * b), 0, b) for b in (1, 2)]
    fold_a, fold_b = np.concatenate([f[0] for f in folds]), np.concatenate([f[1] for f in folds])
    x, y = np.zeros(8), np.zeros(8)
    x[fold_a], x[fold_b[0]], y[fold_b] = 1, 1, 1
    table = {BON_W: {2: [0] * 8}, BON_MAJ: {2: [0] * 8}, BEAM_4: {2: x}, BEAM_SQRT: {2: y}}
    a = analyse(build_grid(grid_records(table, grid.questions), MethodsConfig()), binned(bins), MethodsConfig())
    assert a.fixed[2] == (label_of(BEAM_4), label_of(BEAM_SQRT))
    assert a.overall[FIXED][2] == 1 / 8
    assert a.per_question[FIXED][2] == {q: float(i == fold_b[0]) for i, q in enumerate(grid.questions)}


def test_compute_optimal_equals_the_best_fixed_method_when_one_method_is_best_everywhere():
    questions = [f"q{i}" for i in range(8)]
    table = {
        BEAM_SQRT: {1: [1, 1, 0, 1, 1, 0, 1, 0], 2: [1] * 7 + [0]},
        BON_W: {1: [1, 0, 0, 0, 1, 0, 0, 0], 2: [1, 0, 0, 1, 1, 0, 0, 0]},
        BON_MAJ: {1: [0] * 8, 2: [0] * 8},
    }
    a = analyse(
        build_grid(grid_records(table, questions), MethodsConfig()),
        binned({q: 1 + i // 4 for i, q in enumerate(questions)}),
        MethodsConfig(),
    )
    assert a.per_question[CO] == a.per_question[FIXED] and a.overall[CO] == a.overall[FIXED]
    assert all(p == (label_of(BEAM_SQRT),) * 2 for p in a.fixed.values())
    same = paired(a.per_question[CO][2], a.per_question[FIXED][2])
    assert (same.diff, same.verdict) == (0.0, "level")


# --- spent generations --------------------------------------------------------------------------
def test_the_grid_keeps_spent_generations_and_falls_back_to_the_budget():
    lookahead = ("beam", {"selection": "weighted", "beam_width": "sqrt", "lookahead": 1})
    records = [
        rec("a", BEAM_SQRT, 4, 1, spent=3.0),
        rec("a", BEAM_SQRT, 4, 1, seed=1, spent=2.0),
        rec("b", BEAM_SQRT, 4, 0),
        rec("a", lookahead, 2, 1, k=1, spent=2.0),
        rec("b", lookahead, 2, 1, k=1),
    ]
    grid = build_grid(records, MethodsConfig())
    beam, ahead = label_of(BEAM_SQRT), method_label(method_spec(records[3]))
    assert grid.spent[(beam, 4)].tolist() == [2.5, 4.0]  # mean over a's seeds; b's record has none: its budget
    assert grid.spent[(ahead, 4)].tolist() == [2.0, 4.0]  # in generations, N(k+1)
    by_n = build_grid(records, MethodsConfig(budget_field="budget"))
    assert by_n.spent[(ahead, 2)].tolist() == [1.0, 2.0]  # 2 of N(k+1) = 4 generations: half of N = 2
    results = [
        EvalResult(
            **{**r, "spent": r.get("spent")},
            answer=None,
            solution=None,
            candidates=1,
            prompt_tokens=0,
            generated_tokens=0,
            prm_tokens=None,
            flops_policy=0,
            flops_prm=None,
            name="beam",
        )
        for r in records[:3]
    ]  # records of `ttc eval`: spent None where not adaptive
    assert build_grid(results, MethodsConfig()).spent[("beam", 4)].tolist() == [2.5, 4.0]


# --- allocation across bins ---------------------------------------------------------------------
def random_grid(seed=0, bins=3, per_bin=3, budgets=(1, 2, 4, 8)):
    """Random accuracies (two seeds: halves) and spent generations (<= the budget) for three methods."""
    rng = np.random.default_rng(seed)
    questions = [f"q{i}" for i in range(bins * per_bin)]
    records = [
        rec(q, m, n, rng.integers(0, 2), seed=s, spent=float(rng.uniform(0.5, 1.0) * n))
        for m in (BON_W, BEAM_SQRT, BEAM_4)
        for n in budgets
        for q in questions
        for s in (0, 1)
    ]
    records += [rec(q, BON_MAJ, n, 0, seed=s) for n in budgets for q in questions for s in (0, 1)]
    grid = build_grid(records, MethodsConfig())
    by_bin = {b: np.arange(b * per_bin, (b + 1) * per_bin) for b in range(bins)}
    return grid, by_bin, options_of(grid, sorted(set(grid.methods) - {label_of(BON_MAJ)}), list(budgets))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_allocation_is_the_best_of_every_combination(seed):
    grid, by_bin, options = random_grid(seed)
    for budget in (1, 2, 3, 4, 8):
        chosen = allocate(grid, options, by_bin, budget)
        n = sum(len(idx) for idx in by_bin.values())

        def total(combo, what):
            return sum(float(what[o][idx].sum()) for o, idx in zip(combo, by_bin.values()))

        feasible = [
            c for c in itertools.product(options, repeat=len(by_bin)) if total(c, grid.spent) <= budget * n + 1e-9
        ]
        best = max(total(c, grid.acc) for c in feasible)
        combo = tuple(chosen.values())
        assert total(combo, grid.spent) <= budget * n + 1e-9
        assert total(combo, grid.acc) == pytest.approx(best)
        cheapest = min(total(c, grid.spent) for c in feasible if total(c, grid.acc) >= best - 1e-9)
        assert total(combo, grid.spent) == pytest.approx(cheapest)  # ties: the least spent


def test_an_allocation_no_option_fits_is_an_error():
    grid, by_bin, options = random_grid()
    with pytest.raises(ValueError, match="allocation at budget 0: no option of some bin spends <= 0"):
        allocate(grid, options, by_bin, 0)


def shifting_grid():
    """Bin 1 (6 questions) is solved by every method at 1; bin 2 (2 questions) only by beam sqrt
    at 4: at an average of 2 the allocation gives bin 1 one and bin 2 four (mean 1.75)."""
    questions = [f"q{i}" for i in range(8)]
    easy = [1] * 6 + [0, 0]
    table = {
        BON_W: {n: easy for n in (1, 2, 4)},
        BON_MAJ: {n: easy for n in (1, 2, 4)},
        BEAM_SQRT: {1: easy, 2: easy, 4: [1] * 8},
    }
    return grid_records(table, questions), {q: 1 if i < 6 else 2 for i, q in enumerate(questions)}


def test_the_allocation_moves_budget_to_hard_bins_and_is_fit_on_the_same_folds():
    records, bins = shifting_grid()
    grid = build_grid(records, MethodsConfig())
    a = analyse(grid, binned(bins), MethodsConfig())
    beam = label_of(BEAM_SQRT)
    assert a.overall[CO] == {1: 0.75, 2: 0.75, 4: 1.0} and a.overall[ALLOCATED] == {1: 0.75, 2: 1.0, 4: 1.0}
    assert a.allocated_policy[2][2] == (beam, 4, 1.0) and a.allocated_policy[1][2][1] == 1
    assert a.spent[ALLOCATED] == {1: 1.0, 2: 1.75, 4: 1.75} and a.spent[CO] == {1: 1.0, 2: 2.0, 4: 4.0}
    # each fold's allocation is the one `allocate` fits on that fold of every bin, scored on the other fold
    splits = {b: split_folds(np.array([i for i, q in enumerate(grid.questions) if bins[q] == b]), 0, b) for b in (1, 2)}
    options = options_of(grid, sorted(set(grid.methods) - {label_of(BON_MAJ)}), a.budgets)
    for budget in a.budgets:
        fits = [allocate(grid, options, {b: s[side] for b, s in splits.items()}, budget) for side in (0, 1)]
        assert a.allocation[budget] == tuple(fits)
        for b, (fold_a, fold_b) in splits.items():
            for fit, fold in ((fits[1], fold_a), (fits[0], fold_b)):
                assert [a.per_question[ALLOCATED][budget][grid.questions[i]] for i in fold] == grid.acc[fit[b]][
                    fold
                ].tolist()
    # it matches best-of-N weighted at 4 (0.75) at average budget 1, where it spends 1
    assert a.allocated_efficiency == {1: 1, 2: 1, 4: 1}
    assert spent_headline(a.allocated_efficiency, a.spent[ALLOCATED]) == (4, 1.0, 4.0)


def test_the_allocations_efficiency_is_on_its_mean_spent_generations():
    records, bins = efficiency_grid()  # beam sqrt is perfect at every budget; here it draws half of it
    records = [{**r, "spent": r["generations"] / 2} if r["strategy"] == "beam" else r for r in records]
    a = analyse(build_grid(records, MethodsConfig()), binned(bins), MethodsConfig())
    assert a.spent[ALLOCATED] == {1: 0.5, 2: 0.5, 4: 0.5}  # ties: the least spent, beam at 1
    assert spent_headline(a.allocated_efficiency, a.spent[ALLOCATED]) == (4, 0.5, 8.0)
    assert a.allocated_spread == Ratio(budget=4, match=1, low=8.0, high=8.0, n_questions=8, n_seeds=1)
    off = analyse(build_grid(records, MethodsConfig()), binned(bins), MethodsConfig(allocate=False))
    assert ALLOCATED not in off.overall and off.allocated_spread is None and not off.allocated_policy


def test_the_allocated_policy_holds_each_bins_own_budget_and_round_trips(tmp_path):
    records, bins = shifting_grid()
    grid = build_grid(records, MethodsConfig())
    predicted_bins = binned(bins, "predicted", num_bins=2)
    a = analyse(grid, predicted_bins, MethodsConfig())
    policy = fit_policy(grid, a, predicted_bins, MethodsConfig(), allocated=True)
    assert policy.allocated and policy.table[2][2].params["n"] == 4 and policy.table[1][2].params["n"] == 1
    assert policy.table[2][2].strategy == "beam" and policy.edges == pytest.approx([0.85])
    policy.save(tmp_path / "policy_predicted_allocated.json")
    assert Policy.load(tmp_path / "policy_predicted_allocated.json") == policy
    plain = fit_policy(grid, a, predicted_bins, MethodsConfig())
    assert not plain.allocated and plain.table[2][2].params["n"] == 2
    with pytest.raises(ValueError, match="methods.allocate is off"):
        fit_policy(
            grid,
            analyse(grid, predicted_bins, MethodsConfig(allocate=False)),
            predicted_bins,
            MethodsConfig(),
            allocated=True,
        )


# --- the summary and the report -----------------------------------------------------------------
def write_run(tmp_path, records, bins):
    results = tmp_path / "results.jsonl"
    write_results(results, records)
    binned(bins, num_bins=2).save(tmp_path / "bins_oracle.json")
    return main(
        ComputeOptimalConfig([str(results)], {"oracle": str(tmp_path / "bins_oracle.json")}, str(tmp_path / "out"))
    )


def test_the_report_judges_selection_against_the_best_fixed_method_and_the_allocation(tmp_path):
    records, bins = by_bin_grid()
    text = write_run(tmp_path, records, bins)
    assert "| best fixed (oracle bins) | 0.500 | 0.500 |" in text
    assert "| compute-optimal (oracle bins) | 1.00 | 2.00 |" in text  # the spent table
    assert (tmp_path / "out" / "policy_oracle_allocated.json").is_file()
    findings = [f.sentence for f in compute_optimal_findings(tmp_path / "out")]
    beam = label_of(BEAM_SQRT)  # +0.5 from 4 of 8 questions: SD 0.5345, SE 0.189, half-width 0.370
    assert (
        f"Selection: compute-optimal against the best fixed method of the same menu, chosen on the same folds (a "
        f"gain from selecting per bin is one over it): with oracle bins it is ahead at 2, level at 0 and behind at 0 "
        f"of 2 budgets, and at budget 2 ahead of the best fixed method ({beam} on both folds) by +0.500 (95% CI "
        f"+0.130 to +0.870; 1.000 vs 0.500, 8 questions); per bin there: bin 1 ahead (+1.000,"
    ) in findings[1]
    assert (
        "Allocating the budget across bins (a method and its budget per bin, the mean spent within the budget, fit "
        "on the same folds): with oracle bins, at budget 2 it spends 1 generations per question and is level with "
        "compute-optimal (+0.000, 95% CI +0.000 to +0.000; 1.000 vs 1.000, 8 questions); to match best-of-N "
        "weighted at budget 2 it needs average budget 1, spending 1 generations per question (2x less) (bootstrap "
        "95% range over 8 questions: 2x to 2x) (the paper leaves this open)."
    ) == findings[3]


def test_an_older_summary_is_refused_with_its_version(tmp_path):
    records, bins = efficiency_grid()
    write_run(tmp_path, records, bins)
    path = tmp_path / "out" / "compute_optimal.json"
    old = json.loads(path.read_text())
    assert old["version"] == ComputeOptimalSummary.VERSION == 2
    path.write_text(json.dumps({**old, "version": 1}))
    with pytest.raises(RecordError, match="compute_optimal.json: field 'version' is 1; this code reads 2"):
        ComputeOptimalSummary.load(path)
