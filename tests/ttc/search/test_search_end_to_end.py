"""Every strategy on the real engines: the toy base model (transformers backend) and a tiny PRM
fine-tuned from it in seconds on perturbed toy solutions (tests/support/fakes.py perturbed_labels)."""

from typing import cast

import pytest

from data.problems import DataConfig, load_problems
from data.steps import extract_answer
from tests.support.fakes import Recording, perturbed_labels
from tests.support.runs import train_tiny_prm
from ttc.search import BeamConfig, BestOfNConfig, DVTSConfig, sample_pools, sweep
from ttc.strategies import STRATEGIES

PROBLEMS = load_problems(DataConfig(levels=[2, 3], per_level=2, split="search-e2e"))


@pytest.fixture(scope="module")
def toy_prm(tmp_path_factory, toy_base_path):
    from ttc.verifiers.hf_prm import HFPRM

    path = train_tiny_prm(tmp_path_factory.mktemp("search-prm"), toy_base_path, perturbed_labels(60))
    return HFPRM(str(path), batch_size=32)


CONFIGS = {
    "beam": BeamConfig(n=4, beam_width=2, max_step_tokens=48, seed=3),
    "lookahead": BeamConfig(n=4, beam_width=2, lookahead=1, max_step_tokens=48, seed=3),
    "dvts": DVTSConfig(n=4, beam_width=2, max_step_tokens=48, seed=3),
    "best_of_n": BestOfNConfig(n=4, max_tokens=96, seed=3),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_strategy_books_balance_and_results_do_not_depend_on_the_batch(name, hf_lm, toy_prm):
    cfg = CONFIGS[name]
    run = STRATEGIES[name if name != "lookahead" else "beam"].run
    prm = Recording(toy_prm)
    ledger, scored = (hf_lm.ledger.prompt_tokens, hf_lm.ledger.generated_tokens), toy_prm.tokens_scored
    results = run(PROBLEMS, hf_lm, prm, cfg)
    assert [r.problem_id for r in results] == [p.id for p in PROBLEMS]
    assert sum(r.prompt_tokens for r in results) == hf_lm.ledger.prompt_tokens - ledger[0]
    assert sum(r.generated_tokens for r in results) == hf_lm.ledger.generated_tokens - ledger[1]
    assert sum(cast(int, r.prm_tokens) for r in results) == toy_prm.tokens_scored - scored
    assert len(prm.asked) == len(set(prm.asked))  # no prefix scored twice
    for r, p in zip(results, PROBLEMS):
        assert r.generations == cfg.generations and r.budget == 4
        assert r.flops_policy == 2 * hf_lm.num_parameters * (r.prompt_tokens + r.generated_tokens)
        assert r.flops_prm == 2 * toy_prm.num_parameters * r.prm_tokens
        assert r.correct == float(r.answer == p.answer)
        if r.answer is not None:
            assert extract_answer(cast(str, r.solution)) == r.answer  # answers come from finished solutions
    assert any(r.correct for r in results)
    again = run([PROBLEMS[3], PROBLEMS[1]], hf_lm, toy_prm, cfg)
    assert [(r.answer, r.solution) for r in again] == [(results[i].answer, results[i].solution) for i in (3, 1)]


def test_a_best_of_n_sweep_costs_one_pool(hf_lm, toy_prm):
    cfg = BestOfNConfig(n=8, max_tokens=96)
    calls = hf_lm.ledger.calls
    pools = sample_pools(PROBLEMS, hf_lm, toy_prm, cfg)
    assert hf_lm.ledger.calls - calls == 1
    results = sweep(pools, [1, 2, 4, 8], cfg, hf_lm.num_parameters, toy_prm.num_parameters)
    assert len(results) == 4 * len(PROBLEMS)
    assert all(0.0 <= r.correct <= 1.0 for r in results)
    by_n = {n: [r.generated_tokens for r in results if r.budget == n] for n in (1, 8)}
    assert all(a <= b for a, b in zip(*by_n.values()))
