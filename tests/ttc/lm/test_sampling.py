"""Sample counts are bounded where they are set: an absurd `n` is refused when the config is
built, before a model loads (a request's n samples are generated at once: ttc/lm/__init__.py MAX_N)."""

from typing import cast

import pytest

from ttc.lm import MAX_N, GenerationRequest
from ttc.lm.config import LMConfig
from ttc.lm.sampling import SamplingConfig
from ttc.stages.label import RolloutConfig


def test_the_bound_is_allowed_one_more_is_refused_with_the_setting_named():
    assert SamplingConfig(n=MAX_N).n == MAX_N
    with pytest.raises(
        ValueError,
        match=rf"^n must be <= {MAX_N} \(samples one request generates at once; "
        r"ttc\.lm\.MAX_N\), got 100000$",
    ):
        SamplingConfig(n=100000)
    with pytest.raises(ValueError, match=rf"^k must be <= {MAX_N} "):
        RolloutConfig(k=MAX_N + 1)


def test_a_request_is_bounded_too_whoever_builds_it():
    assert GenerationRequest("p", n=MAX_N).n == MAX_N
    with pytest.raises(ValueError, match=rf"^n must be <= {MAX_N} "):
        GenerationRequest("p", n=MAX_N + 1)


def test_the_bound_leaves_room_above_the_papers_largest_n():
    assert MAX_N >= 4 * 256  # the paper's largest N is 256


def test_a_search_n_is_bounded_and_the_grid_skips_what_is_above_it():
    from eval.search import plan_line
    from ttc.search import BestOfNConfig

    with pytest.raises(ValueError, match=rf"^n must be <= {MAX_N} "):
        BestOfNConfig(n=MAX_N + 1)
    line = plan_line("bon", {"strategy": "best_of_n"}, 2 * MAX_N)
    assert line.budgets[-1] == MAX_N and "must be <= " in line.skipped[2 * MAX_N]


def test_every_holder_of_sampling_settings_refuses_them_with_one_message():
    """One validator (ttc.lm check_sampling): a request, a sampling section, the label rollouts,
    a search config and `ttc chains` name the bad setting the same way."""
    from ttc.search import BeamConfig, BestOfNConfig
    from ttc.stages.chains import ChainsConfig

    holders = [
        lambda **s: GenerationRequest("p", **s),
        SamplingConfig,
        RolloutConfig,
        BestOfNConfig,
        BeamConfig,
        lambda **s: ChainsConfig(output_dir="o", reviser=cast(LMConfig, None), **s),
    ]
    for bad, message in [
        ({"temperature": -1.0}, r"^temperature must be >= 0, got -1.0$"),
        ({"top_p": 0.0}, r"^top_p must be in \(0, 1\], got 0.0$"),
    ]:
        for holder in holders:
            with pytest.raises(ValueError, match=message):
                holder(**bad)
    for holder in [h for h in holders if h is not BeamConfig]:  # beam search's steps have their own
        with pytest.raises(ValueError, match=r"^max_tokens must be >= 1, got 0$"):
            holder(max_tokens=0)
        with pytest.raises(ValueError, match=r"^stop must be a list of non-empty strings, got "):
            holder(stop=[""])
