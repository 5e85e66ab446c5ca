"""Adaptive self-consistency: the stop rule, real waves on the fakes, the pool estimate (against
best-of-N's), the eval grid sharing one pool, and the ledger's `spent` in the records."""

import dataclasses
import json
import random
from typing import cast

import numpy as np
import pytest

from data.records import Sample, from_dict, read_records, to_dict, to_json
from data.shards import derive_seed
from eval import search
from eval.search_report import TABLE, EvalResult, plotted, summarize, write
from tests.support.fakes import ScriptedLM, TableVerifier, problem
from ttc.lm.spec import LMConfig
from ttc.search import AdaptiveConfig, BestOfNConfig, Pool, SearchResult, adaptive, sweep, sweep_adaptive
from ttc.search.adaptive import _beta_table, _tally, estimate, should_stop
from ttc.search.result import Costs
from ttc.strategies import STRATEGIES
from ttc.verifiers.spec import VerifierConfig


def stops(answers, scores, **settings) -> bool:
    """The rule on one problem's samples drawn so far."""
    cfg = AdaptiveConfig(n=16, **settings)
    return bool(should_stop(*_tally(answers, cfg.weights(scores)), len(answers), cfg))


def test_the_rule_stops_on_agreement_by_the_selections_weights():
    assert stops(["1"] * 4, [0.5] * 4) and stops(["1", "1", "1", "2"], [0.5] * 4)
    assert not stops(["1", "2", "1", "2"], [0.5] * 4)
    assert not stops(["1", "1", "1", None], [0.5] * 4, agreement=0.8)  # no answer: disagreement
    assert not stops([None, None], [0.9, 0.9]) and not stops(["1", "1"], [0.0, 0.0], selection="weighted")
    # three votes of 0.1 against one of 0.9: a majority, but not a weighted one
    answers, scores = ["1", "1", "1", "2"], [0.1, 0.1, 0.1, 0.9]
    assert stops(answers, scores, selection="majority") and not stops(answers, scores, selection="weighted")
    assert not stops(["1"] * 4, [0.5] * 4, min_samples=5)
    assert not stops(["1"] * 4, [0.5] * 4, agreement=1.01)  # above 1: never


def test_the_beta_rule_is_the_posterior_probability_of_leading():
    table = _beta_table(12)
    x = np.linspace(0, 1, 200_001)
    for v1, v2 in [(4, 0), (3, 1), (6, 2), (2, 5)]:
        density = x**v1 * (1 - x) ** v2
        assert table[v1, v2] == pytest.approx(density[x > 0.5].sum() / density.sum(), abs=1e-4)
    assert table[4, 0] == 1 - 1 / 32 and table[5, 5] == 0.5
    beta = {"rule": "beta", "selection": "majority"}
    assert stops(["1"] * 4, [0.5] * 4, **beta) and not stops(["1"] * 3, [0.5] * 3, **beta)
    assert not stops(["1"] * 5 + ["2"] * 2, [0.5] * 7, **beta) and stops(["1"] * 7 + ["2"], [0.5] * 8, **beta)
    with pytest.raises(ValueError, match="rule beta counts votes"):
        AdaptiveConfig(rule="beta", selection="weighted")
    with pytest.raises(ValueError, match="wave and min_samples"):
        AdaptiveConfig(wave=0)


def test_its_pool_is_best_of_ns_and_its_waves_end_at_the_cap():
    cfg = AdaptiveConfig(n=8, wave=3, agreement=0.6, selection="majority", max_tokens=64)
    assert cfg.pool_settings() == BestOfNConfig(n=8, max_tokens=64).pool_settings()
    assert cfg.wave_ends(8) == [3, 6, 8] and cfg.wave_ends(2) == [2] and cfg.generations == 8
    assert STRATEGIES["adaptive"].sweep is sweep_adaptive and STRATEGIES["best_of_n"].sweep is sweep
    assert STRATEGIES["beam"].sweep is None


def split_script(so_far, i, request):
    """Question 0 always answers 1; the others alternate between 0 and 1."""
    if "question 0" in request.prompt:
        return "a\n\\boxed{1}", "eos"
    return f"b{i % 2}\n\\boxed{{{i % 2}}}", "eos"


def test_waves_stop_on_agreement_and_split_answers_run_to_the_cap():
    lm, prm = ScriptedLM(split_script), TableVerifier()
    problems = [problem(0, "1"), problem(1, "1")]
    easy, hard = adaptive(problems, lm, prm, AdaptiveConfig(n=16, wave=4))
    assert (easy.spent, easy.candidates, easy.generations, easy.budget, easy.answer) == (4.0, 4, 16, 16, "1")
    assert (hard.spent, hard.candidates, hard.generations) == (16.0, 16, 16)
    # one LM call per wave, holding every problem still drawing, seeded by (seed, problem, wave)
    assert [[r.n for r in call] for call in lm.calls] == [[4, 4], [4], [4], [4]]
    assert [r.seed for r in lm.calls[0]] == [derive_seed(0, "q0", 0), derive_seed(0, "q1", 0)]
    assert [call[0].seed for call in lm.calls[1:]] == [derive_seed(0, "q1", w) for w in (1, 2, 3)]
    assert len(prm.calls) == 1  # the later waves repeat texts scored before: the session caches them
    # the ledger books what was drawn
    assert sum(r.generated_tokens for r in (easy, hard)) == lm.ledger.generated_tokens
    assert sum(r.prompt_tokens for r in (easy, hard)) == lm.ledger.prompt_tokens
    assert sum(cast(int, r.prm_tokens) for r in (easy, hard)) == prm.tokens_scored
    assert (easy.generated_tokens, hard.generated_tokens) == (4 * 11, 16 * 12)  # the fake: a token a character
    assert easy.flops_policy == 2 * 10 * (easy.prompt_tokens + easy.generated_tokens)
    # the cap cuts the last wave; a cap under a wave is one wave: best-of-N
    lm = ScriptedLM(split_script)
    _, hard = adaptive(problems, lm, TableVerifier(), AdaptiveConfig(n=6, wave=4))
    assert hard.spent == 6 and [[r.n for r in call] for call in lm.calls] == [[4, 4], [2]]


def random_script(so_far, i, request):
    rng = random.Random(f"{request.seed}/{i}")
    return f"s{rng.randrange(5)}\n\\boxed{{{rng.choice('0112')}}}", "eos"


def test_a_run_is_deterministic_and_spends_at_most_the_cap():
    problems = [problem(i, "1") for i in range(6)]
    cfg = AdaptiveConfig(n=16, wave=2, agreement=0.7, seed=5)
    runs = [adaptive(problems, ScriptedLM(random_script), TableVerifier(), cfg) for _ in range(2)]
    assert runs[0] == runs[1]
    spent = [(cast(float, r.spent), r) for r in runs[0]]  # adaptive runs count what they spend
    assert all(2 <= s <= 16 and s == r.candidates and s % 2 == 0 for s, r in spent)
    assert len({r.spent for r in runs[0]}) > 1  # some stop early, some not


ANSWERS = ["1", "2", "2", None, "3", "1", "2", "2"]  # no tie in the whole pool's vote
CORRECT = [a == "1" for a in ANSWERS]


def pool(answers=ANSWERS, scores=None, pid="p") -> Pool:
    scores = scores or np.random.default_rng(1).random(len(answers)).tolist()  # no ties in a weighted vote
    samples = [Sample(pid, i, f"x{i}", ["x"], a, a == "1", 10, "eos") for i, a in enumerate(answers)]
    return Pool(pid, samples, [[s] for s in scores], Costs(7, 80, 40))


@pytest.mark.parametrize("selection", ["weighted", "majority"])
def test_never_stopping_is_best_of_n_at_every_n(selection):
    # with few subsets both estimators draw the same random orders at n = 2, 4; n = 1 and the whole
    # pool are exact in both (the pool's vote has no tie, so its order does not matter)
    ns, p = [1, 2, 4, 8], pool()
    bon = sweep([p], ns, BestOfNConfig(n=8, selection=selection), 10, 3, num_subsets=20)
    never = sweep_adaptive(
        [p], ns, AdaptiveConfig(n=8, selection=selection, agreement=1.5, wave=3), 10, 3, num_subsets=20
    )
    assert [r.correct for r in never] == pytest.approx([r.correct for r in bon], abs=1e-12)
    assert [r.spent for r in never] == ns and [r.costs for r in never] == [r.costs for r in bon]
    assert [r.generations for r in never] == ns and all(r.strategy == "adaptive" for r in never)


def test_never_stopping_naive_approaches_best_of_ns_closed_form():
    ns, p = [1, 2, 4, 8], pool()
    exact = [r.correct for r in sweep([p], ns, BestOfNConfig(n=8, selection="naive"), 10, 3)]
    never = sweep_adaptive([p], ns, AdaptiveConfig(n=8, selection="naive", agreement=1.5), 10, 3)
    assert [r.correct for r in never] == pytest.approx(exact, abs=0.05)
    assert [r.correct for r in never][:2] == pytest.approx(exact[:2], abs=1e-12)  # every order of 1 and 2: exact


def test_a_unanimous_pool_spends_one_wave():
    p = pool(["1"] * 8)
    results = sweep_adaptive([p], [1, 2, 4, 8], AdaptiveConfig(n=8, wave=4), 10, 3)
    assert [r.spent for r in results] == [1, 2, 4, 4] and all(r.correct == 1.0 for r in results)
    assert results[-1].costs == Costs(7, 40, 20)  # half the pool's generated and PRM tokens, the prompt whole
    assert results[-1].generations == results[-1].candidates == 8 and results[-1].distinct_candidates == 4


def test_the_pool_estimate_stays_in_range():
    rng = np.random.default_rng(0)
    answers = [str(a) for a in rng.integers(0, 3, 32)]
    p = pool(answers, rng.random(32).tolist())
    for cfg in (AdaptiveConfig(n=32, wave=2), AdaptiveConfig(n=32, rule="beta", selection="majority", wave=1)):
        results = sweep_adaptive([p], [1, 4, 16, 32], cfg, 10, 3)
        assert all(0 <= r.correct <= 1 and 1 <= cast(float, r.spent) <= r.generations for r in results)
        assert results[0].spent == 1 and cast(float, results[-1].spent) < 32  # some orders agree early
        assert results == sweep_adaptive([p], [1, 4, 16, 32], cfg, 10, 3)  # seeded
    assert estimate(pool([None] * 4), 4, AdaptiveConfig(n=4)) == (0.0, 4.0, 0.0)  # nothing to agree on
    with pytest.raises(ValueError, match="1 <= n <= 32, not 64"):
        sweep_adaptive([p], [64], AdaptiveConfig(n=64), 10, 3)


GRID = {
    "weighted": {"strategy": "best_of_n", "max_tokens": 64},
    "majority": {"strategy": "best_of_n", "selection": "majority", "max_tokens": 64},
    "adaptive": {"strategy": "adaptive", "selection": "majority", "wave": 2, "max_tokens": 64},
    "adaptive weighted": {"strategy": "adaptive", "wave": 2, "max_tokens": 64},
}


def test_the_grid_estimates_adaptive_lines_from_the_best_of_n_pool(tmp_path):
    cfg = search.SearchEvalConfig(
        output_dir=str(tmp_path),
        lm=LMConfig(model="-"),
        prm=VerifierConfig(path="-"),
        strategies=GRID,
        max_budget=8,
        seeds=[0],
    )
    lm, problems = ScriptedLM(random_script), [problem(i, "1") for i in range(3)]
    records = [r for per in search.evaluate(problems, lm, TableVerifier(), cfg, search.plan(cfg)) for r in per]
    assert len(lm.calls) == 1 and [r.n for r in lm.calls[0]] == [8] * 3  # one pool for all four lines
    results = [from_dict(EvalResult, json.loads(json.dumps(r)), "-") for r in records]
    assert len(results) == 3 * 4 * 4
    for r in results:
        assert r.params["pool"] == 8 and r.generations == r.budget
        assert (r.spent is None) == (r.strategy == "best_of_n")
        assert r.spent is None or 1 <= r.spent <= r.budget
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    table = write(tmp_path / "results.jsonl")
    assert table == (tmp_path / TABLE).read_text()
    rows = [row.split(" | ")[0] for row in table.splitlines() if row.startswith("| ") and "strategy" not in row]
    assert rows == [
        "| weighted",
        "| majority",
        "| adaptive",
        "| adaptive: generations spent",
        "| adaptive weighted",
        "| adaptive weighted: generations spent",
    ]
    summary = summarize(read_records(tmp_path / "results.jsonl", EvalResult))
    spent = {b: cast(float, c.spent) for b, c in summary.lines["adaptive"].cells.items()}
    assert spent[1] == 1 and spent[2] == 2 and all(s <= b for b, s in spent.items())
    assert all(c.spent is None for c in summary.lines["weighted"].cells.values())
    curves, _ = plotted(summary)
    assert sorted(curves["adaptive"]) == sorted(spent.values()) and sorted(curves["weighted"]) == [1, 2, 4, 8]


def test_records_round_trip_with_and_without_spent():
    r = SearchResult(
        "q", "adaptive", {"n": 8}, 8, 0, "1", 0.5, None, 8, 8, 7, 40, 20, 940, 120, distinct_candidates=2.5, spent=5.25
    )
    for record in (r, dataclasses.replace(r, spent=None)):
        assert from_dict(SearchResult, json.loads(to_json(record)), "-") == record
        named = EvalResult(**dataclasses.asdict(record), name="line")
        assert from_dict(EvalResult, json.loads(to_json(named)), "-") == named
    old = {k: v for k, v in to_dict(r).items() if k not in ("spent", "distinct_candidates")}  # written before
    assert from_dict(EvalResult, {**old, "name": "line"}, "-").spent is None


def test_solve_books_the_generations_an_adaptive_run_drew():
    from ttc.policy.planner import Plan, record

    lm, prm, question = ScriptedLM(split_script), TableVerifier(), problem(0, "1")
    cfg = AdaptiveConfig(n=16, wave=4)
    run = adaptive([question], lm, prm, cfg)[0]  # agrees after one wave
    solved = record(question, pool(["1", "1"]), Plan(0, "adaptive", "adaptive", cfg, 18), 18, run, lm, prm)
    assert (solved.generations, solved.unspent, solved.generated_tokens) == (2 + 4, 12, 80 + run.generated_tokens)
