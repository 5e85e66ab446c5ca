"""`dedupe`: with it, kept beams and finals are distinct; without it, or when nothing repeats, the
search is what it was. The distinct-candidates count of every strategy; determinism under a seed."""

import dataclasses
from itertools import combinations

import pytest

from data.shards import derive_seed
from tests.support.fakes import Hashed, ScriptedLM, TableVerifier, problem, repetitive_policy
from ttc.search import BeamConfig, BestOfNConfig, DVTSConfig, beam_search, best_of_n, dvts, sample_pools, sweep
from ttc.search.best_of_n import expected_distinct

repetitive = repetitive_policy(steps=3, p_step=0.75)


TREES = {
    "beam": (beam_search, BeamConfig(n=16, beam_width=4, seed=1)),
    "lookahead": (beam_search, BeamConfig(n=8, beam_width=2, lookahead=1, seed=1)),
    "dvts": (dvts, DVTSConfig(n=16, beam_width=4, seed=1)),
}
PROBLEMS = [problem(i) for i in range(4)]


def search(name, script, **settings):
    run, cfg = TREES[name]
    lm = ScriptedLM(script)
    return run(PROBLEMS, lm, Hashed(), dataclasses.replace(cfg, **settings)), lm


def expanded(lm):
    """The nodes each sampling round expands (prompt and solution so far), after the first (where
    DVTS's subtrees all start from the prompt)."""
    return [[r.prompt for r in call] for call in lm.calls if call[0].temperature > 0][1:]


@pytest.mark.parametrize("name", list(TREES))
def test_with_dedupe_kept_beams_and_finals_are_distinct(name):
    assert search(name, repetitive)[0][0].params["dedupe"] is False  # the default, recorded
    results, lm = search(name, repetitive, dedupe=True)
    assert results[0].params["dedupe"] is True
    assert all(r.candidates == r.distinct_candidates for r in results)  # every final answers: no copy
    off, off_lm = search(name, repetitive, dedupe=False)
    assert any(len(nodes) > len(set(nodes)) for nodes in expanded(off_lm))  # without it: copies kept...
    assert any(r.candidates > r.distinct_candidates for r in off)  # ...and voted
    if name != "dvts":  # a DVTS subtree with nothing new goes on from a copy: test_dvts.py
        assert expanded(lm) and all(len(nodes) == len(set(nodes)) for nodes in expanded(lm))
        # every round draws N samples: N/M distinct beams M each, fewer beams more each
        draws = [
            [r.n for r in call if r.prompt.startswith("Problem: question 0\n")]
            for call in lm.calls
            if call[0].temperature > 0
        ]
        assert all(sum(d) == TREES[name][1].n for d in draws if d)


def never_repeats(so_far, i, request):
    if so_far.count("\n") < 3:
        return f"s{request.seed}.{i}\n", "stop"
    return f"\\boxed{{{i}}}", "eos"


@pytest.mark.parametrize("name", list(TREES))
def test_without_copies_dedupe_changes_nothing(name):
    (on, on_lm), (off, off_lm) = search(name, never_repeats), search(name, never_repeats, dedupe=False)
    assert on_lm.calls == off_lm.calls
    assert [dataclasses.replace(r, params={}) for r in on] == [dataclasses.replace(r, params={}) for r in off]


@pytest.mark.parametrize("name", list(TREES))
@pytest.mark.parametrize("dedupe", [True, False])
def test_a_seed_gives_the_same_results_whatever_the_batch(name, dedupe):
    first, first_lm = search(name, repetitive, dedupe=dedupe)
    again, again_lm = search(name, repetitive, dedupe=dedupe)
    assert first == again and first_lm.calls == again_lm.calls
    run, cfg = TREES[name]
    alone = run(PROBLEMS[2:3], ScriptedLM(repetitive), Hashed(), dataclasses.replace(cfg, dedupe=dedupe))[0]
    keys = ("answer", "solution", "candidates", "distinct_candidates")
    assert [getattr(alone, k) for k in keys] == [getattr(first[2], k) for k in keys]


def test_beam_requests_are_seeded_by_problem_round_and_kept_beam():
    _, lm = search("beam", repetitive)
    for round, call in enumerate(lm.calls):
        for p in PROBLEMS:
            seeds = [r.seed for r in call if r.prompt.startswith(f"Problem: {p.question}\n")]
            assert seeds == [derive_seed(1, p.id, round, b) for b in range(len(seeds))]


# sample i of every request: four solutions, two of them identical, one without an answer
SOLUTIONS = ["a\n\\boxed{1}", "b\n\\boxed{2}", "b\n\\boxed{2}", "c\nno answer"]


def test_best_of_n_counts_the_distinct_answered_samples():
    lm = ScriptedLM(lambda so_far, i, request: (SOLUTIONS[i], "eos"))
    [result] = best_of_n([problem()], lm, TableVerifier(), BestOfNConfig(n=4))
    assert (result.candidates, result.distinct_candidates) == (4, 2)
    [pool] = sample_pools(
        [problem()], ScriptedLM(lambda so_far, i, request: (SOLUTIONS[i], "eos")), TableVerifier(), BestOfNConfig(n=4)
    )
    swept = sweep([pool], [1, 2, 4], BestOfNConfig(n=4), 10, 3)
    # n=1: an answered sample, 3/4; n=2: "a" in 1 - 3/6 of the pairs, "b" in 1 - 1/6; n=4: both
    assert [r.distinct_candidates for r in swept] == pytest.approx([3 / 4, 4 / 3, 2.0])
    for n in (1, 2, 3, 4):  # the expectation over all subsets of n
        subsets = list(combinations(pool.samples, n))
        brute = sum(len({s.text for s in subset if s.answer is not None}) for subset in subsets) / len(subsets)
        assert expected_distinct(pool.samples, n) == pytest.approx(brute)
