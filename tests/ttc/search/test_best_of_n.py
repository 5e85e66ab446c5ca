"""Best-of-N: selection on a hand-built pool, one pool per sweep, and the subset estimator."""

from itertools import combinations
from typing import Any, cast

import numpy as np
import pytest

from data.records import Sample
from tests.support.fakes import ScriptedLM, TableVerifier, problem
from ttc.search import BestOfNConfig, Pool, accuracy, best_of_n, sample_pools, select, sweep
from ttc.verifiers import VerifierBase

# sample i of every request: four solutions, two of them identical
SOLUTIONS = ["a\n\\boxed{1}", "b\n\\boxed{2}", "b\n\\boxed{2}", "c\nno answer"]
TABLE = {"a/\\boxed{1}": 0.9, "b/\\boxed{2}": 0.3, "c/no answer": 1.0}


def script(so_far, i, request):
    return SOLUTIONS[i], "eos"


@pytest.mark.parametrize("selection, answer", [("naive", "1"), ("weighted", "1"), ("majority", "2")])
def test_selection_over_n_samples(selection, answer):
    lm, prm = ScriptedLM(script), TableVerifier(TABLE)
    problems = [problem(0, "1"), problem(1, "2")]
    results = best_of_n(problems, lm, prm, BestOfNConfig(n=4, selection=selection))
    assert [r.answer for r in results] == [answer, answer]
    assert [r.correct for r in results] == [float(answer == "1"), float(answer == "2")]
    assert len(lm.calls) == 1 and [r.n for r in lm.calls[0]] == [4, 4]  # one call, a request per problem
    assert len(prm.calls) == 1 and len(prm.calls[0]) == 6  # one call; the duplicate scored once
    r = results[0]
    assert (r.generations, r.budget, r.candidates, r.strategy) == (4, 4, 4, "best_of_n")
    assert sum(x.prompt_tokens for x in results) == lm.ledger.prompt_tokens
    assert sum(x.generated_tokens for x in results) == lm.ledger.generated_tokens
    assert sum(cast(int, x.prm_tokens) for x in results) == prm.tokens_scored
    assert r.flops_policy == 2 * 10 * (r.prompt_tokens + r.generated_tokens)
    assert r.flops_prm == 2 * 3 * cast(int, r.prm_tokens)


def test_weighted_beats_majority_when_the_verifier_knows():
    # 0.9 for "1" vs 0.3 + 0.3 for "2": weighted picks 1; a single 0.2 would lose to 0.6
    lm = ScriptedLM(script)
    low = TableVerifier({**TABLE, "a/\\boxed{1}": 0.2})
    assert best_of_n([problem()], lm, low, BestOfNConfig(n=4))[0].answer == "2"


def test_a_verifier_without_a_token_counter_leaves_prm_cost_unknown():
    class Bare(VerifierBase):  # the protocol's defaults: last_tokens None, no count
        def score(self, questions, solutions):
            return [[0.5] * len(s) for s in solutions]

    r = best_of_n([problem()], ScriptedLM(script), Bare(), BestOfNConfig(n=2))[0]
    assert r.prm_tokens is None and r.flops_prm is None and r.flops_policy > 0


def test_unscorable_output_is_an_error():
    class Short(TableVerifier):
        def score(self, questions, solutions):
            return [v[:-1] for v in super().score(questions, solutions)]

    with pytest.raises(ValueError, match="expected one value in \\[0, 1\\] per step"):
        best_of_n([problem()], ScriptedLM(script), Short(), BestOfNConfig(n=2))


def pool(answers, correct, scores, pid="p"):
    samples = [Sample(pid, i, "", ["x"], a, c, 1, "eos") for i, (a, c) in enumerate(zip(answers, correct))]
    return Pool(pid, samples, [[s] for s in scores])


ANSWERS = ["1", "2", "2", None, "3", "1", "2", "1"]
CORRECT = [True, False, False, False, False, True, False, True]
SCORES = [0.6, 0.7, 0.7, 0.95, 0.2, 0.1, 0.3, 0.6]  # ties, and an unanswered top score


def brute_force(p, n, how):
    picks = []
    for subset in combinations(range(len(p.samples)), n):
        chosen = select([p.samples[i].answer for i in subset], [p.values[i][0] for i in subset], how)
        picks.append(chosen is not None and p.samples[subset[chosen]].correct)
    return float(np.mean(picks))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_estimates_equal_the_average_over_all_subsets(n):
    p = pool(ANSWERS, CORRECT, SCORES)
    for how in ("weighted", "majority"):  # few subsets: enumerated, exact
        assert accuracy(p, n, how) == pytest.approx(brute_force(p, n, how), abs=1e-12)
    # naive: closed form; ties split evenly where the first-in-subset rule breaks them by order
    tie_free = pool(ANSWERS, CORRECT, [0.6, 0.7, 0.71, 0.95, 0.2, 0.1, 0.3, 0.61])
    assert accuracy(tie_free, n, "naive") == pytest.approx(brute_force(tie_free, n, "naive"), abs=1e-12)


def test_naive_splits_ties_evenly():
    p = pool(["1", "2"], [True, False], [0.5, 0.5])
    assert accuracy(p, 2, "naive") == 0.5
    assert accuracy(p, 1, "naive") == 0.5
    assert accuracy(pool([None, "1"], [False, True], [0.9, 0.1]), 2, "naive") == 1.0


def test_random_subsets_approach_the_exact_value():
    rng = np.random.default_rng(0)
    answers = [str(a) for a in rng.integers(0, 4, 40)]
    p = pool(answers, [a == "0" for a in answers], rng.random(40).tolist())
    exact_naive = accuracy(p, 10, "naive")
    assert 0 < exact_naive < 1
    estimates = [accuracy(p, 10, "weighted", num_subsets=4000, seed=s) for s in range(2)]
    assert estimates[0] == pytest.approx(estimates[1], abs=0.04)
    assert accuracy(p, 10, "weighted", num_subsets=50) == accuracy(p, 10, "weighted", num_subsets=50)


def test_bad_pools_and_budgets_are_refused():
    with pytest.raises(ValueError, match="empty pool"):
        accuracy(pool([], [], []), 1, "weighted")
    with pytest.raises(ValueError, match="1 <= n <= 2, not 3"):
        accuracy(pool(["1", "2"], [True, False], [0.5, 0.5]), 3, "weighted")
    with pytest.raises(ValueError, match="unknown selection"):
        accuracy(pool(["1"], [True], [0.5]), 1, cast(Any, "best"))  # not a Selection
    assert accuracy(pool([None, None], [False, False], [0.5, 0.5]), 2, "majority") == 0.0


def test_sweep_costs_one_pool_and_its_top_matches_a_run():
    lm, prm = ScriptedLM(script), TableVerifier(TABLE)
    cfg = BestOfNConfig(n=4)
    pools = sample_pools([problem(0, "1")], lm, prm, cfg)
    results = sweep(pools, [1, 2, 4], cfg, lm.num_parameters, prm.num_parameters)
    assert len(lm.calls) == 1
    assert [r.budget for r in results] == [1, 2, 4]
    run = best_of_n([problem(0, "1")], ScriptedLM(script), TableVerifier(TABLE), cfg)[0]
    assert results[-1].correct == run.correct == 1.0
    # n=1: the mean of the answered samples' correctness
    assert results[0].correct == pytest.approx(1 / 4)
    assert results[0].generated_tokens == round(lm.ledger.generated_tokens / 4)
    assert results[0].prompt_tokens == lm.ledger.prompt_tokens  # n samples of one request share it
    with pytest.raises(ValueError, match="costs are unknown"):
        sweep([pool(["1"], [True], [0.5])], [1], cfg, 10, 3)


def test_a_pool_is_decided_by_the_sampling_settings_and_a_method_by_its_settings():
    cfg = BestOfNConfig(n=8, seed=3, selection="majority", aggregation="min", max_tokens=64)
    assert cfg.pool_settings() == {"temperature": 0.8, "top_p": 1.0, "max_tokens": 64, "stop": []}
    params = {**cfg.params(), "pool": 16}  # as a sweep records it: the pool size is the run's, no setting
    assert BestOfNConfig.method_of(params) == {k: v for k, v in cfg.settings().items() if k not in ("n", "seed")}
