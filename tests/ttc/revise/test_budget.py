"""The budget split by sequential/parallel ratio, and the revision config's checks."""

import math

import pytest

from ttc.revise import RevisionConfig, ratio_of, split_budget


@pytest.mark.parametrize(
    "n, ratio, split",
    [
        (16, 1, (4, 4)),
        (16, 16, (1, 16)),
        (16, 1 / 16, (16, 1)),
        (16, 4, (2, 8)),
        (16, 0.25, (8, 2)),
        (1, 1, (1, 1)),
        (1, 1e-6, (1, 1)),
        (8, 1, (2, 4)),  # sqrt(8) is no divisor: 2x4 and 4x2 are equally far on a log scale; ties to the longer chain
        (12, 1, (3, 4)),
        (7, 1, (1, 7)),  # a prime: one chain or none in parallel, the longer
        (16, 1000, (1, 16)),
        (16, 1e-9, (16, 1)),  # past the ends: fully sequential / fully parallel
    ],
)
def test_split(n, ratio, split):
    assert split_budget(n, ratio) == split


def test_every_split_spends_the_budget_and_longer_chains_come_with_higher_ratios():
    for n in range(1, 65):
        lengths = []
        for k in range(-8, 9):
            chains, length = split_budget(n, 2.0**k)
            assert chains * length == n
            lengths.append(length)
        assert lengths == sorted(lengths)
    assert ratio_of(*split_budget(64, 4)) == 4


@pytest.mark.parametrize(
    "n, ratio", [(0, 1), (-4, 1), (4.0, 1), (True, 1), (4, 0), (4, -1), (4, math.inf), (4, math.nan), (4, "1")]
)
def test_bad_budget_or_ratio(n, ratio):
    with pytest.raises(ValueError, match="budget|ratio"):
        split_budget(n, ratio)


def test_config():
    cfg = RevisionConfig(n=16, ratio=4)
    assert cfg.split == (2, 8) and cfg.generations == 16
    params = cfg.params()
    assert (params["chains"], params["length"], params["ratio"], params["max_attempts"]) == (2, 8, 4, 4)
    assert "prompt" not in params and params["selection"] == "weighted"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ratio": 0}, "ratio"),
        ({"n": 0}, "n must be"),
        ({"max_attempts": -1}, "max_attempts"),
        ({"selection": "best"}, "selection"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RevisionConfig(**kwargs)
