import pytest

from ttc.search.select import weighted_vote


def test_majority_and_weighted_disagree_when_scores_say_so():
    answers = ["3", "4", "4", None, "3", "4"]
    assert weighted_vote(answers) == "4"
    assert weighted_vote(answers, [0.9, 0.1, 0.1, 1.0, 0.9, 0.1]) == "3"


def test_ties_go_to_the_first_answer_and_none_never_wins():
    assert weighted_vote(["7", "5", "5", "7"]) == "7"
    assert weighted_vote([None, None]) is None
    assert weighted_vote([]) is None


def test_weights_must_match():
    with pytest.raises(ValueError):
        weighted_vote(["1"], [0.5, 0.5])
