import pytest

from data.records import Sample
from eval.estimators import majority_correct, pass_at_k


def sample(answer, correct):
    return Sample("p", 0, "", [], answer, correct, 1, "eos")


def test_pass_at_k():
    assert pass_at_k(16, 4, 1) == pytest.approx(0.25)
    assert pass_at_k(16, 0, 16) == 0.0
    assert pass_at_k(16, 1, 16) == 1.0
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)


def test_majority_correct():
    assert majority_correct([sample("1", True), sample("2", False), sample("1", True)])
    assert not majority_correct([sample("1", True), sample("2", False), sample("2", False)])
    assert not majority_correct([sample(None, False)])
