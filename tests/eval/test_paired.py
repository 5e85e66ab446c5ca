"""eval/paired: the paired interval on hand-computed differences, the level rule, the bootstrap's
determinism, the efficiency ratio's bootstrap range, the words the report prints, and the p-values
and Holm correction of a family (hand-computed adjusted p's, monotone; the Holm interval excludes
zero exactly when the adjusted p is below alpha)."""

import math
from dataclasses import asdict
from statistics import NormalDist

import numpy as np
import pytest

from eval.paired import Z95, Paired, Ratio, curve_of, holm, holm_corrected, paired, ratio


def questions(*values):
    return {f"q{i}": float(v) for i, v in enumerate(values)}


def test_known_difference_and_standard_error():
    # differences 0.1, 0.2, 0.3, 0.4: mean 0.25, SD sqrt(0.05 / 3), SE = SD / 2 = 0.0645497
    p = paired(questions(0.6, 0.7, 0.8, 0.9), questions(0.5, 0.5, 0.5, 0.5))
    se = math.sqrt(0.05 / 3) / 2
    assert (p.mean_a, p.mean_b, p.diff, p.n_questions) == (pytest.approx(0.75), 0.5, pytest.approx(0.25), 4)
    assert p.low == pytest.approx(0.25 - 1.959964 * se) and p.high == pytest.approx(0.25 + 1.959964 * se)
    assert p.verdict == "ahead" and not p.level
    assert p.words("majority") == ("ahead of majority by +0.250 (95% CI +0.123 to +0.377; 0.750 vs 0.500, 4 questions)")
    assert (
        paired(questions(0.5, 0.5, 0.5, 0.5), questions(0.6, 0.7, 0.8, 0.9))
        .words("it")
        .startswith("behind it by -0.250 (95% CI -0.377 to -0.123;")
    )


def test_pairing_removes_the_shared_question_difficulty():
    # the same +0.1 on an easy and a hard question: unpaired the spread is huge, paired it is nil
    p = paired({"easy": 0.9, "hard": 0.2}, {"easy": 0.8, "hard": 0.1})
    assert (p.low, p.high) == (pytest.approx(0.1), pytest.approx(0.1)) and p.verdict == "ahead"


def test_an_interval_including_zero_is_level():
    # differences 1, -1, 0, 0, 1: mean 0.2, variance 2.8 / 4, SE sqrt(0.7 / 5) = 0.3742, half-width 0.7334
    p = paired(questions(1, 0, 1, 0, 1), questions(0, 1, 1, 0, 0))
    assert p.low is not None and p.high is not None
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


def with_se(diff, se):
    """A Paired with this difference and standard error (its default interval)."""
    return Paired(0.5 + diff, 0.5, diff, diff - Z95 * se, diff + Z95 * se, 100, 1, se)


def test_p_value_agrees_with_the_interval():
    # differences 0.1 .. 0.4: z = 0.25 / 0.0645497 = 3.873, p = 2 (1 - Phi(3.873)) = 1.075e-4
    p = paired(questions(0.6, 0.7, 0.8, 0.9), questions(0.5, 0.5, 0.5, 0.5))
    assert p.se == pytest.approx(math.sqrt(0.05 / 3) / 2) and p.p == pytest.approx(1.0745e-4, rel=1e-3)
    level = paired(questions(1, 0, 1, 0, 1), questions(0, 1, 1, 0, 0))  # z = 0.2 / 0.3742 = 0.5345
    assert level.p == pytest.approx(0.5930, abs=1e-4)
    assert paired({"a": 1.0}, {"a": 0.0}).p is None  # no interval, no p
    assert paired(questions(1, 0), questions(1, 0)).p == 1.0  # SE 0, no difference
    assert paired({"a": 0.9, "b": 0.2}, {"a": 0.8, "b": 0.1}).p == 0.0  # SE 0, the same +0.1 everywhere
    rng = np.random.default_rng(1)
    for _ in range(200):  # p < 0.05 exactly when the default 95% interval excludes zero
        a, b = questions(*rng.integers(0, 2, 30)), questions(*rng.integers(0, 2, 30))
        x = paired(a, b)
        assert x.p is not None and (x.p < 0.05) == (not x.level)
    # a record saved before `se` was kept: recovered from its symmetric interval; a bootstrap one has none
    old = Paired(**{**asdict(p), "se": None})
    assert old.p == pytest.approx(p.p)
    assert Paired(0.6, 0.5, 0.1, 0.0, 0.3, 10).p is None


def test_holm_by_hand():
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> 0.06 (monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.3, 0.9, 0.8]) == pytest.approx([0.9, 1.0, 1.0])  # capped at 1
    assert holm([0.02, 0.02]) == pytest.approx([0.04, 0.04])  # ties equal
    assert holm([0.2]) == [0.2] and holm([]) == []


def test_holm_is_monotone_and_never_below_the_raw_p():
    raw = list(np.random.default_rng(2).random(40) ** 3)
    adjusted = holm(raw)
    pairs = sorted(zip(raw, adjusted))
    assert all(a1 <= a2 for (_, a1), (_, a2) in zip(pairs, pairs[1:]))
    assert all(r <= a <= 1 for r, a in zip(raw, adjusted))
    assert adjusted == holm(raw[::-1])[::-1]  # the order of the family does not matter


def test_the_holm_interval_excludes_zero_exactly_when_the_adjusted_p_is_below_alpha():
    # p's 0.03, 0.04 (m = 2): step 1 fails (0.06), so step 2 is not reached though 0.04 < 0.05 alone
    first, second = with_se(NormalDist().inv_cdf(1 - 0.015), 1.0), with_se(-NormalDist().inv_cdf(1 - 0.02), 1.0)
    one, two = holm_corrected([first, second])
    assert (one.p, two.p) == (pytest.approx(0.03), pytest.approx(0.04)) and not second.level
    assert (one.p_adjusted, two.p_adjusted) == (pytest.approx(0.06), pytest.approx(0.06))
    assert one.step_alpha == two.step_alpha == 0.025 and one.verdict == two.verdict == "level"  # where Holm stopped
    half = NormalDist().inv_cdf(1 - 0.0125)  # the 97.5% interval (SE 1)
    assert (one.low, one.high) == (pytest.approx(first.diff - half), pytest.approx(first.diff + half))
    # p's 0.001, 0.02, 0.5: rejected at alpha / 3 and alpha / 2, the last at the stop step alpha / 1
    family = holm_corrected([with_se(z, 1.0) for z in (3.2905, -2.3263, 0.6745)])
    assert [c.step_alpha for c in family] == pytest.approx([0.05 / 3, 0.025, 0.05])
    assert [c.verdict for c in family] == ["ahead", "behind", "level"]
    assert family[2].interval() == f"{family[2].low:+.3f} to {family[2].high:+.3f} (95.00%)"
    rng = np.random.default_rng(3)
    for _ in range(300):
        comparisons = [with_se(d, s) for d, s in zip(rng.normal(0, 1, 12), rng.uniform(0.3, 1, 12))]
        for c in holm_corrected(comparisons):
            assert c.p_adjusted is not None and (c.verdict != "level") == (c.p_adjusted < 0.05)
            assert c.low is not None and c.high is not None and c.paired.low is not None and c.paired.high is not None
            assert c.low <= c.paired.low and c.high >= c.paired.high  # never narrower than the raw 95%


def test_a_comparison_without_a_p_is_left_out_of_the_family():
    alone = paired({"a": 1.0}, {"a": 0.0})
    c = holm_corrected([alone, with_se(2.5, 1.0)])
    assert (c[0].p, c[0].p_adjusted, c[0].verdict, c[0].interval()) == (None, None, None, "no interval")
    assert c[1].p_adjusted == pytest.approx(c[1].p) and c[1].step_alpha == 0.05  # m = 1
    with pytest.raises(ValueError, match="alpha"):
        holm_corrected([alone], alpha=1.5)
