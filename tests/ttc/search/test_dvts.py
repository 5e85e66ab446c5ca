"""DVTS on a hand-built forest: each subtree keeps its best; unfinished candidates never answer."""

import pytest

from data.shards import derive_seed
from tests.support.fakes import ScriptedLM, TableVerifier, problem
from ttc.search import DVTSConfig, dvts

SUBTREE = {derive_seed(0, "q0", r, t): t for r in range(10) for t in range(2)}


def forest(so_far, i, request):
    """Subtree 0 answers at once (5 or 6); subtree 1 never finishes, though in round 2 one of
    its samples does (answer 9) without being its best."""
    if SUBTREE[request.seed] == 0:
        return f"\\boxed{{{5 + i}}}", "eos"
    if so_far.count("\n") == 1 and i == 0:
        return "\\boxed{9}", "eos"
    return f"y{i}\n", "stop"


TABLE = {"\\boxed{5}": 0.6, "\\boxed{6}": 0.4, "y0": 0.1, "y1": 0.9, "y1/\\boxed{9}": 0.1, "y1/y1": 0.9, "y1/y0": 0.2}


def test_subtrees_keep_their_best_and_only_finished_candidates_answer():
    lm, prm = ScriptedLM(forest), TableVerifier(TABLE)
    [result] = dvts([problem(0, "5")], lm, prm, DVTSConfig(n=4, beam_width=2, max_rounds=3))
    requests = [[(SUBTREE[r.seed], r.prompt.split("Solution:\n")[1], r.n) for r in call] for call in lm.calls]
    assert requests == [
        [(0, "", 2), (1, "", 2)],  # N/M = 2 subtrees of width M = 2
        [(1, "y1\n", 2)],  # subtree 0 ended: its best answered
        [(1, "y1\ny1\n", 2)],  # the finished 9 was not subtree 1's best: dropped
    ]
    assert len(prm.calls) == 3
    # finals: subtree 0's two finished siblings; subtree 1 is unfinished after 3 rounds
    assert result.candidates == 2 and result.answer == "5" and result.correct == 1.0
    assert (result.strategy, result.generations) == ("dvts", 4)


def test_no_finished_subtree_means_no_answer():
    lm = ScriptedLM(lambda so_far, i, r: (f"y{i}\n", "stop"))
    [result] = dvts([problem()], lm, TableVerifier(), DVTSConfig(n=4, beam_width=2, max_rounds=2))
    assert result.answer is None and result.solution is None and result.candidates == 0


# both subtrees keep y0 (ties to the first), and its 4 answers are alike; with dedupe the second keeps y1
@pytest.mark.parametrize("dedupe, finals, distinct", [(False, 8, 1), (True, 2, 2)])
def test_batched_over_problems_one_call_a_round(dedupe, finals, distinct):
    lm = ScriptedLM(lambda so_far, i, r: ("\\boxed{1}", "eos") if so_far else (f"y{i}\n", "stop"))
    cfg = DVTSConfig(n=8, beam_width="sqrt", dedupe=dedupe)
    results = dvts([problem(i) for i in range(3)], lm, TableVerifier(), cfg)
    assert [len(call) for call in lm.calls] == [6, 6]  # 3 problems x 8/4 subtrees; M = sqrt(8) -> 4
    assert all(r.answer == "1" and r.candidates == finals and r.distinct_candidates == distinct for r in results)


@pytest.mark.parametrize("dedupe, finals", [(False, 4), (True, 2)])
def test_a_subtree_with_nothing_new_goes_on_from_a_copy(dedupe, finals):
    # both subtrees write "y" first, then the answers 0 and 1: subtree 1's are subtree 0's
    lm = ScriptedLM(lambda so_far, i, r: (f"\\boxed{{{i}}}", "eos") if so_far else ("y\n", "stop"))
    [result] = dvts([problem(0, "0")], lm, TableVerifier(), DVTSConfig(n=4, beam_width=2, dedupe=dedupe))
    assert [r.prompt.split("Solution:\n")[1] for r in lm.calls[1]] == ["y\n", "y\n"]  # neither subtree ends
    assert (result.candidates, result.distinct_candidates, result.answer) == (finals, 2, "0")
