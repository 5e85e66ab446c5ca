"""`ttc solve`: thresholds and bins from probe scores, the policy lookup, budget accounting and
one strategy run per group (scripted fakes), then end to end on the toy base model and a tiny
real PRM with a hand-written policy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import synthetic_labels, train_tiny_prm
from fakes import ScriptedLM, TableVerifier

from data.config import ConfigError, parse_config
from data.records import Problem, read_records
from ttc import solve as S
from ttc.search import Strategy

SOLUTION = "=s{k}\n\\boxed{{1}}"  # question k's only solution: two steps, answer 1


def script(so_far, i, request):
    """Whole solutions for best-of-N, one step at a time for beam search (stop at a newline)."""
    k = re.search(r"question (\d+)", request.prompt).group(1)
    text = SOLUTION.format(k=k)
    if "\n" not in request.stop:
        return text, "eos"
    first, last = text.split("\n")
    return (first + "\n", "stop") if not so_far else (last, "eos")


def scores(per_question: dict[int, float]) -> TableVerifier:
    """Question k's final step scores per_question[k]: the probe's mean score."""
    return TableVerifier({f"=s{k}/\\boxed{{1}}": v for k, v in per_question.items()})


PROBLEMS = [Problem(f"q{k}", f"question {k}", "1", source="toy") for k in range(4)]
BEAM = {"method": "beam(beam_width=4)", "strategy": "beam",
        "params": {"n": 4, "beam_width": 4, "width": 4, "lookahead": 0, "max_step_tokens": 8, "seed": 0}}
BON = {"method": "best_of_n(selection=weighted)", "strategy": "best_of_n",
       "params": {"n": 2, "selection": "weighted", "max_tokens": 16, "seed": 0, "pool": 16}}


def write_policy(tmp_path: Path, table: dict, values: dict[str, float], bins: dict[str, int],
                 kind: str = "predicted") -> tuple[str, str]:
    policy = tmp_path / "policy_predicted.json"
    policy.write_text(json.dumps({"bins": kind, "budget_field": "generations", "num_bins": len(table),
                                  "policy": table}))
    binned = tmp_path / "bins_predicted.json"
    binned.write_text(json.dumps({"kind": kind, "num_bins": max(bins.values()), "bins": bins, "values": values}))
    return str(policy), str(binned)


def two_bin_policy(tmp_path: Path) -> S.Policy:
    """Bin 1 (mean score >= 0.5): best-of-N at every budget; bin 2: beam M=4 from budget 4."""
    table = {"1": {str(n): BON for n in (1, 2, 4, 8)}, "2": {"1": BON, "2": BON, "4": BEAM, "8": BEAM}}
    return S.load_policy(*write_policy(tmp_path, table, {"a": 0.9, "b": 0.6, "c": 0.4, "d": 0.1},
                                       {"a": 1, "b": 1, "c": 2, "d": 2}))


# --- thresholds, bins, lookup ---------------------------------------------------------------------
def test_thresholds_are_midpoints_between_bins_and_a_score_on_an_edge_is_the_easier_bin():
    values = {"a": 0.9, "b": 0.7, "c": 0.5, "d": 0.5, "e": 0.2, "f": 0.1}
    bins = {"a": 1, "b": 1, "c": 2, "d": 3, "e": 3, "f": 3}  # c and d tie across an edge
    edges = S.thresholds(bins, values)
    assert edges == pytest.approx([0.6, 0.5])
    policy = S.Policy({1: {}, 2: {}, 3: {}}, edges, "p")
    assert [policy.bin_of(s) for s in (1.0, 0.6, 0.59, 0.5, 0.49, 0.0)] == [1, 1, 2, 2, 3, 3]


def test_thresholds_reject_bins_out_of_rank_order_and_empty_bins():
    with pytest.raises(ConfigError, match="bin 2 has a value 0.8 above bin 1's lowest 0.5"):
        S.thresholds({"a": 1, "b": 2}, {"a": 0.5, "b": 0.8}, "bins.json")
    with pytest.raises(ConfigError, match="bin 2 has no question"):
        S.thresholds({"a": 1, "b": 3}, {"a": 0.5, "b": 0.1}, "bins.json")


def test_the_entry_is_the_largest_grid_budget_not_above_the_remaining_budget(tmp_path):
    policy = two_bin_policy(tmp_path)
    assert policy.entry(2, 7).strategy == "beam" and policy.entry(2, 3).strategy == "best_of_n"
    assert policy.entry(2, 100) == policy.table[2][8]
    assert policy.entry(1, 0) is None


def test_bad_policy_files_name_the_file_and_field(tmp_path):
    bins = ({"a": 0.9, "b": 0.1}, {"a": 1, "b": 2})
    bad = {"1": {"4": {**BON, "strategy": "magic"}}, "2": {"4": BON}}
    with pytest.raises(ConfigError, match=r"policy_predicted.json: policy.1.4.strategy: 'magic' is not one of"):
        S.load_policy(*write_policy(tmp_path, bad, *bins))
    with pytest.raises(ConfigError, match="oracle bins need the answer"):
        S.load_policy(*write_policy(tmp_path, {"1": {"4": BON}, "2": {"4": BON}}, *bins, kind="oracle"))
    with pytest.raises(ConfigError, match="bins \\[1\\] but .* has 2"):
        S.load_policy(*write_policy(tmp_path, {"1": {"4": BON}}, *bins))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="broken.json: cannot read the policy"):
        S.load_policy(str(tmp_path / "broken.json"), str(tmp_path / "bins_predicted.json"))


@pytest.mark.parametrize("entry, remaining, n, generations", [
    (BON, 14, 14, 14),  # best-of-N takes any n
    (BEAM, 14, 12, 12),  # M=4 must divide n
    ({**BEAM, "params": {**BEAM["params"], "beam_width": "sqrt", "lookahead": 2}}, 14, 4, 12),  # n(k+1)
])
def test_a_method_runs_at_the_largest_n_that_fits_the_remaining_budget(entry, remaining, n, generations):
    cfg = S.fit_config(S._entry(entry, "e"), remaining, 5, S.PromptFormat(), "e")
    assert (cfg.n, cfg.generations, cfg.seed) == (n, generations, 5)


# --- budget accounting and grouping (scripted fakes) ----------------------------------------------
def run_solve(tmp_path, budget, probe_n=2, per_question=None, monkeypatch=None):
    policy = two_bin_policy(tmp_path)
    lm, prm = ScriptedLM(script), scores(per_question or {0: 0.9, 1: 0.2, 2: 0.8, 3: 0.1})
    probe = S.ProbeConfig(n=probe_n, max_tokens=16)
    probes = S.draw_probes(PROBLEMS, lm, prm, probe, 0, S.PromptFormat())
    results = S.solve(PROBLEMS, probes, policy, budget, probe, 0, S.PromptFormat(), lambda _: (lm, prm))
    return results, lm, prm


@pytest.mark.parametrize("budget", [2, 3, 6, 8, 10])
def test_probe_plus_rest_plus_unspent_is_the_budget_and_the_ledger_is_the_lms(tmp_path, budget):
    results, lm, _ = run_solve(tmp_path, budget)
    assert [r.problem_id for r in results] == [p.id for p in PROBLEMS]
    for r in results:
        assert r.probe == 2 and r.generations + r.unspent == budget and r.generations >= r.probe
        assert r.unspent == 0 or r.strategy == "beam"  # best-of-N spends the budget exactly
    if all(r.strategy == "best_of_n" for r in results):  # a beam round's samples are not the paper's count
        assert sum(r.generations for r in results) == lm.ledger.generations
    assert sum(r.generated_tokens for r in results) == lm.ledger.generated_tokens
    assert sum(r.prompt_tokens for r in results) == lm.ledger.prompt_tokens


def test_bins_from_probe_scores_choose_the_strategy_and_best_of_n_pools_the_probe(tmp_path):
    results, _, _ = run_solve(tmp_path, 8)  # remaining 6: bin 2 runs beam M=4 at n=4
    by_id = {r.problem_id: r for r in results}
    assert [by_id[f"q{k}"].bin for k in range(4)] == [1, 2, 1, 2]
    easy, hard = by_id["q0"], by_id["q1"]
    assert (easy.strategy, easy.candidates, easy.generations, easy.params["n"]) == ("best_of_n", 8, 8, 8)
    assert (hard.strategy, hard.params["n"], hard.generations, hard.unspent) == ("beam", 4, 6, 2)
    assert easy.correct == 1.0 and easy.answer == "1" and easy.probe_score == pytest.approx(0.9)


def test_one_strategy_run_per_group(tmp_path, monkeypatch):
    calls = []
    for name in ("beam", "best_of_n"):
        real = S.STRATEGIES[name]
        monkeypatch.setitem(S.STRATEGIES, name, Strategy(
            lambda problems, lm, prm, cfg, real=real, name=name: calls.append((name, [p.id for p in problems]))
            or real.run(problems, lm, prm, cfg), real.config))
    _, lm, _ = run_solve(tmp_path, 8)
    assert calls == [("beam", ["q1", "q3"])]  # best-of-N draws its rest itself, in one call:
    assert len(lm.calls) == 1 + 1 + 2  # probe, best-of-N's rest for q0 and q2, two beam rounds
    assert [len(c) for c in lm.calls[:2]] == [4, 2]


def test_a_budget_below_the_probe_is_an_error_and_equal_to_it_answers_from_the_probe(tmp_path):
    with pytest.raises(ValueError, match="budget 1 is below the probe's 2 samples"):
        run_solve(tmp_path, 1)
    results, lm, _ = run_solve(tmp_path, 2)
    assert {(r.method, r.generations, r.candidates) for r in results} == {(S.FALLBACK, 2, 2)}
    assert len(lm.calls) == 1  # the probe only


def test_the_config_rejects_a_budget_below_the_probe(tmp_path):
    with pytest.raises(ConfigError, match="budget 2 is below probe.n=4"):
        parse_config(S.Config, ["--output_dir", str(tmp_path), "--lm.model", "m", "--prm.path", "p",
                                "--policy", "x", "--bins", "y", "--budget", "2", "--probe.n", "4"])


# --- end to end on the real toy models ------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_prm(tmp_path_factory, toy_base_path) -> Path:
    return train_tiny_prm(tmp_path_factory.mktemp("solve-prm"), toy_base_path, synthetic_labels(40))


def test_ttc_solve_on_the_toy_base_model_and_a_tiny_prm(tmp_path, toy_base_path, tiny_prm, hf_lm):
    from data.problems import DataConfig, load_problems
    from ttc.verifiers.hf_prm import HFPRM

    data = DataConfig(levels=[1, 4], per_level=3, split="solve-e2e")
    problems = load_problems(data)
    probe = S.ProbeConfig(n=2, max_tokens=96)
    # bins whose edge splits these questions' probe scores in two, so both strategies run
    pools = S.draw_probes(problems, hf_lm, HFPRM(str(tiny_prm)), probe, 0, S.PromptFormat())
    probe_scores = sorted(S.probe_score(p) for p in pools)
    mid = (probe_scores[2] + probe_scores[3]) / 2
    beam = {**BEAM, "params": {**BEAM["params"], "max_step_tokens": 48}}
    table = {"1": {"2": BON, "4": BON}, "2": {"2": BON, "4": beam}}
    policy, bins = write_policy(tmp_path, table, {"a": mid + 0.01, "b": mid - 0.01}, {"a": 1, "b": 2})
    recipe = tmp_path / "solve.yaml"
    recipe.write_text(json.dumps({
        "output_dir": str(tmp_path / "out"), "lm": {"model": str(toy_base_path)}, "prm": {"path": str(tiny_prm)},
        "policy": policy, "bins": bins, "budget": 6, "data": {"levels": [1, 4], "per_level": 3, "split": "solve-e2e"},
        "probe": {"n": 2, "max_tokens": 96}}))
    path = S.main(parse_config(S.Config, ["--config", str(recipe)]))
    results = read_records(path, S.SolveResult)
    assert [r.problem_id for r in results] == [p.id for p in problems]
    assert sorted(r.bin for r in results) == [1, 1, 1, 2, 2, 2]
    assert {r.strategy for r in results if r.bin == 1} == {"best_of_n"}
    assert {r.strategy for r in results if r.bin == 2} == {"beam"}
    for r in results:
        assert r.generations + r.unspent == 6 and r.correct in (0.0, 1.0)
        assert r.prm_tokens > 0 and r.flops_policy > 0 and r.generated_tokens > 0
    assert {r.generations for r in results if r.strategy == "best_of_n"} == {6}
    assert {r.generations for r in results if r.strategy == "beam"} == {6}  # 2 probe + beam N=4
