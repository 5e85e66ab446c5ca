import math

import pytest

from data.records import Sample
from eval.prm import auc, best_of_n, markdown


def test_auc_matches_pair_counting():
    scores = [0.1, 0.4, 0.35, 0.8, 0.4]
    labels = [False, False, True, True, True]
    pairs = [(p, n) for p, y in zip(scores, labels) if y for n, z in zip(scores, labels) if not z]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert auc(scores, labels) == pytest.approx(expected)
    assert auc([0.2, 0.9], [False, True]) == 1.0
    assert math.isnan(auc([0.5], [True]))


def sample(i, answer, correct):
    return Sample("p", i, "", ["x"], answer, correct, 1, "eos")


def test_verifier_weighting_beats_majority_when_scores_are_informative():
    # 3 wrong answers agree, the right one appears twice with high scores
    items = [(sample(0, "1", False), [0.1]), (sample(1, "1", False), [0.2]), (sample(2, "1", False), [0.1]),
             (sample(3, "2", True), [0.9]), (sample(4, "2", True), [0.8]), (sample(5, "3", False), [0.3]),
             (sample(6, "1", False), [0.1]), (sample(7, "2", True), [0.9])]
    curves = best_of_n({"p": items}, [1, 8], seed=0)
    assert curves["pass@1"][8] == pytest.approx(3 / 8)
    assert curves["majority"][8] == 0.0
    assert curves["best-of-N weighted (last)"][8] == 1.0
    assert curves["pass@1"][1] == pytest.approx(3 / 8)  # 8 groups of 1
    assert "N=8" in markdown(curves, 0.5)
