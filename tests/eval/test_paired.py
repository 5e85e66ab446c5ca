"""eval/paired: the paired interval on hand-computed differences, the level rule, the bootstrap's
determinism, the efficiency ratio's bootstrap range, and the words the report prints."""

import math
from dataclasses import asdict

import numpy as np
import pytest

from eval.paired import Paired, Ratio, curve_of, paired, ratio


def questions(*values):
    return {f"q{i}": float(v) for i, v in enumerate(values)}


def test_known_difference_and_standard_error():
    # differences 0.1, 0.2, 0.3, 0.4: mean 0.25, SD sqrt(0.05 / 3), SE = SD / 2 = 0.0645497
    p = paired(questions(0.6, 0.7, 0.8, 0.9), questions(0.5, 0.5, 0.5, 0.5))
    se = math.sqrt(0.05 / 3) / 2
    assert (p.mean_a, p.mean_b, p.diff, p.n_questions) == (pytest.approx(0.75), 0.5, pytest.approx(0.25), 4)
    assert p.low == pytest.approx(0.25 - 1.959964 * se) and p.high == pytest.approx(0.25 + 1.959964 * se)
    assert p.verdict == "ahead" and not p.level
    assert p.words("majority") == ("ahead of majority by +0.250 (95% CI +0.123 to +0.377; 0.750 vs 0.500, "
                                   "4 questions)")
    assert paired(questions(0.5, 0.5, 0.5, 0.5), questions(0.6, 0.7, 0.8, 0.9)).words("it").startswith(
        "behind it by -0.250 (95% CI -0.377 to -0.123;")


def test_pairing_removes_the_shared_question_difficulty():
    # the same +0.1 on an easy and a hard question: unpaired the spread is huge, paired it is nil
    p = paired({"easy": 0.9, "hard": 0.2}, {"easy": 0.8, "hard": 0.1})
    assert (p.low, p.high) == (pytest.approx(0.1), pytest.approx(0.1)) and p.verdict == "ahead"


def test_an_interval_including_zero_is_level():
    # differences 1, -1, 0, 0, 1: mean 0.2, variance 2.8 / 4, SE sqrt(0.7 / 5) = 0.3742, half-width 0.7334
    p = paired(questions(1, 0, 1, 0, 1), questions(0, 1, 1, 0, 0))
    assert p.low < 0 < p.high and p.level and p.verdict == "level"
    assert p.words("majority") == "level with majority (+0.200, 95% CI -0.533 to +0.933; 0.600 vs 0.400, 5 questions)"
    assert p.brief() == "level (+0.200, 95% CI -0.533 to +0.933; 5 questions)"
    same = paired(questions(1, 0), questions(1, 0))
    assert (same.diff, same.low, same.high, same.level) == (0.0, 0.0, 0.0, True)


def test_only_shared_questions_pair_and_one_question_has_no_interval():
    p = paired({"a": 1.0, "b": 0.0, "c": 1.0}, {"b": 1.0, "c": 1.0, "d": 0.0})
    assert p.n_questions == 2 and p.diff == -0.5
    one = paired({"a": 1.0}, {"a": 0.0})
    assert (one.low, one.high, one.verdict, one.level) == (None, None, None, False)
    assert one.words("it") == "+1.000 vs it (no interval; 1.000 vs 0.000, 1 questions)"
    with pytest.raises(ValueError, match="no question in common"):
        paired({"a": 1.0}, {"b": 1.0})


def test_seeds_are_named_and_the_bootstrap_is_seeded():
    values = np.random.default_rng(0).random(60)
    a, b = questions(*values[:30]), questions(*values[30:])
    assert "30 questions x 3 seeds, averaged per question" in paired(a, b, n_seeds=3).words("it")
    boot = paired(a, b, resamples=2000, seed=7)
    assert boot == paired(a, b, resamples=2000, seed=7)  # deterministic
    assert boot != paired(a, b, resamples=2000, seed=8)
    se = paired(a, b)
    assert boot.diff == se.diff and boot.low == pytest.approx(se.low, abs=0.03)
    assert boot.high == pytest.approx(se.high, abs=0.03)


def test_ratio_range_over_bootstrap_resamples():
    def match(co, bon):  # smallest co budget at or above bon's largest
        return next((b for b in sorted(co) if co[b] >= bon[max(bon)]), None)

    # solve reaches best-of-N's N=16 accuracy at N=4 on both questions; on (a, a) already at N=2
    solve = {2: {"a": 1.0, "b": 0.0}, 4: {"a": 1.0, "b": 1.0}, 16: {"a": 1.0, "b": 1.0}}
    bon = {2: {"a": 0.0, "b": 0.0}, 4: {"a": 1.0, "b": 0.0}, 16: {"a": 1.0, "b": 1.0}}
    r = ratio(solve, bon, 16, match)
    assert (r.match, r.low, r.high, r.n_questions, r.wide) == (4, 4.0, 8.0, 2, False)
    assert r.spread() == "(bootstrap 95% range over 2 questions: 4x to 8x)"
    assert r == ratio(solve, bon, 16, match)
    never = ratio({16: {"a": 0.0, "b": 1.0}}, {16: {"a": 1.0, "b": 1.0}}, 16, match)
    assert (never.match, never.low, never.high, never.wide) == (None, 0.0, 1.0, True)
    assert never.spread() == "(interval wide: the bootstrap 95% range over 2 questions, no match to 1x, spans 1)"
    hopeless = ratio({16: {"a": 0.0, "b": 0.0}}, {16: {"a": 1.0, "b": 1.0}}, 16, match)
    assert (hopeless.low, hopeless.high, hopeless.wide) == (0.0, 0.0, False)
    assert hopeless.spread() == "(bootstrap 95% range over 2 questions: no match)"
    alone = ratio({16: {"a": 1.0}}, {16: {"a": 1.0}}, 16, match)
    assert (alone.match, alone.low) == (16, None) and alone.spread() == "(no interval: 1 question(s) with outcomes)"
    assert Ratio(**asdict(r)) == r


def test_json_round_trip_and_curves():
    p = paired(questions(1, 0, 1), questions(0, 0, 1))
    assert Paired(**asdict(p)) == p
    assert curve_of({4: {"a": 1.0, "b": 0.0}, 16: {"a": 1.0, "b": 1.0}}) == {4: 0.5, 16: 1.0}
