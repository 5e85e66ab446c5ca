"""Hierarchical selection over chains on hand-built scores, and its expected accuracy."""

from itertools import combinations
from typing import Any, cast

import numpy as np
import pytest

from ttc.revise import Attempt, ChainSet, accuracy, choose

# flat weighted would pick "1" (0.1 x 3 = 0.3 > 0.2); hierarchically chain 0's winner carries its
# own score 0.1 (not its chain's vote 0.3), so "2" (0.2) wins across chains; majority picks "1"
ANSWERS = [["1", "1", "1"], ["2"]]
SCORES = [[0.1, 0.1, 0.1], [0.2]]


@pytest.mark.parametrize("how, chosen", [("weighted", (1, 0)), ("naive", (1, 0)), ("majority", (0, 0))])
def test_hierarchy(how, chosen):
    assert choose(ANSWERS, SCORES, how) == chosen


def test_within_a_chain_the_vote_then_the_best_attempt_with_the_winning_answer():
    answers = [["a", "b", "b", "a", None]]
    scores = [[0.4, 0.3, 0.35, 0.1, 0.99]]  # b: 0.65 > a: 0.5; the unanswered 0.99 never wins
    assert choose(answers, scores, "weighted") == (0, 2)
    assert choose(answers, scores, "naive") == (0, 0)
    assert choose(answers, scores, "majority") == (0, 0)  # a and b tie at 2 votes: a, seen first


def test_majority_is_flat_over_all_chains():
    answers = [["x", "y"], ["y", "z"], ["z", "y"]]
    scores = [[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]
    assert choose(answers, scores, "majority") == (2, 1)  # y three times; its best-scored is 0.3
    assert choose(answers, scores, "weighted") == (1, 1)  # winners x 0.9, z 0.8, z 0.7: z by 1.5, its best


def test_no_answers_and_empty_chains():
    assert choose([[None, None], []], [[0.9, 0.8], []], "weighted") is None
    assert choose([], [], "majority") is None
    assert choose([[None], ["3"]], [[0.9], [0.1]], "weighted") == (1, 0)  # a chain without answers has no winner


def test_shapes_must_match():
    with pytest.raises(ValueError, match="same chains"):
        choose([["1", "2"]], [[0.5]], "weighted")
    with pytest.raises(ValueError, match="unknown selection"):
        choose([["1"]], [[0.5]], cast(Any, "best"))  # not a Selection


def chain_set(answers, correct, scores, pid="p"):
    return ChainSet(
        pid,
        [
            [Attempt(pid, c, t, "", a, ok, s, 1, "eos") for t, (a, ok, s) in enumerate(zip(*row))]
            for c, row in enumerate(zip(answers, correct, scores))
        ],
    )


CS = chain_set(
    [["1", "2", "2"], ["2", "2", "1"], ["3", "1", None], ["1", "1", "1"]],
    [[True, False, False], [False, False, True], [False, True, False], [True, True, True]],
    [[0.2, 0.6, 0.5], [0.3, 0.4, 0.9], [0.8, 0.1, 0.99], [0.3, 0.2, 0.1]],
)


@pytest.mark.parametrize("how", ["weighted", "majority", "naive"])
def test_expected_accuracy_is_the_mean_over_subsets_of_chains_cut_to_length(how):
    for chains in range(1, 5):
        for length in range(1, 4):
            picks = []
            for subset in combinations(range(4), chains):
                kept = [CS.chains[c][:length] for c in subset]
                scores = cast(list[list[float]], [[a.score for a in ch] for ch in kept])  # CS scores every attempt
                c, t = cast(tuple[int, int], choose([[a.answer for a in ch] for ch in kept], scores, how))
                picks.append(kept[c][t].correct)
            assert accuracy(CS, chains, length, how) == pytest.approx(np.mean(picks))


def test_expected_accuracy_samples_subsets_when_there_are_many():
    big = chain_set([["1"]] * 5 + [["2"]] * 7, [[True]] * 5 + [[False]] * 7, [[0.5]] * 12)
    estimate = accuracy(big, 1, 1, "weighted", num_subsets=10)  # C(12, 1) = 12 > 10: 10 random chains
    assert estimate in {k / 10 for k in range(11)}
    assert estimate == accuracy(big, 1, 1, "weighted", num_subsets=10)  # seeded
    assert accuracy(big, 1, 1, "weighted") == pytest.approx(5 / 12)  # all 12


def test_expected_accuracy_outside_the_chain_set_is_an_error():
    with pytest.raises(ValueError, match="4 chains of 3 attempts"):
        accuracy(CS, 5, 1, "weighted")
    with pytest.raises(ValueError, match="not 1 x 4"):
        accuracy(CS, 1, 4, "weighted")


def test_a_misnumbered_attempt_is_an_error():
    with pytest.raises(ValueError, match="attempt 0 of chain 1"):
        ChainSet("p", [[], [Attempt("p", 0, 0, "", "1", True, 0.5, 1, "eos")]])
