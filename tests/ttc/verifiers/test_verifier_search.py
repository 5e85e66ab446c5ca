"""One real search per verifier kind: best-of-N with the toy base model (transformers backend)
on 2 toy problems, n=2, scored by each kind loaded through the one spec (its stand-in for the
public PRMs, the committed toy PRM for ours, the base model itself for the likelihood)."""

from typing import cast

import pytest

from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from ttc.search import BestOfNConfig
from ttc.strategies import STRATEGIES
from ttc.verifiers.spec import KINDS, VerifierConfig, load_verifier

PROBLEMS = load_problems(DataConfig(levels=[2], per_level=2, split="verifier-search"))


@pytest.mark.parametrize("kind", list(KINDS))
def test_best_of_n_runs_on_every_kind(kind, standins, hf_lm):
    prm = load_verifier(VerifierConfig(path=str(standins[kind]), kind=kind, batch_size=4), PromptFormat())
    cfg = BestOfNConfig(n=2, max_tokens=64, aggregation=prm.aggregation, seed=1)
    scored = prm.tokens_scored
    results = STRATEGIES["best_of_n"].run(PROBLEMS, hf_lm, prm, cfg)
    assert [r.problem_id for r in results] == [p.id for p in PROBLEMS]
    assert sum(cast(int, r.prm_tokens) for r in results) == prm.tokens_scored - scored > 0
    assert all(r.flops_prm == 2 * cast(int, prm.num_parameters) * cast(int, r.prm_tokens) for r in results)
    assert all(r.generations == 2 for r in results)
