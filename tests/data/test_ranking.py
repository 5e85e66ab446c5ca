import math

from data.ranking import auc, within_question_aucs


def test_auc_counts_ordered_pairs_and_halves_ties():
    assert auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auc([0.1, 0.8, 0.9, 0.5], [True, True, False, False]) == 0.25  # of 4 pairs, only 0.8 > 0.5
    assert auc([0.5, 0.5, 0.5, 0.2], [True, False, True, False]) == (0.5 + 1 + 0.5 + 1) / 4
    assert math.isnan(auc([0.3, 0.4], [True, True]))


def test_within_question_keeps_only_mixed_questions():
    aucs = within_question_aucs(["a", "a", "b", "b", "c"], [0.9, 0.1, 0.2, 0.7, 0.5], [True, False, True, False, True])
    assert aucs == {"a": 1.0, "b": 0.0}
