"""Revision chains on the real engines: the toy base model as the reviser (not yet trained on
the revision format: this checks the mechanics) and a tiny PRM fine-tuned in seconds as the ORM."""

import pytest
from conftest import synthetic_labels, train_tiny_prm
from fakes import Recording

from data.problems import DataConfig, load_problems
from data.steps import extract_answer
from ttc.revise import RevisionConfig, revision, sample_chains

PROBLEMS = load_problems(DataConfig(levels=[1, 3], per_level=2, split="revise-e2e"))


@pytest.fixture(scope="module")
def toy_orm(tmp_path_factory, toy_base_path):
    from ttc.verifiers.hf_prm import HFPRM

    path = train_tiny_prm(tmp_path_factory.mktemp("revision-orm"), toy_base_path, synthetic_labels(20))
    return HFPRM(str(path), batch_size=32)


def test_chains_on_the_real_reviser_and_orm(hf_lm, toy_orm):
    cfg = RevisionConfig(n=6, ratio=6 / 4, max_tokens=96, seed=1)  # 2 chains of 3
    orm = Recording(toy_orm)
    calls, ledger, scored = hf_lm.ledger.calls, (hf_lm.ledger.prompt_tokens, hf_lm.ledger.generated_tokens), toy_orm.tokens_scored
    results = revision(PROBLEMS, hf_lm, orm, cfg)
    assert hf_lm.ledger.calls - calls == 3  # one LM call per revision step
    weighted = [r for r in results if r.params["selection"] == "weighted"]
    assert [r.problem_id for r in weighted] == [p.id for p in PROBLEMS]
    assert sum(r.prompt_tokens for r in weighted) == hf_lm.ledger.prompt_tokens - ledger[0]
    assert sum(r.generated_tokens for r in weighted) == hf_lm.ledger.generated_tokens - ledger[1]
    assert sum(r.prm_tokens for r in weighted) == toy_orm.tokens_scored - scored
    assert {q.count("Previous attempt") for q, _ in orm.asked} == {0, 1, 2}  # the ORM read each history
    for r, p in zip(weighted, PROBLEMS):
        assert (r.generations, r.budget, r.candidates) == (6, 6, 6)
        assert r.flops_policy == 2 * hf_lm.num_parameters * (r.prompt_tokens + r.generated_tokens)
        assert r.correct == float(r.answer == p.answer)
        if r.answer is not None:
            assert extract_answer(r.solution) == r.answer
    assert any(r.correct for r in results)


def test_a_smaller_split_is_the_start_of_the_larger_one_on_the_real_engine(hf_lm):
    cfg = RevisionConfig(n=6, ratio=6 / 4, max_tokens=96, seed=1)
    big = sample_chains(PROBLEMS[:2], hf_lm, cfg)
    small = sample_chains(PROBLEMS[1:2], hf_lm, RevisionConfig(n=2, ratio=2, max_tokens=96, seed=1))
    assert [a.text for a in small[0].chains[0]] == [a.text for a in big[1].chains[0][:2]]
