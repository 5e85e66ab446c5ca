"""Beam search and lookahead on hand-built trees: which beams are kept, expanded, set aside."""

from typing import cast

import pytest

from data.steps import split_steps
from tests.support.fakes import ScriptedLM, TableVerifier, problem
from ttc.search import BeamConfig, beam_search


def depth(so_far):
    return len(split_steps(so_far))


def two_steps_then_answer(so_far, i, request):
    """Steps "s<i>" twice, then the answer: the index of the second step's sample."""
    if depth(so_far) < 2:
        return f"s{i}\n", "stop"
    return f"\\boxed{{{split_steps(so_far)[1][1:]}}}", "eos"


TABLE = {"s0": 0.1, "s1": 0.9, "s2": 0.5, "s3": 0.7, "s1/s0": 0.2, "s1/s1": 0.3, "s3/s0": 0.8, "s3/s1": 0.6}


@pytest.mark.parametrize("dedupe, finals", [(False, 4), (True, 2)])  # a beam's two samples answer alike
def test_keeps_the_top_n_over_m_and_expands_each_m_times(dedupe, finals):
    lm, prm = ScriptedLM(two_steps_then_answer), TableVerifier(TABLE)
    [result] = beam_search([problem(0, "0")], lm, prm, BeamConfig(n=4, beam_width=2, dedupe=dedupe))
    expanded = [[(r.prompt.split("Solution:\n")[1], r.n) for r in call] for call in lm.calls]
    assert expanded == [
        [("", 4)],  # N first steps, one request
        [("s1\n", 2), ("s3\n", 2)],  # the N/M = 2 best: 0.9 and 0.7
        [("s3\ns0\n", 2), ("s3\ns1\n", 2)],  # 0.8 and 0.6 beat s1's children (0.2, 0.3)
    ]
    assert len(prm.calls) == 3  # one verifier call a round
    assert result.candidates == finals and result.distinct_candidates == 2
    assert result.answer == "0" and result.correct == 1.0
    assert result.solution == "s3\ns0\n\\boxed{0}"
    assert (result.generations, result.budget, result.strategy) == (4, 4, "beam")
    assert result.params["width"] == 2 and result.params["lookahead"] == 0 and result.params["dedupe"] == dedupe


def test_final_selection_is_weighted_over_the_finished_beams():
    # finals: s3/s0/{0} and s3/s1/{1}, twice each; "1" wins on summed last-step values
    table = {**TABLE, "s3/s0/\\boxed{0}": 0.4, "s3/s1/\\boxed{1}": 0.45}
    result = beam_search(
        [problem(0, "0")], ScriptedLM(two_steps_then_answer), TableVerifier(table), BeamConfig(n=4, beam_width=2)
    )[0]
    assert result.answer == "1" and result.correct == 0.0
    naive = beam_search(
        [problem(0, "0")],
        ScriptedLM(two_steps_then_answer),
        TableVerifier(table),
        BeamConfig(n=4, beam_width=2, selection="naive"),
    )[0]
    assert naive.answer == "1"


def early_finisher(so_far, i, request):
    """Sample 0 of the first round answers at once; everything else takes one more step."""
    if so_far == "":
        return ("\\boxed{7}", "eos") if i == 0 else (f"s{i}\n", "stop")
    return f"\\boxed{{{i}}}", "eos"


def test_finished_beams_are_set_aside_and_the_best_n_finals_kept():
    table = {
        "\\boxed{7}": 0.05,
        "s1": 0.9,
        "s2": 0.8,
        "s3": 0.1,
        "s1/\\boxed{0}": 0.9,
        "s1/\\boxed{1}": 0.8,
        "s2/\\boxed{0}": 0.7,
        "s2/\\boxed{1}": 0.6,
    }
    lm, prm = ScriptedLM(early_finisher), TableVerifier(table)
    [result] = beam_search([problem(0, "7")], lm, prm, BeamConfig(n=4, beam_width=2))
    # round 1: the early answer is set aside; the 2 best of the 3 unfinished are expanded
    assert [r.prompt.split("Solution:\n")[1] for r in lm.calls[1]] == ["s1\n", "s2\n"]
    # round 2: 4 more finals make 5 >= N: stop; the lowest-scoring (the early 7) is dropped
    assert len(lm.calls) == 2 and result.candidates == 4 and result.answer == "0"


def test_unfinished_beams_after_max_rounds_give_no_answer():
    lm = ScriptedLM(lambda so_far, i, r: (f"s{i}\n", "stop"))
    [result] = beam_search([problem()], lm, TableVerifier(), BeamConfig(n=4, beam_width=2, max_rounds=3))
    assert len(lm.calls) == 3 and result.answer is None and result.candidates == 0 and result.correct == 0.0


@pytest.mark.parametrize("dedupe, finals", [(False, 2), (True, 1)])  # both samples are cut alike
def test_a_step_cut_by_the_length_limit_ends_its_beam(dedupe, finals):
    lm = ScriptedLM(lambda so_far, i, r: ("s" * r.max_tokens, "length"))
    cfg = BeamConfig(n=2, beam_width=2, max_step_tokens=5, dedupe=dedupe)
    [result] = beam_search([problem()], lm, TableVerifier(), cfg)
    assert len(lm.calls) == 1 and result.candidates == finals and result.answer is None
    assert result.distinct_candidates == 0  # no answer in them


def test_one_lm_and_one_verifier_call_a_round_for_all_problems_and_no_prefix_scored_twice():
    lm, prm = ScriptedLM(two_steps_then_answer), TableVerifier(TABLE)
    problems = [problem(i, "0") for i in range(3)]
    together = beam_search(problems, lm, prm, BeamConfig(n=4, beam_width=2))
    assert len(lm.calls) == 3 and [len(call) for call in lm.calls] == [3, 6, 6]
    assert len(prm.calls) == 3
    scored = [item for call in prm.calls for item in call]
    assert len(scored) == len(set(scored))
    alone = beam_search(
        problems[1:2], ScriptedLM(two_steps_then_answer), TableVerifier(TABLE), BeamConfig(n=4, beam_width=2)
    )
    assert alone[0].solution == together[1].solution
    assert sum(r.prompt_tokens for r in together) == lm.ledger.prompt_tokens
    assert sum(r.generated_tokens for r in together) == lm.ledger.generated_tokens
    assert sum(cast(int, r.prm_tokens) for r in together) == prm.tokens_scored


def test_repeated_steps_and_blank_lines_are_scored_once():
    # every sample writes the same step, then a blank line, then the answer
    def same(so_far, i, request):
        return ["x\n", "\n", "\\boxed{1}"][so_far.count("\n")], "eos" if so_far.count("\n") == 2 else "stop"

    prm = TableVerifier()
    beam_search([problem()], ScriptedLM(same), prm, BeamConfig(n=4, beam_width=2))
    # round 1: "x" once; round 2: "x" + blank line = the same steps: no call; round 3: the answer
    assert [[s for _, s in call] for call in prm.calls] == [[("x",)], [("x", "\\boxed{1}")]]


def seeded_world(so_far, i, request):
    """Sampled steps "a<i>", "b<i>", then the answer (the first step's index); greedy steps "g",
    and a greedy answer "g"."""
    d = depth(so_far)
    if request.temperature == 0:
        return ("g\n", "stop") if d < 2 else ("\\boxed{g}", "eos")
    if d < 2:
        return f"{'ab'[d]}{i}\n", "stop"
    return f"\\boxed{{{split_steps(so_far)[0][1:]}}}", "eos"


def test_lookahead_scores_a_step_by_the_end_of_its_greedy_rollout():
    table = {
        "a0": 0.8,
        "a1": 0.2,  # plain beam search would keep a0...
        "a0/g/\\boxed{g}": 0.1,
        "a1/g/\\boxed{g}": 0.9,  # ...its rollout says a1
        "a1/b0/\\boxed{g}": 0.4,
        "a1/b1/\\boxed{g}": 0.7,
    }
    lm, prm = ScriptedLM(seeded_world), TableVerifier(table)
    [result] = beam_search([problem(0, "1")], lm, prm, BeamConfig(n=2, beam_width=2, lookahead=2))
    calls = [[(r.prompt.split("Solution:\n")[1], r.n, r.temperature) for r in call] for call in lm.calls]
    assert calls == [
        [("", 2, 0.8)],
        [("a0\n", 1, 0.0), ("a1\n", 1, 0.0)],  # rollout depth 1, all candidates in one call
        [("a0\ng\n", 1, 0.0), ("a1\ng\n", 1, 0.0)],  # depth 2
        [("a1\n", 2, 0.8)],  # a1 kept on its rollout's value
        [("a1\nb0\n", 1, 0.0), ("a1\nb1\n", 1, 0.0)],  # the rollouts end after one step: the answer
        [("a1\nb1\n", 2, 0.8)],
    ]
    assert result.solution == "a1\nb1\n\\boxed{1}"  # rollout text is scored, never kept
    assert result.answer == "1" and result.generations == 2 * 3 and result.params["lookahead"] == 2
    [plain] = beam_search(
        [problem(0, "1")], ScriptedLM(seeded_world), TableVerifier(table), BeamConfig(n=2, beam_width=2)
    )
    assert cast(str, plain.solution).startswith("a0")


def test_greedy_rollouts_are_computed_once_per_prefix():
    # all samples identical: one rollout request a depth, whatever N
    def same(so_far, i, request):
        return seeded_world(so_far, 0, request)

    lm = ScriptedLM(same)
    beam_search([problem()], lm, TableVerifier(), BeamConfig(n=4, beam_width=2, lookahead=1))
    greedy = [r for call in lm.calls for r in call if r.temperature == 0]
    assert len(greedy) == len({r.prompt for r in greedy})


def test_budget_must_divide_by_the_width():
    with pytest.raises(ValueError, match="N=8 beams are not divisible by beam width M=3"):
        BeamConfig(n=8, beam_width=3)


def blank_lines_between_steps(so_far, i, request):
    """A MATH-style writer: a blank line after each step (as an engine stopping at "\\n" inside a
    "\\n\\n" token leaves it), two steps, then the answer."""
    if so_far.endswith("\n") and not so_far.endswith("\n\n"):
        return "\n", "stop"
    if depth(so_far) < 2:
        return f"s{i}\n", "stop"
    return "\\boxed{1}", "eos"


@pytest.mark.parametrize("lookahead", [0, 1])
def test_a_blank_line_is_not_a_step_nor_a_round(lookahead):
    lm, prm = ScriptedLM(blank_lines_between_steps), TableVerifier()
    cfg = BeamConfig(n=2, beam_width=2, max_rounds=3, lookahead=lookahead, temperature=0.0 if lookahead else 0.8)
    [result] = beam_search([problem(0, "1")], lm, prm, cfg)
    assert result.answer == "1" and result.solution == "s0\n\ns0\n\n\\boxed{1}"  # 3 rounds, 3 steps
    asked = {steps for call in prm.calls for _, steps in call}
    assert ("s0", "s0", "\\boxed{1}") in asked and all(all(s.strip() for s in steps) for steps in asked)
    continued = [r for call in lm.calls for r in call if r.prompt.endswith("\n\n")]
    assert continued and all(r.n == 1 and r.max_tokens == cfg.max_step_tokens - 1 for r in continued)


def test_blank_lines_up_to_the_step_budget_cut_the_step():
    lm = ScriptedLM(lambda so_far, i, request: ("\n", "stop"))
    [result] = beam_search([problem(0, "1")], lm, TableVerifier(), BeamConfig(n=1, beam_width=1, max_step_tokens=3))
    assert [len(call) for call in lm.calls] == [1, 1, 1]  # the step, then 2 continuations: 3 tokens
    assert result.answer is None and result.candidates == 1  # a cut step ends its solution
