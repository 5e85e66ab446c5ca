"""Selection rules, cost attribution, beam-width rounding and config validation."""

from typing import Any, cast

import pytest

from ttc.search import BeamConfig, BestOfNConfig, DVTSConfig, select
from ttc.search.session import apportion
from ttc.search.tree import sqrt_width
from ttc.strategies import STRATEGIES


def test_selection_rules_on_a_hand_built_case():
    answers = ["3", "4", "4", None, "3", "4"]
    scores = [0.9, 0.1, 0.3, 1.0, 0.8, 0.2]
    assert select(answers, scores, "naive") == 0  # the unanswered 1.0 never wins
    assert select(answers, scores, "weighted") == 0  # "3": 1.7 > "4": 0.6
    assert select(answers, scores, "majority") == 2  # "4" x3; its best-scoring candidate
    assert select([None, None], [0.5, 0.6], "weighted") is None
    assert select([], [], "naive") is None
    assert select(["1", "2"], [0.5, 0.5], "naive") == 0  # ties to the first


def test_selection_refuses_bad_input():
    with pytest.raises(ValueError, match="2 answers but 1 scores"):
        select(["1", "2"], [0.5], "weighted")
    with pytest.raises(ValueError, match="unknown selection"):
        select(["1"], [0.5], cast(Any, "best"))  # not a Selection


def test_apportion_adds_up_and_follows_weights():
    assert apportion(10, [1, 1, 2]) == [3, 2, 5]  # 2.5, 2.5, 5: the remainder to the first
    assert apportion(7, [0, 0]) == [4, 3]
    assert sum(apportion(1001, [17, 5, 0, 40])) == 1001
    assert apportion(5, []) == []


def test_sqrt_width_is_the_nearest_divisor_ties_up():
    assert {n: sqrt_width(n) for n in (1, 2, 4, 8, 16, 32, 64, 128, 256)} == {
        1: 1,
        2: 2,
        4: 2,
        8: 4,
        16: 4,
        32: 8,
        64: 8,
        128: 16,
        256: 16,
    }
    assert sqrt_width(12) == 4 and sqrt_width(18) == 6 and sqrt_width(7) == 7
    assert BeamConfig(n=32, beam_width="sqrt").params()["width"] == 8


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (BeamConfig, dict(n=6, beam_width=4), "not divisible"),
        (BeamConfig, dict(n=2, beam_width=4), "integer in 1..N=2"),
        (DVTSConfig, dict(n=8, beam_width=0), "integer in 1..N"),
        (BeamConfig, dict(n=4, lookahead=-1), "lookahead"),
        (BeamConfig, dict(n=4, step_stop=[]), "step_stop"),
        (BestOfNConfig, dict(n=0), "n must be"),
        (BestOfNConfig, dict(selection="best"), "selection"),
        (BestOfNConfig, dict(aggregation="mean"), "aggregation"),
        (BestOfNConfig, dict(temperature=-1.0), "temperature must be >= 0"),
    ],
)
def test_invalid_budgets_and_settings_are_refused(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_registry_names_functions_and_configs():
    assert {"best_of_n", "beam", "dvts", "particles"} <= set(STRATEGIES)  # other strategies may join
    assert cast(type[BeamConfig], STRATEGIES["beam"].config)(n=16, lookahead=3).generations == 64  # N(k+1)
    assert STRATEGIES["best_of_n"].config(n=16).generations == 16
