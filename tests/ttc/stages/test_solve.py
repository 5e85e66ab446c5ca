"""`ttc solve`: the policy record (bins from probe scores, the lookup, bad files), budget
accounting and one strategy run per group in the planner (scripted fakes), then end to end on
the toy base model and a tiny real PRM with a hand-written policy."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import cast

import pytest

from data.config import ConfigError, parse_config
from data.prompts import PromptFormat
from data.records import Problem, RecordError, read_records
from tests.support.fakes import ScriptedLM, TableVerifier
from tests.support.runs import REPO, synthetic_labels, train_tiny_prm
from ttc.policy import Entry, Policy
from ttc.policy import planner as P
from ttc.search import REVISION, SEARCH, ParticleConfig
from ttc.search.result import Costs
from ttc.stages import solve as S

SOLUTION = "=s{k}\n\\boxed{{1}}"  # question k's only solution: two steps, answer 1


def script(so_far, i, request):
    """Whole solutions for best-of-N, one step at a time for beam search (stop at a newline)."""
    k = cast(re.Match[str], re.search(r"question (\d+)", request.prompt)).group(1)
    text = SOLUTION.format(k=k)
    if "\n" not in request.stop:
        return text, "eos"
    first, last = text.split("\n")
    return (first + "\n", "stop") if not so_far else (last, "eos")


def scores(per_question: dict[int, float]) -> TableVerifier:
    """Question k's final step scores per_question[k]: the probe's mean score."""
    return TableVerifier({f"=s{k}/\\boxed{{1}}": v for k, v in per_question.items()})


PROBLEMS = [Problem(f"q{k}", f"question {k}", "1", source="toy") for k in range(4)]
PROBE = {"max_tokens": 16}  # how the probe samples: as the best-of-N entries, whose pools it joins
BEAM = Entry("beam(beam_width=4)", "beam", {"n": 4, "beam_width": 4, "lookahead": 0, "max_step_tokens": 8}, 1.0)
BON = Entry("best_of_n(selection=weighted)", "best_of_n", {"n": 2, "selection": "weighted", "max_tokens": 16}, 1.0)


def two_bin_policy() -> Policy:
    """Bin 1 (mean score >= 0.5): best-of-N at every budget; bin 2: beam M=4 from budget 4."""
    table = {1: {n: BON for n in (1, 2, 4, 8)}, 2: {1: BON, 2: BON, 4: BEAM, 8: BEAM}}
    return Policy("predicted", table, edges=[0.5], probe=PROBE)


# --- the policy: bins, lookup, bad files ----------------------------------------------------------
def test_a_score_on_an_edge_is_the_easier_bin():
    policy = Policy("predicted", {b: {1: BON} for b in (1, 2, 3)}, edges=[0.6, 0.5], probe=PROBE)
    assert [policy.bin_of(s) for s in (1.0, 0.6, 0.59, 0.5, 0.49, 0.0)] == [1, 1, 2, 2, 3, 3]


def test_the_entry_is_the_largest_grid_budget_not_above_the_remaining_budget():
    policy = two_bin_policy()
    assert (
        cast(Entry, policy.entry(2, 7)).strategy == "beam" and cast(Entry, policy.entry(2, 3)).strategy == "best_of_n"
    )
    assert policy.entry(2, 100) == policy.table[2][8]
    assert policy.entry(1, 0) is None


def test_a_policy_round_trips_and_bad_files_name_the_file_and_field(tmp_path):
    path = tmp_path / "policy_predicted.json"
    two_bin_policy().save(path)
    assert Policy.load(path) == S.load_policy(str(path)) == two_bin_policy()
    good = json.loads(path.read_text())

    def refused(message, change, error: type[Exception] = RecordError):
        record = json.loads(json.dumps(good))
        change(record)
        path.write_text(json.dumps(record))
        with pytest.raises(error, match=message):
            S.load_policy(str(path))

    refused(
        r"policy_predicted.json: table.1.4.strategy: 'magic' is not one of",
        lambda r: r["table"]["1"]["4"].update(strategy="magic"),
    )
    refused(
        r"policy_predicted.json: table.2.4.params: .*unknown key 'width'",  # derived, not a setting
        lambda r: r["table"]["2"]["4"]["params"].update(width=4),
    )
    refused(
        r"table.1.2.params: best-of-N samples with .*'temperature': 1.0.*the probe \(which joins its pool\)",
        lambda r: r["table"]["1"]["2"]["params"].update(temperature=1.0),
    )
    refused(
        r"edges: \[0.5\], expected the 2 edges of 3 predicted bins", lambda r: r["table"].update({"3": r["table"]["2"]})
    )
    refused(r"probe: \['selection'\] are not sampling settings", lambda r: r["probe"].update(selection="naive"))
    refused(r"field 'version' is 0; this code reads 2", lambda r: r.update(version=0))
    refused(r"table.1.4: missing field 'accuracy'", lambda r: r["table"]["1"]["4"].pop("accuracy"))
    refused("oracle bin needs the answer", lambda r: r.update(kind="oracle", edges=None, probe=None), ConfigError)
    path.write_text("{")
    with pytest.raises(RecordError, match="policy_predicted.json: cannot read the ttc.policy"):
        S.load_policy(str(path))


TOY_BASE, TOY_PRM = REPO / "train/checkpoints/toy-base", REPO / "train/checkpoints/toy-prm"


def setup_naming(lm: Path, prm: Path, policy: Path) -> S.Setup:
    return parse_config(
        S.Setup,
        [
            "--output_dir",
            str(policy.parent / "out"),
            "--lm.model",
            str(lm),
            "--prm.path",
            str(prm),
            "--policy",
            str(policy),
        ],
    )


def test_solve_refuses_a_policy_fit_with_another_prm_or_lm_naming_both(tmp_path):
    from ttc.policy import identify

    fitted = {"lm": identify(str(TOY_BASE), "lm.model"), "prm": identify(str(TOY_PRM), "prm.path")}
    path = tmp_path / "policy_predicted.json"
    dataclasses.replace(two_bin_policy(), models=fitted).save(path)
    moved = tmp_path / "moved-prm"  # the same PRM elsewhere: the same model
    shutil.copytree(TOY_PRM, moved)
    assert S.load_policy(str(path), setup_naming(TOY_BASE, moved, path)).models == fitted
    retrained = tmp_path / "retrained-prm"  # same config and sizes, other weights
    shutil.copytree(TOY_PRM, retrained)
    weights = bytearray((retrained / "model.safetensors").read_bytes())
    weights[len(weights) // 2] ^= 0xFF
    (retrained / "model.safetensors").write_bytes(bytes(weights))
    for lm, prm, role, named in ((TOY_BASE, retrained, "prm", retrained), (TOY_PRM, TOY_PRM, "lm", TOY_PRM)):
        with pytest.raises(ConfigError) as refused:
            S.load_policy(str(path), setup_naming(lm, prm, path))
        line = str(refused.value)
        assert (
            "\n" not in line
            and f"fitted with {role} {fitted[role]['path']}, but the config names {role} {named} " in line
        ), line


def test_a_version_1_policy_loads_with_a_warning_and_is_not_checked(tmp_path, caplog):
    path = tmp_path / "policy_predicted.json"
    two_bin_policy().save(path)
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "version": 1}))  # written before `models`
    with caplog.at_level("WARNING"):
        policy = S.load_policy(str(path), setup_naming(TOY_BASE, TOY_BASE, path))  # another PRM: unknown, run
    assert policy == two_bin_policy() and policy.models is None
    assert "a version-1 policy, which does not record the models" in caplog.text
    path.write_text(json.dumps({**record, "models": {"verifier": {"path": "x", "digest": None}}}))
    with pytest.raises(RecordError, match=r"models.verifier: expected a role of lm, prm, reviser, orm"):
        Policy.load(path)


@pytest.mark.parametrize(
    "entry, remaining, n, generations",
    [
        (BON, 14, 14, 14),  # best-of-N takes any n
        (BEAM, 14, 12, 12),  # M=4 must divide n
        (Entry("lookahead", "beam", {**BEAM.params, "beam_width": "sqrt", "lookahead": 2}, 1.0), 14, 4, 12),  # n(k+1)
    ],
)
def test_a_method_runs_at_the_largest_n_that_fits_the_remaining_budget(entry, remaining, n, generations):
    cfg = P.fit_config(entry, remaining, 5, PromptFormat(), "e")
    assert (cfg.n, cfg.generations, cfg.seed) == (n, generations, 5)


def test_a_particle_filtering_entry_builds_its_config_and_runs_at_any_n():
    particles = Entry(
        "particles(resample_temperature=0.5)",
        "particles",
        {"n": 4, "max_step_tokens": 8, "resample_temperature": 0.5},
        1.0,
    )
    policy = Policy(
        "predicted", {1: {n: BON for n in (1, 2, 4, 8)}, 2: {1: BON, 2: BON, 4: particles}}, edges=[0.5], probe=PROBE
    )
    cfg = policy.table[2][4].config("e")
    assert isinstance(cfg, ParticleConfig) and (cfg.n, cfg.resample_temperature) == (4, 0.5)
    lm, prm = ScriptedLM(script), scores({0: 0.9, 1: 0.2, 2: 0.8, 3: 0.1})
    probes = P.draw_probes(PROBLEMS, lm, prm, policy, 2, 0, PromptFormat())
    hard = P.solve(PROBLEMS, probes, policy, 8, 0, PromptFormat(), lambda _: (lm, prm))[1]
    assert (hard.strategy, hard.params["n"], hard.generations, hard.unspent) == ("particles", 6, 8, 0)
    assert hard.answer == "1"


# --- budget accounting and grouping (scripted fakes) ----------------------------------------------
def test_costs_add_up_and_their_flops_are_two_per_parameter_and_token():
    total = Costs(3, 4, 5) + Costs(1, 1, None)
    assert total == Costs(4, 5, None)  # unknown verifier tokens stay unknown
    assert total.flops(10, 2) == (2 * 10 * 9, None) and Costs(3, 4, 5).flops(10, None) == (140, None)
    assert Costs(3, 4, 5).record(10, 2) == {
        "prompt_tokens": 3,
        "generated_tokens": 4,
        "prm_tokens": 5,
        "flops_policy": 140,
        "flops_prm": 20,
    }


def run_solve(budget, probe_n=2, per_question=None):
    policy = two_bin_policy()
    lm, prm = ScriptedLM(script), scores(per_question or {0: 0.9, 1: 0.2, 2: 0.8, 3: 0.1})
    probes = P.draw_probes(PROBLEMS, lm, prm, policy, probe_n, 0, PromptFormat())
    results = P.solve(PROBLEMS, probes, policy, budget, 0, PromptFormat(), lambda _: (lm, prm))
    return results, lm, prm


@pytest.mark.parametrize("budget", [2, 3, 6, 8, 10])
def test_probe_plus_rest_plus_unspent_is_the_budget_and_the_ledger_is_the_lms(budget):
    results, lm, _ = run_solve(budget)
    assert [r.problem_id for r in results] == [p.id for p in PROBLEMS]
    for r in results:
        assert r.probe == 2 and r.generations + r.unspent == budget and r.generations >= r.probe
        assert r.unspent == 0 or r.strategy == "beam"  # best-of-N spends the budget exactly
    if all(r.strategy == "best_of_n" for r in results):  # a beam round's samples are not the paper's count
        assert sum(r.generations for r in results) == lm.ledger.generations
    assert sum(r.generated_tokens for r in results) == lm.ledger.generated_tokens
    assert sum(r.prompt_tokens for r in results) == lm.ledger.prompt_tokens
    assert sum(r.flops_policy for r in results) == lm.ledger.flops


def test_bins_from_probe_scores_choose_the_strategy_and_best_of_n_pools_the_probe():
    results, _, _ = run_solve(8)  # remaining 6: bin 2 runs beam M=4 at n=4
    by_id = {r.problem_id: r for r in results}
    assert [by_id[f"q{k}"].bin for k in range(4)] == [1, 2, 1, 2]
    easy, hard = by_id["q0"], by_id["q1"]
    assert (easy.strategy, easy.candidates, easy.generations, easy.params["n"]) == ("best_of_n", 8, 8, 8)
    assert (hard.strategy, hard.params["n"], hard.generations, hard.unspent) == ("beam", 4, 6, 2)
    assert easy.correct == 1.0 and easy.answer == "1" and easy.probe_score == pytest.approx(0.9)


def test_one_strategy_run_per_group(monkeypatch):
    calls = []
    for name in ("beam", "best_of_n"):
        real = P.STRATEGIES[name]
        monkeypatch.setitem(
            P.STRATEGIES,
            name,
            dataclasses.replace(
                real,
                run=(
                    lambda problems, lm, prm, cfg, real=real, name=name: (
                        calls.append((name, [p.id for p in problems])) or real.run(problems, lm, prm, cfg)
                    )
                ),
            ),
        )
    _, lm, _ = run_solve(8)
    assert calls == [("beam", ["q1", "q3"])]  # best-of-N extends the probe's pools itself, in one call:
    assert len(lm.calls) == 1 + 1 + 2  # probe, best-of-N's rest for q0 and q2, two beam rounds
    assert [len(c) for c in lm.calls[:2]] == [4, 2]


def test_each_group_runs_on_its_strategys_roles_and_a_run_must_answer_every_question_in_order(monkeypatch):
    asked = []

    def models(roles):
        asked.append(roles)
        return ScriptedLM(script), scores({0: 0.9, 1: 0.2, 2: 0.8, 3: 0.1})

    monkeypatch.setitem(P.STRATEGIES, "beam", dataclasses.replace(P.STRATEGIES["beam"], models=REVISION))
    lm, prm = models(SEARCH)
    probes = P.draw_probes(PROBLEMS, lm, prm, two_bin_policy(), 2, 0, PromptFormat())
    results = P.solve(PROBLEMS, probes, two_bin_policy(), 8, 0, PromptFormat(), models)
    assert [r.strategy for r in results] == ["best_of_n", "beam"] * 2 and asked == [SEARCH, SEARCH, REVISION]
    real = P.STRATEGIES["beam"]
    monkeypatch.setitem(P.STRATEGIES, "beam", dataclasses.replace(real, run=lambda *a: real.run(*a)[::-1]))
    with pytest.raises(
        ValueError,
        match=r"strategy beam: results for \['q3', 'q1'\], expected one per problem in "
        r"order: \['q1', 'q3'\]",
    ):
        P.solve(PROBLEMS, probes, two_bin_policy(), 8, 0, PromptFormat(), models)


def test_the_model_cache_loads_a_roles_models_once_on_first_use(monkeypatch, tmp_path):
    loaded = []
    monkeypatch.setattr(S, "load_lm", lambda cfg: loaded.append(cfg.model) or ScriptedLM(script))
    monkeypatch.setattr(S, "load_verifier", lambda cfg, prompt: loaded.append(cfg.path) or TableVerifier())
    setup = setup_naming(Path("base"), Path("prm"), tmp_path / "policy.json")
    with S.ModelCache(setup) as models:
        with pytest.raises(ValueError, match="runs on reviser and orm .*: set `reviser` and `orm`"):
            models(REVISION)
    setup = parse_config(
        S.Setup,
        [
            "--output_dir",
            str(tmp_path),
            "--lm.model",
            "base",
            "--prm.path",
            "prm",
            "--policy",
            "p",
            "--reviser.model",
            "rev",
            "--orm.path",
            "orm",
        ],
    )
    loaded.clear()
    with S.ModelCache(setup) as models:
        assert models(REVISION) == models(REVISION) != models(SEARCH)
    assert loaded == ["base", "prm", "rev", "orm"]


def test_a_budget_below_the_probe_is_an_error_and_equal_to_it_answers_from_the_probe():
    with pytest.raises(ValueError, match="budget 1 is below the probe's 2 samples"):
        run_solve(1)
    results, lm, _ = run_solve(2)
    assert {(r.method, r.generations, r.candidates) for r in results} == {(P.FALLBACK, 2, 2)}
    assert len(lm.calls) == 1  # the probe only


def test_an_allocated_policy_runs_each_bins_entry_at_its_own_n(tmp_path):
    """At an average budget of 8 (eval/compute_optimal.py's allocation): bin 1 runs best-of-N at its
    own n=4, bin 2 beam M=4 within its own 12; the probe (2) counts in each question's own budget."""
    easy, hard = (dataclasses.replace(e, params={**e.params, "n": n}) for e, n in ((BON, 4), (BEAM, 12)))
    policy = Policy("predicted", {1: {2: BON, 8: easy}, 2: {2: BON, 8: hard}}, edges=[0.5], probe=PROBE, allocated=True)
    policy.save(tmp_path / "policy_predicted_allocated.json")
    assert S.load_policy(str(tmp_path / "policy_predicted_allocated.json")) == policy
    lm, prm = ScriptedLM(script), scores({0: 0.9, 1: 0.2, 2: 0.8, 3: 0.1})
    probes = P.draw_probes(PROBLEMS, lm, prm, policy, 2, 0, PromptFormat())
    by_id = {r.problem_id: r for r in P.solve(PROBLEMS, probes, policy, 8, 0, PromptFormat(), lambda _: (lm, prm))}
    q0, q1 = by_id["q0"], by_id["q1"]
    assert (q0.strategy, q0.params["n"], q0.candidates, q0.generations, q0.unspent) == ("best_of_n", 4, 4, 4, 4)
    assert (q1.strategy, q1.params["n"], q1.generations, q1.unspent) == ("beam", 8, 10, -2)  # 10 left: M=4 fits 8
    assert sum(r.generations for r in by_id.values()) / 4 == 7 and {r.budget for r in by_id.values()} == {8}
    assert {r.method for r in P.solve(PROBLEMS, probes, policy, 2, 0, PromptFormat(), lambda _: (lm, prm))} == {
        P.FALLBACK
    }  # own budget 2 = the probe: answered from it


def test_the_config_rejects_a_budget_below_the_probe(tmp_path):
    with pytest.raises(ConfigError, match="budget 2 is below probe.n=4"):
        parse_config(
            S.SolveConfig,
            [
                "--output_dir",
                str(tmp_path),
                "--lm.model",
                "m",
                "--prm.path",
                "p",
                "--policy",
                "x",
                "--budget",
                "2",
                "--probe.n",
                "4",
            ],
        )


# --- end to end on the real toy models ------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_prm(tmp_path_factory, toy_base_path) -> Path:
    return train_tiny_prm(tmp_path_factory.mktemp("solve-prm"), toy_base_path, synthetic_labels(40))


def test_ttc_solve_on_the_toy_base_model_and_a_tiny_prm(tmp_path, toy_base_path, tiny_prm, hf_lm):
    from data.problems import DataConfig, load_problems
    from ttc.verifiers.hf_prm import HFPRM

    data = DataConfig(levels=[1, 4], per_level=3, split="solve-e2e")
    problems = load_problems(data)
    bon = Entry(BON.method, BON.strategy, {**BON.params, "max_tokens": 96}, 1.0)
    beam = Entry(BEAM.method, BEAM.strategy, {**BEAM.params, "max_step_tokens": 48}, 1.0)
    draft = Policy("predicted", {1: {2: bon, 4: bon}, 2: {2: bon, 4: beam}}, edges=[0.5], probe={"max_tokens": 96})
    # an edge that splits these questions' probe scores in two, so both strategies run
    pools = P.draw_probes(problems, hf_lm, HFPRM(str(tiny_prm)), draft, 2, 0, PromptFormat())
    probe_scores = sorted(P.probe_score(p) for p in pools)
    dataclasses.replace(draft, edges=[(probe_scores[2] + probe_scores[3]) / 2]).save(tmp_path / "policy.json")
    recipe = tmp_path / "solve.yaml"
    recipe.write_text(
        json.dumps(
            {
                "output_dir": str(tmp_path / "out"),
                "lm": {"model": str(toy_base_path)},
                "prm": {"path": str(tiny_prm)},
                "policy": str(tmp_path / "policy.json"),
                "budget": 6,
                "data": {"levels": [1, 4], "per_level": 3, "split": "solve-e2e"},
                "probe": {"n": 2},
            }
        )
    )
    path = S.main(parse_config(S.SolveConfig, ["--config", str(recipe)]))
    results = read_records(path, P.SolveResult)
    assert [r.problem_id for r in results] == [p.id for p in problems]
    assert sorted(r.bin for r in results) == [1, 1, 1, 2, 2, 2]
    assert {r.strategy for r in results if r.bin == 1} == {"best_of_n"}
    assert {r.strategy for r in results if r.bin == 2} == {"beam"}
    for r in results:
        assert r.generations + r.unspent == 6 and r.correct in (0.0, 1.0)
        assert cast(int, r.prm_tokens) > 0 and r.flops_policy > 0 and r.generated_tokens > 0
    assert {r.generations for r in results if r.strategy == "best_of_n"} == {6}
    assert {r.generations for r in results if r.strategy == "beam"} == {6}  # 2 probe + beam N=4


def test_the_demos_policy_stage_names_the_models_its_policy_was_fit_with(tmp_path):
    """The pipeline's eval-policy checks the policy of compute_optimal, fit on eval_search's results:
    both stages must name the same lm and prm, or the demo would refuse its own policy."""
    from ttc.pipeline import command

    for flags in ([], ["--retrain"]):
        run = command.parse(["--config", str(REPO / "configs/toy/demo.yaml"), "--run_dir", str(tmp_path), *flags])[0]
        settings = {s.name: run.settings(s) for s in run.stages}
        for role, key in (("lm", "model"), ("prm", "path")):
            assert settings["policy"][role][key] == settings["eval_search"][role][key], (flags, role)
