"""Revision chains on the real engines: the toy base model as the reviser (not yet trained on
the revision format: this checks the mechanics) and a tiny PRM fine-tuned in seconds as the ORM."""

import dataclasses
from typing import cast

import pytest

from data.problems import DataConfig, load_problems
from data.revision_format import ContextError, revision_prompt, revision_question
from data.steps import extract_answer
from tests.support.fakes import Recording
from tests.support.runs import REPO, synthetic_labels, train_tiny_prm
from ttc.lm import BoundedLM
from ttc.lm.spec import LMConfig, load_lm
from ttc.revise import ChainSet, RevisionConfig, revision, sample_chains, score_chains
from ttc.revise.records import Attempt, reviser_saw

pytestmark = pytest.mark.e2e  # real engines

PROBLEMS = load_problems(DataConfig(levels=[1, 3], per_level=2, split="revise-e2e"))


@pytest.fixture(scope="module")
def toy_orm(tmp_path_factory, toy_base_path):
    from ttc.verifiers.hf_prm import HFPRM

    path = train_tiny_prm(tmp_path_factory.mktemp("revision-orm"), toy_base_path, synthetic_labels(20))
    return HFPRM(str(path), batch_size=32)


def test_chains_on_the_real_reviser_and_orm(hf_lm, toy_orm):
    cfg = RevisionConfig(n=6, ratio=6 / 4, max_tokens=96, seed=1)  # 2 chains of 3
    orm = Recording(toy_orm)
    calls, ledger, scored = (
        hf_lm.ledger.calls,
        (hf_lm.ledger.prompt_tokens, hf_lm.ledger.generated_tokens),
        toy_orm.tokens_scored,
    )
    results = revision(PROBLEMS, hf_lm, orm, cfg)
    assert hf_lm.ledger.calls - calls == 3  # one LM call per revision step
    weighted = results  # one result per problem, cfg.selection's
    assert [(r.problem_id, r.params["selection"]) for r in weighted] == [(p.id, "weighted") for p in PROBLEMS]
    assert sum(r.prompt_tokens for r in weighted) == hf_lm.ledger.prompt_tokens - ledger[0]
    assert sum(r.generated_tokens for r in weighted) == hf_lm.ledger.generated_tokens - ledger[1]
    assert sum(cast(int, r.prm_tokens) for r in weighted) == toy_orm.tokens_scored - scored
    assert {q.count("Previous attempt") for q, _ in orm.asked} == {0, 1, 2}  # the ORM read each history
    for r, p in zip(weighted, PROBLEMS):
        assert (r.generations, r.budget, r.candidates) == (6, 6, 6)
        assert r.flops_policy == 2 * hf_lm.num_parameters * (r.prompt_tokens + r.generated_tokens)
        assert r.correct == float(r.answer == p.answer)
        if r.answer is not None:
            assert extract_answer(cast(str, r.solution)) == r.answer
    assert any(r.correct for r in results)


def test_a_smaller_split_is_the_start_of_the_larger_one_on_the_real_engine(hf_lm):
    cfg = RevisionConfig(n=6, ratio=6 / 4, max_tokens=96, seed=1)
    big = sample_chains(PROBLEMS[:2], hf_lm, cfg)
    small = sample_chains(PROBLEMS[1:2], hf_lm, RevisionConfig(n=2, ratio=2, max_tokens=96, seed=1))
    assert [a.text for a in small[0].chains[0]] == [a.text for a in big[1].chains[0][:2]]


TOY_REVISER = REPO / "train" / "checkpoints" / "toy-reviser"
SMALL_CONTEXT = 256  # a 5-attempt chain of these problems outgrows it


def check_fitted_chains(lm, cfg, chain_sets, prompt_tokens_before):
    """Every attempt was written after the newest previous attempts that leave max_tokens of the
    context free (one more would not have), and those are the prompts the engine read."""
    sent = 0
    for problem, chain_set in zip(PROBLEMS, chain_sets):
        for chain in chain_set.chains:
            assert len(chain) == cfg.split[1]
            for t, attempt in enumerate(chain):
                seen = reviser_saw(chain, t, cfg.max_attempts)
                assert seen == [a.text for a in chain[:t]][len(chain[:t]) - len(seen) :]  # the newest
                tokens = lm.count_tokens(revision_prompt(cfg.prompt, problem.question, seen).text)
                assert tokens + cfg.max_tokens <= SMALL_CONTEXT
                if attempt.dropped:  # one more (older) attempt would not have fitted
                    more = [a.text for a in chain[:t]][-len(seen) - 1 :]
                    assert (
                        lm.count_tokens(revision_prompt(cfg.prompt, problem.question, more).text) + cfg.max_tokens
                        > SMALL_CONTEXT
                    )
                sent += tokens
    assert sent == lm.ledger.prompt_tokens - prompt_tokens_before  # count_tokens counts as the engine does
    assert sum(a.dropped for cs in chain_sets for chain in cs.chains for a in chain) > 0


@pytest.mark.parametrize("backend", ["hf", "vllm"])
def test_chains_outgrowing_a_small_context_keep_the_newest_attempts_that_fit(backend):
    lm = load_lm(LMConfig(model=str(TOY_REVISER), backend=backend, dtype="float32", max_model_len=SMALL_CONTEXT))
    try:
        assert cast(BoundedLM, lm).context_length == SMALL_CONTEXT
        cfg = RevisionConfig(n=5, ratio=5, max_tokens=96, temperature=0.8, seed=3)  # one chain of 5
        before = lm.ledger.prompt_tokens
        chain_sets = sample_chains(PROBLEMS, lm, cfg)
        check_fitted_chains(lm, cfg, chain_sets, before)
        with pytest.raises(
            ContextError,
            match=rf"problem {PROBLEMS[0].id}: the reviser's prompt \(context 256 tokens "
            r"less max_tokens 250\)",
        ):
            sample_chains(PROBLEMS[:1], lm, dataclasses.replace(cfg, max_tokens=250))
    finally:
        if backend == "vllm":
            lm.close()


def test_hf_context_is_the_models_without_max_model_len(hf_lm):
    assert hf_lm.context_length == 1024  # the toy config's max_position_embeddings


def test_the_orm_reads_what_the_reviser_saw_fitted_to_its_own_context(toy_orm):
    problem = PROBLEMS[0]
    texts = [f"={k}\n\\boxed{{{k}}}" for k in range(3)]
    chain = [
        Attempt(problem.id, 0, t, text, str(t), False, None, 3, "eos", dropped=int(t == 2))  # as a small reviser
        for t, text in enumerate(texts)
    ]
    orm = Recording(toy_orm)
    score_chains([problem], [ChainSet(problem.id, [chain])], orm, "last", 4)
    assert [q for q, _ in orm.asked] == [
        revision_question(problem.question, seen).text for seen in ([], texts[:1], texts[1:2])
    ]  # attempt 2 saw attempt 1 only
    question, steps = orm.asked[2]
    small = SmallContext(toy_orm, toy_orm.count_tokens(question, list(steps)) - 1)  # one token short of it
    score_chains([problem], [ChainSet(problem.id, [chain])], small, "last", 4)
    assert small.asked[2][0] == problem.question  # the ORM's own context dropped that attempt too


class SmallContext(Recording):
    """A real verifier that states a smaller context than its model's."""

    def __init__(self, verifier, context_length):
        super().__init__(verifier)
        self.context_length = context_length

    def count_tokens(self, question, steps):
        return self.verifier.count_tokens(question, steps)
