"""Revision chains on a scripted reviser: one LM call per step, context of the 4 most recent
attempts, sampling without a verifier, the ORM scoring every attempt in one call with the same
context, and results with search's records and ledger."""

import dataclasses
import json
import re
from typing import cast

import pytest

from data.prompts import PromptFormat
from data.records import Problem, RecordError, write_atomic
from data.revision_format import revision_prompt, revision_question
from tests.support.fakes import ScriptedLM, TableVerifier
from ttc.revise import RevisionConfig, chain_records, read_chain_sets, revision, sample_chains, score_chains
from ttc.search import REVISION, Strategy
from ttc.search.result import Costs
from ttc.strategies import STRATEGIES


def problem(i, answer="2"):
    return Problem(f"q{i}", f"question {i}", answer, source="toy")


def previous(prompt):
    """The texts of the previous attempts a reviser prompt holds, in order."""
    return re.findall(r"Solution:\n(.*?)\n\n", prompt, flags=re.S)


def reviser(so_far, i, request):
    """Answers the number of previous attempts it sees; its first line names its seed, so every
    attempt's text is unique."""
    k = len(previous(request.prompt))
    return f"seed {request.seed}\n\\boxed{{{k}}}", "eos"


def test_one_lm_call_per_step_and_one_verifier_call():
    lm, orm = ScriptedLM(reviser), TableVerifier()
    cfg = RevisionConfig(n=6, ratio=6 / 4)  # 2 chains of 3
    problems = [problem(0), problem(1), problem(2)]
    unscored = sample_chains(problems, lm, cfg)
    assert len(lm.calls) == 3  # one per revision step
    assert all(len(call) == 3 * 2 and {r.n for r in call} == {1} for call in lm.calls)  # problems x chains
    assert {a.score for cs in unscored for chain in cs.chains for a in chain} == {None}
    costs = [cast(Costs, cs.costs) for cs in unscored]  # the reviser's, no ORM's yet
    assert sum(c.prompt_tokens for c in costs) == lm.ledger.prompt_tokens
    assert sum(c.generated_tokens for c in costs) == lm.ledger.generated_tokens
    assert {c.prm_tokens for c in costs} == {None}
    chain_sets = score_chains(problems, unscored, orm, "last", cfg.max_attempts)
    assert len(orm.calls) == 1 and len(orm.calls[0]) == 3 * 6  # every attempt, in one call
    texts = [a.text for a in unscored[0].chains[0]]  # (problem, chain, attempt) order: q0's chain 0 first
    assert [q for q, _ in orm.calls[0][:3]] == [revision_question("question 0", texts[:t]).text for t in range(3)]
    assert [cs.problem_id for cs in chain_sets] == ["q0", "q1", "q2"]
    assert sum(cast(int, cast(Costs, cs.costs).prm_tokens) for cs in chain_sets) == orm.tokens_scored
    for before, after in zip(unscored, chain_sets):
        assert [[a.score for a in chain] for chain in after.chains] == [[0.5] * 3] * 2
        assert [[dataclasses.replace(a, score=None) for a in chain] for chain in after.chains] == before.chains
    for cs in chain_sets:
        assert [len(chain) for chain in cs.chains] == [3, 3]
        # attempt t saw t previous attempts: pass@1 by step is readable off the records
        assert [[a.answer for a in chain] for chain in cs.chains] == [["0", "1", "2"]] * 2
        assert [[a.correct for a in chain] for chain in cs.chains] == [[False, False, True]] * 2
        assert len({a.text for chain in cs.chains for a in chain}) == 6  # seeded by (problem, chain, attempt)


def test_context_keeps_the_four_most_recent_attempts_and_the_orm_reads_it():
    lm, orm = ScriptedLM(reviser), TableVerifier()
    (cs,) = score_chains(
        [problem(0)], sample_chains([problem(0)], lm, RevisionConfig(n=7, ratio=7)), orm, "last", 4
    )  # one chain of 7
    texts = [a.text for a in cs.chains[0]]
    prompts = [call[0].prompt for call in lm.calls]
    for t, prompt in enumerate(prompts):
        assert previous(prompt) == texts[max(0, t - 4) : t]
        assert prompt == revision_prompt(PromptFormat(), "question 0", texts[:t]).text
    assert [a.answer for a in cs.chains[0]] == ["0", "1", "2", "3", "4", "4", "4"]  # never sees more than 4
    questions = [q for q, _ in orm.calls[0]]
    assert questions == [revision_question("question 0", texts[:t]).text for t in range(7)]


def test_max_attempts_zero_is_parallel_sampling():
    lm = ScriptedLM(reviser)
    (cs,) = sample_chains([problem(0)], lm, RevisionConfig(n=3, ratio=3, max_attempts=0))
    assert [a.answer for a in cs.chains[0]] == ["0", "0", "0"]


def test_a_small_split_is_the_start_of_a_big_one():
    small = sample_chains([problem(0)], ScriptedLM(reviser), RevisionConfig(n=4, ratio=1))[0]
    big = sample_chains([problem(0)], ScriptedLM(reviser), RevisionConfig(n=16, ratio=1))[0]
    assert [chain for chain in small.chains] == [chain[:2] for chain in big.chains[:2]]


def test_scoring_needs_one_chain_set_per_problem_in_order():
    chain_sets = sample_chains([problem(0), problem(1)], ScriptedLM(reviser), RevisionConfig(n=2))
    with pytest.raises(ValueError, match="one chain set per problem"):
        score_chains([problem(1), problem(0)], chain_sets, TableVerifier(), "last", 4)


def test_stored_chain_sets_read_back_in_problem_order(tmp_path):
    problems = [problem(0), problem(1)]
    sets = sample_chains(problems, ScriptedLM(reviser), RevisionConfig(n=6, ratio=6 / 4))
    records = [r for cs in sets for r in chain_records(cs)]
    write_atomic(tmp_path / "chains.jsonl", map(json.dumps, reversed(records)))  # any order in the file
    assert read_chain_sets(tmp_path / "chains.jsonl", problems) == [dataclasses.replace(cs, costs=None) for cs in sets]
    for lines, error in [
        (records + [{**records[0], "problem_id": "q9"}], "'q9' is not in the configured data"),
        (records[:-1], "every problem needs the same K chains of T attempts"),  # a chain short
        (records + [records[0]], "attempt 1 of chain 0 is recorded as"),
    ]:  # an attempt twice
        write_atomic(tmp_path / "bad.jsonl", map(json.dumps, lines))
        with pytest.raises(RecordError, match=error):
            read_chain_sets(tmp_path / "bad.jsonl", problems)


def script_with_gaps(so_far, i, request):
    """Attempt 0 writes no answer; later attempts answer 2 with a stop string."""
    k = len(previous(request.prompt))
    return ("no answer here" if k == 0 else f"seed {request.seed}\n\\boxed{{2}}\nEND"), ("eos" if k == 0 else "stop")


def test_results_have_search_records_and_ledger():
    lm, orm = ScriptedLM(script_with_gaps), TableVerifier()
    problems = [problem(0), problem(1, answer="5")]
    cfg = RevisionConfig(n=4, ratio=4, stop=["END"])
    results = revision(problems, lm, orm, cfg)
    assert [(r.problem_id, r.params["selection"]) for r in results] == [("q0", "weighted"), ("q1", "weighted")]
    for r in results:
        assert (r.strategy, r.budget, r.generations, r.candidates) == ("revision", 4, 4, 4)
        assert (r.params["chains"], r.params["length"]) == (1, 4)
        assert r.answer == "2" and cast(str, r.solution).endswith(
            "\\boxed{2}\n"
        )  # the stop string cut, the answerless first attempt skipped
        assert r.flops_policy == 2 * 10 * (r.prompt_tokens + r.generated_tokens)
        assert r.flops_prm == 2 * 3 * cast(int, r.prm_tokens)
    assert [r.correct for r in results] == [1.0, 0.0]
    assert sum(r.prompt_tokens for r in results) == lm.ledger.prompt_tokens
    assert sum(r.generated_tokens for r in results) == lm.ledger.generated_tokens
    assert sum(cast(int, r.prm_tokens) for r in results) == orm.tokens_scored
    assert "no answer here" in lm.calls[1][0].prompt  # an answerless attempt is still revised


def test_no_answer_anywhere_selects_nothing():
    lm = ScriptedLM(lambda so_far, i, r: ("no answer", "length"))
    results = revision([problem(0)], lm, TableVerifier(), RevisionConfig(n=2, ratio=0.5))
    assert [(r.answer, r.correct, r.solution) for r in results] == [(None, 0.0, None)]


def test_no_problems():
    lm, orm = ScriptedLM(reviser), TableVerifier()
    assert revision([], lm, orm, RevisionConfig(n=2)) == []
    assert lm.calls == [] and orm.calls == []  # Session.generate skips empty calls


def test_registered_as_a_strategy_on_the_reviser_and_its_orm():
    assert STRATEGIES["revision"] == Strategy(revision, RevisionConfig, models=REVISION)
    assert STRATEGIES["revision"].name == "revision" and not STRATEGIES["revision"].poolable


def test_selection_by_orm_scores():
    # one chain of 3: answers 0, 1, 2 (correct); the ORM likes the attempt answering 1 best
    class LastStep(TableVerifier):
        def score(self, questions, solutions):
            super().score(questions, solutions)
            return [[0.9 if s[-1] == "\\boxed{1}" else 0.2] * len(s) for s in solutions]

    chosen = {
        how: revision([problem(0)], ScriptedLM(reviser), LastStep(), RevisionConfig(n=3, ratio=3, selection=how))
        for how in ("weighted", "majority")
    }
    assert {how: [(r.params["selection"], r.answer) for r in results] for how, results in chosen.items()} == {
        "weighted": [("weighted", "1")],
        "majority": [("majority", "0")],
    }  # one result: its own selection's
