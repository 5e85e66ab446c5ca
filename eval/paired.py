"""Paired 95% intervals over questions: the one place the report's comparisons get their error bars.

Two methods run on the same questions, so they are compared on the per-question differences:
a hard question is hard for both, and pairing takes that shared variance out. The unit is the
question (what a new test set would redraw). With several seeds, each question's value is first
averaged over its seeds: the seeds then make each question's value less noisy, and the interval
stays one over questions (resampling seeds too would need every seed's outcomes kept; averaging
first is the standard paired analysis and needs only the means).

- `paired(a, b)`: the mean difference with mean +- 1.96 x the standard error of the per-question
  differences (the default), or the percentile interval of a seeded bootstrap over questions.
  A difference is "level" when its interval includes zero; "ahead"/"behind" only when it excludes it.
- `ratio(...)`: an efficiency ratio (B / B', the budget one method needs to match another's
  accuracy at B) with the 2.5th-97.5th percentile range of the ratio over bootstrap resamples of
  the questions; "wide" when that range spans 1 (no saving is within it).
Everything is deterministic: the standard error needs no randomness, the bootstrap is seeded.
With few questions (< ~30) the normal 1.96 makes the interval somewhat narrow (t would be wider):
a "level" there is safe, an "ahead" less so. `curve_of` (per-question values -> the curve) serves
the stages that keep per-question outcomes in their summaries (eval/summary.py).

Multiplicity (the report's headline family, ttc/pipeline/report.py):
- `Paired.p`: the two-sided p-value of "no difference", p = 2 (1 - Phi(|diff| / SE)), the normal
  approximation from the standard error the default interval uses (kept as `se`), so p < 0.05
  exactly when the default 95% interval excludes zero; None without an interval. A Paired with a
  bootstrap interval still gets the normal p (and the normal Holm interval below). A record saved
  before `se` was kept recovers it from its interval when that is symmetric (the default's:
  half-width / 1.96); an SE of 0 gives p = 1 for a zero difference, else 0.
- `holm(p_values)`: Holm-Bonferroni step-down adjusted p-values: sorted ascending, the k-th
  (from 0) is max over j <= k of min(1, (m - j) p_(j)): monotone in p, capped at 1, ties equal.
- `holm_corrected(comparisons, alpha)`: each comparison's p, adjusted p, and its Holm-adjusted
  interval, diff +- z(1 - a / 2) SE at the level a of the step that decides it: a rejected one
  (adjusted p < alpha) at its own step, alpha / (m - rank) with rank its 0-based place among the
  sorted p's (ties: the first); one not rejected at the step where the procedure stopped,
  alpha / (m - rejected), as Holm tests nothing after it. Its p is at least that step's level, so
  its interval includes zero; a rejected one's p is below its own step's, so its interval excludes
  zero: "excludes zero" is "adjusted p < alpha". A comparison without a p (no interval) is not
  counted in m and has no adjusted numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable, Mapping, Sequence, TypeVar, cast

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile
RESAMPLES = 1000  # bootstrap resamples of the questions
PerQuestion = Mapping[str, float]  # question id -> value (its mean over seeds)
K = TypeVar("K")


@dataclass(frozen=True)
class Paired:
    """a vs b on the same questions: the means, their difference and its 95% interval."""

    mean_a: float
    mean_b: float
    diff: float  # mean over questions of a - b
    low: float | None  # the interval of diff; None where it cannot be computed (< 2 questions)
    high: float | None
    n_questions: int
    n_seeds: int = 1
    se: float | None = None  # standard error of diff; None: < 2 questions, or a record saved before it was kept

    @property
    def level(self) -> bool:
        return self.low is not None and self.low <= 0 <= cast(float, self.high)  # high is None only with low

    @property
    def standard_error(self) -> float | None:
        """`se`, or for a record saved without it, the default interval's half-width / 1.96 (a
        bootstrap interval, asymmetric, gives None)."""
        if self.se is not None or self.low is None:
            return self.se
        upper, lower = cast(float, self.high) - self.diff, self.diff - self.low
        return (upper + lower) / (2 * Z95) if math.isclose(upper, lower, rel_tol=1e-9, abs_tol=1e-12) else None

    @property
    def p(self) -> float | None:
        """Two-sided p of a zero difference: 2 (1 - Phi(|diff| / SE)); None without an interval."""
        se = self.standard_error
        if se is None:
            return None
        if se == 0:
            return 1.0 if self.diff == 0 else 0.0
        return math.erfc(abs(self.diff) / se / math.sqrt(2))  # = 2 (1 - Phi(z)), exact in the tail

    @property
    def verdict(self) -> str | None:
        """'level' / 'ahead' / 'behind'; None without an interval (no claim either way)."""
        if self.low is None:
            return None
        return "level" if self.level else "ahead" if self.low > 0 else "behind"

    def interval(self) -> str:
        return "no interval" if self.low is None else f"95% CI {self.low:+.3f} to {self.high:+.3f}"

    def questions(self) -> str:
        seeds = f" x {self.n_seeds} seeds, averaged per question" if self.n_seeds > 1 else ""
        return f"{self.n_questions} questions{seeds}"

    def words(self, other: str) -> str:
        """'ahead of <other> by +0.155 (95% CI +0.123 to +0.187; 0.765 vs 0.610, 300 questions)',
        'level with <other> (+0.004, 95% CI ...; ...)' or '+0.040 vs <other> (no interval; ...)'."""
        tail = f"{self.interval()}; {self.mean_a:.3f} vs {self.mean_b:.3f}, {self.questions()}"
        if self.verdict is None:
            return f"{self.diff:+.3f} vs {other} ({tail})"
        if self.level:
            return f"level with {other} ({self.diff:+.3f}, {tail})"
        return f"{'ahead of' if self.verdict == 'ahead' else 'behind'} {other} by {self.diff:+.3f} ({tail})"

    def brief(self) -> str:
        """'ahead (+0.040, 95% CI +0.010 to +0.070; 20 questions)': for lists of many comparisons."""
        return f"{self.verdict or 'unjudged'} ({self.diff:+.3f}, {self.interval()}; {self.questions()})"


def resample(n: int, resamples: int, seed: int) -> np.ndarray:
    """[resamples, n] question indices drawn with replacement, seeded."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def paired(a: PerQuestion, b: PerQuestion, n_seeds: int = 1, resamples: int = 0, seed: int = 0) -> Paired:
    """a vs b on the questions both have (sorted ids). resamples=0: diff +- 1.96 SE of the
    per-question differences; else the 2.5-97.5 percentiles of the mean difference over
    `resamples` bootstrap resamples of the questions (seeded by `seed`)."""
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError("paired: no question in common")
    x, y = np.array([a[q] for q in shared], dtype=float), np.array([b[q] for q in shared], dtype=float)
    d = x - y
    low = high = se = None
    if len(d) >= 2:
        se = float(d.std(ddof=1)) / math.sqrt(len(d))
    if se is not None and resamples:
        low, high = (float(v) for v in np.percentile(d[resample(len(d), resamples, seed)].mean(axis=1), [2.5, 97.5]))
    elif se is not None:
        low, high = float(d.mean()) - Z95 * se, float(d.mean()) + Z95 * se
    return Paired(float(x.mean()), float(y.mean()), float(d.mean()), low, high, len(d), n_seeds, se)


# --- multiplicity: Holm-Bonferroni over a family of comparisons -------------------------------------
def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input's order (see the module docstring)."""
    m, adjusted, running = len(p_values), [0.0] * len(p_values), 0.0
    for rank, i in enumerate(sorted(range(m), key=p_values.__getitem__)):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Corrected:
    """One comparison of a family after Holm: its p, adjusted p and Holm interval (None: no p)."""

    paired: Paired
    p: float | None
    p_adjusted: float | None
    step_alpha: float | None  # the level of the step that decides it: the Holm interval is 1 - step_alpha
    low: float | None
    high: float | None

    @property
    def verdict(self) -> str | None:
        """After correction: 'level' when the Holm interval includes zero, else 'ahead'/'behind'."""
        if self.low is None:
            return None
        return "level" if self.low <= 0 <= cast(float, self.high) else "ahead" if self.low > 0 else "behind"

    def interval(self) -> str:
        if self.low is None:
            return "no interval"
        return f"{self.low:+.3f} to {self.high:+.3f} ({100 * (1 - cast(float, self.step_alpha)):.2f}%)"


def holm_corrected(comparisons: Sequence[Paired], alpha: float = 0.05) -> list[Corrected]:
    """Each comparison with its Holm-adjusted p and interval over the family of those with a p."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    tested = [i for i, c in enumerate(comparisons) if c.p is not None]
    ps = [cast(float, comparisons[i].p) for i in tested]
    adjusted = dict(zip(tested, holm(ps)))
    m, rejected = len(ps), sum(a < alpha for a in adjusted.values())
    out = []
    for i, c in enumerate(comparisons):
        if i not in adjusted:
            out.append(Corrected(c, None, None, None, None, None))
            continue
        rank = (
            sum(q < cast(float, c.p) for q in ps) if adjusted[i] < alpha else rejected
        )  # its own step, or where Holm stopped
        step = alpha / (m - rank)
        half = NormalDist().inv_cdf(1 - step / 2) * cast(float, c.standard_error)
        out.append(Corrected(c, c.p, adjusted[i], step, c.diff - half, c.diff + half))
    return out


def curve_of(per_question: Mapping[K, PerQuestion]) -> dict[K, float]:
    """The mean over questions at each key (budget, step, ...)."""
    return {k: float(np.mean(list(v.values()))) for k, v in per_question.items()}


@dataclass(frozen=True)
class Ratio:
    """How many times less budget a method needs to match a baseline at `budget` (B / B'), with
    its bootstrap range over questions; a resample in which no budget matches counts as 0."""

    budget: int  # the baseline's budget B
    match: int | None  # the method's smallest budget B' matching it; None: none of the grid does
    low: float | None  # 2.5th / 97.5th percentiles of B / B' over resamples; None with < 2 questions
    high: float | None
    n_questions: int
    n_seeds: int = 1

    @property
    def wide(self) -> bool:
        """The range spans 1: from a saving to none (or no match at all) is within it."""
        return self.low is not None and self.low <= 1 <= cast(float, self.high)

    def spread(self) -> str:
        """'(bootstrap 95% range over 300 questions: 2x to 8x)', 'interval wide: ...' when it spans 1,
        'no interval: ...' when it cannot be computed."""
        if self.low is None:
            return f"(no interval: {self.n_questions} question(s) with outcomes)"
        seeds = f", {self.n_seeds} seeds averaged per question" if self.n_seeds > 1 else ""
        span = "no match" if self.high == 0 else f"{_times(self.low)} to {_times(cast(float, self.high))}"
        if self.wide:
            return f"(interval wide: the bootstrap 95% range over {self.n_questions} questions{seeds}, {span}, spans 1)"
        return f"(bootstrap 95% range over {self.n_questions} questions{seeds}: {span})"


def _times(r: float) -> str:
    return "no match" if r == 0 else f"{r:.3g}x"  # 5.04x, not 5.04268x


def ratio(
    method: Mapping[int, PerQuestion],
    baseline: Mapping[int, PerQuestion],
    budget: int,
    match: Callable[[dict[int, float], dict[int, float]], int | None],
    n_seeds: int = 1,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Ratio:
    """`match(method curve, baseline curve)` -> the method's budget matching the baseline at
    `budget` (None: none), on all the questions every curve has, and on each bootstrap resample."""
    questions = sorted(set.intersection(*(set(v) for v in (*method.values(), *baseline.values()))))
    table = {
        side: {b: np.array([v[q] for q in questions], dtype=float) for b, v in per.items()}
        for side, per in (("method", method), ("baseline", baseline))
    }
    found = match(*({b: float(x.mean()) for b, x in table[s].items()} for s in ("method", "baseline")))
    if len(questions) < 2:
        return Ratio(budget, found, None, None, len(questions), n_seeds)
    idx = resample(len(questions), resamples, seed)
    sampled = {s: {b: x[idx].mean(axis=1) for b, x in per.items()} for s, per in table.items()}
    ratios = []
    for i in range(resamples):
        m = match(*({b: float(x[i]) for b, x in sampled[s].items()} for s in ("method", "baseline")))
        ratios.append(0.0 if m is None else budget / m)
    low, high = (float(v) for v in np.percentile(ratios, [2.5, 97.5], method="inverted_cdf"))  # ratios seen
    return Ratio(budget, found, low, high, len(questions), n_seeds)


@dataclass(frozen=True)
class Comparison:
    """One tested comparison of a headline: which one ("oracle bins"; "" when the only one), its sides."""

    where: str
    a: str  # the side whose lead `paired.diff` is, with its budget
    b: str
    paired: Paired
