"""Compute-optimal test-time compute (the paper's Section 3.2 and Eq. 1, Figs. 4 and 8): per
difficulty bin and generation budget, the method that does best, chosen by 2-fold CV.

    ttc compute-optimal --config configs/toy/compute_optimal.yaml

Input: SearchResult records (one per problem, strategy, parameters, budget, seed; from
`ttc eval` and the revision strategies) and one or more bin files (data/bins.py, written by
eval/difficulty.py), each under the name of its kind (`oracle`, `predicted`).

Definitions:
- A method is a strategy with its settings but the budget n and the seed
  (`SearchConfig.method_fields`; what a config derives, such as the beam width "sqrt" resolves
  to, a best-of-N pool size or a revision's chain split, is no setting): best-of-N weighted,
  beam with beam_width=sqrt or 4, lookahead k, a revision ratio. Its label is the record's
  line name from `ttc eval` ("Beam; M=4") or else the strategy and its settings, sorted:
  `beam(beam_width=4, ...)`.
- The budget of a record is its `generations` (the paper's count: N, or N(k+1) with
  lookahead), or `budget` (N) by config. The analysis budgets are those of best-of-N weighted;
  other methods enter at the budgets they share with it. A method's budgets must be contiguous
  on that grid (a hole is a missing run, an error), and every (method, budget) must have a
  record for every question (mean over its seeds).
- Accuracy of a method on a set of questions: the mean over questions of the mean over seeds.
- 2-fold CV within each bin: the bin's question ids, sorted, are permuted by a generator
  seeded with (seed, bin); fold A is the first ceil(n/2), fold B the rest. The method best on
  A (ties: first label in sorted order) is scored on B and vice versa; each question is thus
  scored once, by the method chosen on the other fold, and a bin's accuracy is the mean over
  its questions (the paper's average of the two test folds, weighted by fold size when the
  bin is odd). The overall curve is the mean over all questions. A bin needs >= 2 questions.
- Compute-optimal chooses among all methods except `exclude` (default: majority selection,
  a baseline that uses no verifier, as in the paper): the menu.
- Best fixed (`FIXED`): the baseline a gain *from selection* is measured against. Per budget,
  one method of the same menu for every bin, chosen by the same folds: fold A is the union over
  bins of each bin's fold A (exactly `split_folds`'), the method best on all of it is scored on
  fold B and vice versa (`fixed`: the two choices per budget). Compute-optimal beats it only
  where the best method differs by bin; where one method is best everywhere they are equal.
- Spent generations: a record's `spent` (generations an adaptive strategy actually drew; read
  with get, absent or None: its budget), in the budget's unit (with budget_field "budget", the
  same fraction of N), mean over seeds per question (`Grid.spent`). Every curve reports its mean
  spent per budget (`spent`, a table row each).
- Allocation across bins at a fixed average budget (`ALLOCATED`, `allocate: true`; the step the
  paper leaves open): for each analysis budget B, per bin one (method, budget b) of the menu at
  the analysis budgets it ran at, maximising the total accuracy subject to the questions' total
  spent <= B x their number (mean spent <= B). Solved exactly (`allocate`: a multiple-choice
  knapsack over the bins, by its Pareto frontier, since spent need not be integer; ties: the
  least spent, then the first option by label and budget). Fit by the same 2-fold CV: the
  allocation fit on fold A (every bin's fold A jointly, the constraint over fold A's questions)
  scores fold B and vice versa (`allocation`). In-sample the mean spent is <= B by construction;
  out of fold it is the mean spent of the chosen (method, b) over the scored questions, which is
  what `spent[ALLOCATED]` reports. Its efficiency is on that spent: for best-of-N's largest budget
  B, the smallest allocated budget B' that matches it and the ratio B / spent(B'), with the same
  bootstrap range (each resample's own mean spent).
- Efficiency: for each budget B of best-of-N weighted, the smallest budget B' at which
  compute-optimal *matches* it, i.e. acc_CO(B') >= acc_BoN(B) - tolerance (default 0: at least
  as accurate), on the overall curves; the ratio is B / B' (None when no budget matches). The
  headline is the ratio at best-of-N's largest budget (paper: 4x, 16 vs 64 generations), with the
  2.5-97.5 percentile range of the ratio over 1000 seeded bootstrap resamples of the questions
  (eval/paired.py). The resamples redraw the questions' outcomes under the methods the CV chose
  on all of them; the CV's own choices are not redone, so the range leaves out that variance.
- The policy (ttc/policy/__init__.py, for `ttc solve`) is fit on all of a bin's questions: per bin and
  budget the method best on them, with its settings there and its (in-sample) accuracy on them.
  The allocated policy (`policy_<bins>_allocated.json`, `allocated: true`): the allocation fit on
  all questions, per bin and average budget B the method with its settings at its own budget b
  (params' n is b's), which `ttc solve` runs at that n (ttc/policy/planner.py).
- Provenance: each policy records the models its records were measured with (`Policy.models`,
  ttc/policy/__init__.py), read from the settings `ttc eval` saved beside each results file
  (`results.settings.json`: `lm.model`, `prm.path`): per line, the roles its strategy runs on
  (`Strategy.models`: `lm` and `prm` for search lines, `reviser` and `orm` for revision lines,
  which run on the file's lm and prm). Results
  files measured with different models in one role are an error; a results file without its
  settings leaves the provenance unknown (`models` None, a warning), as `ttc solve` then does.

Writes compute_optimal.json (`ComputeOptimalSummary`, version 2: per binning its `Analysis`: the
curves and their mean spent, the choices (per bin, best fixed, allocated), the efficiency, each
question's accuracy under compute-optimal, best fixed, allocated and the baselines at every
budget with its bin, for the report's paired intervals, and the headline ratios' ranges),
compute_optimal.md, policy_<bins>.json, policy_<bins>_allocated.json, compute_optimal.png
(overall curves, every bin kind), compute_optimal_bins_<bins>.png (per bin) and efficiency.png.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence, cast

import numpy as np

from data.bins import Bins
from data.config import ConfigError, save_config
from data.records import read_records
from data.shards import read_settings
from eval.paired import Comparison, Paired, Ratio, curve_of, paired, ratio
from eval.plots import Curve, Section, figure, grid_shape, plot_curves
from eval.search_report import EvalResult
from eval.summary import Summary
from eval.tracking import Figures, Tracking, log_figures
from eval.wording import num, tally
from ttc.policy import ROLES, STRATEGIES, Entry, Policy, identify
from ttc.search import BestOfNConfig
from ttc.search.result import SearchResult
from ttc.stages.spec import Finding, ReportPart, StageSpec

log = logging.getLogger(__name__)
Record = Mapping[str, Any]
CO, WEIGHTED, MAJORITY = "compute-optimal", "best-of-N weighted", "majority"  # the curves' names
FIXED, ALLOCATED = "best fixed", "compute-optimal, allocated"
EXACT = 9  # decimals the allocation's sums are compared at: equal sums of floats compare equal
REQUIRED = ("problem_id", "strategy", "params", "seed", "correct")


@dataclass
class MethodsConfig:
    """How records become methods, and which methods are the baselines."""

    budget_field: Literal["generations", "budget"] = "generations"
    weighted: dict[str, Any] = field(default_factory=lambda: {"strategy": "best_of_n", "selection": "weighted"})
    majority: dict[str, Any] | None = field(default_factory=lambda: {"strategy": "best_of_n", "selection": "majority"})
    exclude: list[dict[str, Any]] = field(default_factory=lambda: [{"selection": "majority"}])  # never chosen
    seed: int = 0  # fold split
    tolerance: float = 0.0  # "matches" in the efficiency ratio: acc_CO >= acc_BoN - tolerance
    allocate: bool = True  # also allocate the budget across bins (ALLOCATED) and fit its policy

    def __post_init__(self) -> None:
        if self.tolerance < 0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")


# --- records -> a grid of per-question accuracies ----------------------------------------------
def method_spec(record: Record) -> dict[str, Any]:
    """The strategy and the settings that define a method (not the budget, the seed or anything derived)."""
    if record["strategy"] not in STRATEGIES:
        raise ValueError(f"strategy {record['strategy']!r} is not one of {', '.join(STRATEGIES)}")
    return {"strategy": record["strategy"], **STRATEGIES[record["strategy"]].config.method_of(record["params"])}


def method_label(spec: Mapping[str, Any]) -> str:
    """Stable label: `strategy(key=value, ...)`, keys sorted, values as JSON."""
    params = ", ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in sorted(spec.items()) if k != "strategy")
    return f"{spec['strategy']}({params})"


def matches(spec: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    return all(k in spec and spec[k] == v for k, v in want.items())


@dataclass
class Grid:
    """Per-question accuracy of every (method, budget) that ran, on one question order."""

    questions: list[str]
    methods: dict[str, dict[str, Any]]  # label -> spec
    acc: dict[tuple[str, int], np.ndarray]  # (label, budget) -> accuracy per question (mean over its seeds)
    params: dict[tuple[str, int], dict[str, Any]]  # (label, budget) -> its settings there: the method's and n
    seeds: int  # the most seeds any question's accuracy is a mean over
    spent: dict[tuple[str, int], np.ndarray]  # (label, budget) -> budget units drawn per question (mean over seeds)

    def budgets(self, label: str) -> list[int]:
        return sorted(b for m, b in self.acc if m == label)

    def find(self, want: Mapping[str, Any], what: str) -> str:
        """The one method matching `want`."""
        found = [label for label, spec in self.methods.items() if matches(spec, want)]
        if len(found) != 1:
            raise ValueError(
                f"{what}: {len(found)} methods match {dict(want)}, need exactly one; methods: {sorted(self.methods)}"
            )
        return found[0]


def as_record(record: Record | SearchResult, i: int, budget_field: str) -> Record:
    r = dataclasses.asdict(record) if dataclasses.is_dataclass(record) else record
    missing = [k for k in (*REQUIRED, budget_field) if k not in r]
    if missing:
        raise ValueError(f"record {i}: missing field(s) {missing}")
    return r


def spent_of(r: Record, budget_field: str) -> float:
    """What the record drew, in the grid's budget unit: `spent` (generations, from an adaptive
    strategy; read with get, as records written before the field have none) or else the budget;
    with budget_field "budget" the same fraction of N."""
    spent, budget = r.get("spent"), float(r[budget_field])
    if spent is None:
        return budget
    return float(spent) if budget_field == "generations" else budget * float(spent) / float(r["generations"])


def build_grid(records: Sequence[Record | SearchResult], cfg: MethodsConfig) -> Grid:
    """The grid of `records`; an empty list, a duplicated (problem, method, budget, seed) or a
    (method, budget) without a record for some question is an error."""
    if not records:
        raise ValueError("no result records")
    correct: dict[tuple[str, int], dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    drawn: dict[tuple[str, int], dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    methods, params = {}, {}
    for i, record in enumerate(records):
        r = as_record(record, i, cfg.budget_field)
        try:
            spec = method_spec(r)
        except ValueError as e:
            raise ValueError(f"record {i}: {e}") from e
        # a `ttc eval` line's own name ("Beam; M=4") where the record has one: what people read
        label, budget = r.get("name") or method_label(spec), int(r[cfg.budget_field])
        methods[label] = spec
        seeds = correct[(label, budget)][r["problem_id"]]
        if r["seed"] in seeds:
            raise ValueError(
                f"record {i}: a second result for problem {r['problem_id']}, {label}, budget {budget}, seed {r['seed']}"
            )
        seeds[r["seed"]] = float(r["correct"])
        drawn[(label, budget)][r["problem_id"]][r["seed"]] = spent_of(r, cfg.budget_field)
        settings = {k: v for k, v in spec.items() if k != "strategy"}
        params.setdefault((label, budget), {**settings, "n": r["params"]["n"]})
    questions = sorted({q for per_q in correct.values() for q in per_q})
    acc, spent = {}, {}
    for (label, budget), per_q in sorted(correct.items()):
        missing = [q for q in questions if q not in per_q]
        if missing:
            raise ValueError(
                f"{label} at budget {budget}: no result for {len(missing)} of {len(questions)} "
                f"question(s), e.g. {missing[0]}"
            )
        acc[(label, budget)] = np.array([np.mean(list(per_q[q].values())) for q in questions])
        spent[(label, budget)] = np.array([np.mean(list(drawn[(label, budget)][q].values())) for q in questions])
    seeds = max(len(s) for per_q in correct.values() for s in per_q.values())
    return Grid(questions, methods, acc, params, seeds, spent)


def analysis_budgets(grid: Grid, weighted: str) -> list[int]:
    """Best-of-N weighted's budgets; every method's budgets on them must have no hole."""
    budgets = grid.budgets(weighted)
    outside = sorted({b for _, b in grid.acc} - set(budgets))
    if outside:
        log.info("budgets %s are beyond best-of-N weighted's grid and left out", outside)
    for label in sorted(grid.methods):
        mine = [budgets.index(b) for b in grid.budgets(label) if b in budgets]
        if mine and mine != list(range(mine[0], mine[-1] + 1)):
            have = [budgets[j] for j in mine]
            hole = [b for b in budgets[mine[0] : mine[-1] + 1] if b not in have]
            raise ValueError(f"{label}: budgets {have} but none at {hole} (missing runs)")
    return budgets


# --- selection --------------------------------------------------------------------------------
def choose(grid: Grid, candidates: Sequence[str], budget: int, idx: np.ndarray) -> str:
    """The candidate with the highest mean accuracy on questions `idx` at `budget` (ties: the
    first in sorted label order)."""
    scored = [(float(grid.acc[(m, budget)][idx].mean()), m) for m in sorted(candidates) if (m, budget) in grid.acc]
    if not scored:
        raise ValueError(f"no candidate method ran at budget {budget}")
    best = max(s for s, _ in scored)
    return next(m for s, m in scored if s == best)


def split_folds(question_idx: np.ndarray, seed: int, bin_: int) -> tuple[np.ndarray, np.ndarray]:
    """Two folds of a bin's questions (indices into the grid's sorted ids), seeded by (seed, bin)."""
    perm = np.random.default_rng([seed, bin_]).permutation(np.sort(question_idx))
    half = (len(perm) + 1) // 2
    return perm[:half], perm[half:]


def bin_indices(grid: Grid, bins: Mapping[str, int]) -> dict[int, np.ndarray]:
    """Each bin's question indices; a question of the records without a bin is an error."""
    unknown = [q for q in grid.questions if q not in bins]
    if unknown:
        raise ValueError(f"{len(unknown)} question(s) of the results have no difficulty bin, e.g. {unknown[0]}")
    extra = len(set(bins) - set(grid.questions))
    if extra:
        log.warning("%d binned question(s) have no results; bins are over the %d that do", extra, len(grid.questions))
    by_bin: dict[int, list[int]] = defaultdict(list)
    for i, q in enumerate(grid.questions):
        by_bin[bins[q]].append(i)
    small = [b for b, idx in by_bin.items() if len(idx) < 2]
    if small:
        raise ValueError(f"bin {small[0]} has fewer than 2 questions: 2-fold CV needs two non-empty folds")
    return {b: np.array(idx) for b, idx in sorted(by_bin.items())}


def cross_validate(
    grid: Grid, candidates: Sequence[str], budget: int, folds: tuple[np.ndarray, np.ndarray]
) -> tuple[list[tuple[str, np.ndarray]], tuple[str, str]]:
    """Which method scores each fold: the one chosen on the other fold (fold A's questions by
    the method chosen on B, fold B's by A's), and the two choices (on A, on B)."""
    a, b = folds
    on_a, on_b = choose(grid, candidates, budget, a), choose(grid, candidates, budget, b)
    return [(on_b, a), (on_a, b)], (on_a, on_b)


@dataclass
class Outcomes:
    """One curve's per-question accuracy and spent budget at each analysis budget, filled fold by
    fold; a budget where the curve's method did not run stays unfilled (NaN) and is left out."""

    budgets: list[int]
    acc: np.ndarray  # [budget index, question]
    spent: np.ndarray

    @classmethod
    def empty(cls, budgets: Sequence[int], questions: int) -> "Outcomes":
        return cls(
            list(budgets), np.full((len(budgets), questions), np.nan), np.full((len(budgets), questions), np.nan)
        )

    def score(self, grid: Grid, budget: int, key: tuple[str, int], idx: np.ndarray) -> None:
        """Questions `idx` at analysis budget `budget` as the (method, budget) `key` did on them."""
        j = self.budgets.index(budget)
        self.acc[j, idx], self.spent[j, idx] = grid.acc[key][idx], grid.spent[key][idx]

    def filled(self) -> list[tuple[int, int]]:
        return [(j, b) for j, b in enumerate(self.budgets) if not np.isnan(self.acc[j]).any()]

    def curve(self, idx: np.ndarray | slice = slice(None), of: str = "acc") -> Curve:
        """Budget -> the mean over questions `idx` (default: all) of accuracy or spent."""
        return {b: float(getattr(self, of)[j, idx].mean()) for j, b in self.filled()}

    def per_question(self, questions: Sequence[str], of: str = "acc") -> dict[int, dict[str, float]]:
        return {b: dict(zip(questions, getattr(self, of)[j].tolist())) for j, b in self.filled()}


Option = tuple[str, int]  # (method, budget): what a bin runs in an allocation


def allocate(grid: Grid, options: Sequence[Option], by_bin: Mapping[int, np.ndarray], budget: int) -> dict[int, Option]:
    """Per bin the option of `options` such that the total accuracy over the bins' questions is
    the largest with their total spent <= budget x their number (the mean spent <= budget).
    Exact: a multiple-choice knapsack solved by the Pareto frontier of (spent, accuracy) over the
    bins so far; sums are compared at EXACT decimals, so the frontier has at most one state per
    reachable total accuracy (sums of per-question means over seeds). Ties: the least spent, then
    the first in `options` order, bin by bin."""
    capacity = round(budget * sum(len(idx) for idx in by_bin.values()), EXACT)
    frontier: list[tuple[float, float, tuple[Option, ...]]] = [(0.0, 0.0, ())]  # (spent, accuracy, choices)
    for idx in by_bin.values():
        cost = {o: float(grid.spent[o][idx].sum()) for o in options}
        gain = {o: float(grid.acc[o][idx].sum()) for o in options}
        grown = [
            (round(c + cost[o], EXACT), round(v + gain[o], EXACT), (*ch, o)) for c, v, ch in frontier for o in options
        ]
        frontier = pareto([g for g in grown if g[0] <= capacity])
        if not frontier:
            raise ValueError(f"allocation at budget {budget}: no option of some bin spends <= {budget} on average")
    return dict(zip(by_bin, frontier[-1][2]))


def pareto(states: list[tuple[float, float, tuple[Option, ...]]]) -> list[tuple[float, float, tuple[Option, ...]]]:
    """The states no other beats on both spent and accuracy, by increasing spent (and accuracy);
    of equal ones the first (the sort is stable)."""
    kept: list[tuple[float, float, tuple[Option, ...]]] = []
    for state in sorted(states, key=lambda s: (s[0], -s[1])):
        if not kept or state[1] > kept[-1][1]:
            kept.append(state)
    return kept


@dataclass(frozen=True)
class Analysis:
    """Compute-optimal vs the baselines under one binning."""

    kind: str  # "oracle", "predicted", ...
    budgets: list[int]
    overall: dict[str, Curve]  # CO / FIXED / [ALLOCATED] / WEIGHTED / MAJORITY -> budget -> accuracy
    per_bin: dict[int, dict[str, Curve]]
    folds: dict[int, dict[int, tuple[str, str]]]  # bin -> budget -> (chosen on A, chosen on B)
    fixed: dict[int, tuple[str, str]]  # budget -> best fixed method (chosen on all bins' fold A, on fold B)
    policy: dict[int, dict[int, tuple[str, float]]]  # bin -> budget -> (method, its accuracy) fit on all the bin
    efficiency: dict[int, int | None]  # BoN budget -> smallest CO budget that matches it
    per_question: dict[str, dict[int, dict[str, float]]]  # each curve -> budget -> question -> acc
    bins: dict[str, int]  # question -> bin
    spread: Ratio  # the headline ratio (best-of-N's largest budget) with its bootstrap range over questions
    seeds: int  # the most seeds a question's accuracy is a mean over
    spent: dict[str, Curve]  # each curve -> budget -> mean generations (budget units) spent per question
    # allocation across bins (empty / None when not configured): budget -> (fit on fold A, fit on fold B),
    # each bin -> (method, its budget); the allocation fit on all questions: bin -> budget -> (method, its budget,
    # its accuracy on the bin); BoN budget -> smallest allocated budget matching it (its spent: spent[ALLOCATED]);
    # the headline ratio on spent, B / spent(B'), with its bootstrap range
    allocation: dict[int, tuple[dict[int, tuple[str, int]], dict[int, tuple[str, int]]]]
    allocated_policy: dict[int, dict[int, tuple[str, int, float]]]
    allocated_efficiency: dict[int, int | None]
    allocated_spread: Ratio | None


@dataclass(frozen=True)
class ComputeOptimalSummary(Summary):
    """compute_optimal.json: the analysis under each binning, in the order of the config's bins."""

    FORMAT = "ttc.compute_optimal"
    VERSION = 2  # 2: best fixed, the allocation and spent generations
    analyses: list[Analysis]


def baselines(grid: Grid, cfg: MethodsConfig) -> dict[str, str]:
    found = {WEIGHTED: grid.find(cfg.weighted, "best-of-N weighted")}
    if cfg.majority is not None:
        found[MAJORITY] = grid.find(cfg.majority, "majority")
    return found


def candidates_of(grid: Grid, cfg: MethodsConfig) -> list[str]:
    chosen = [m for m, spec in grid.methods.items() if not any(matches(spec, x) for x in cfg.exclude)]
    if not chosen:
        raise ValueError(f"every method is excluded by {cfg.exclude}")
    return sorted(chosen)


def efficiency(co: Curve, baseline: Curve, tolerance: float = 0.0) -> dict[int, int | None]:
    """For each baseline budget B, the smallest budget B' with co[B'] >= baseline[B] - tolerance."""
    return {b: next((c for c in sorted(co) if co[c] >= acc - tolerance), None) for b, acc in sorted(baseline.items())}


def headline(eff: Mapping[int, int | None]) -> tuple[int, int | None, float | None]:
    """(largest baseline budget, the CO budget matching it, their ratio)."""
    top = max(eff)
    match = eff[top]
    return top, match, None if match is None else top / match


def spent_headline(eff: Mapping[int, int | None], spent: Curve) -> tuple[int, float | None, float | None]:
    """(largest baseline budget B, the mean spent of the budget matching it, B / that spent)."""
    top, match, _ = headline(eff)
    used = None if match is None else spent[match]
    return top, used, None if used is None else top / used


def spent_ratio(
    acc: Mapping[int, Mapping[str, float]],
    spent: Mapping[int, Mapping[str, float]],
    baseline: Mapping[int, Mapping[str, float]],
    tolerance: float,
    seeds: int,
    seed: int,
) -> Ratio:
    """The headline ratio on mean spent generations, B / spent(B'), with its bootstrap range; its
    `match` is the budget B' itself (the spent is the curve's). ratio() resamples every
    per-question mapping it gets alike, so the spent ride along under the keys -budget and each
    resample's ratio is over its own mean spent."""
    top = max(baseline)

    def matched(curve: dict[int, float], bon: dict[int, float]) -> int | None:
        return efficiency({b: x for b, x in curve.items() if b > 0}, bon, tolerance)[top]

    def used(curve: dict[int, float], bon: dict[int, float]) -> float | None:
        found = matched(curve, bon)
        return None if found is None else curve[-found]

    # ratio() only divides by what `used` returns (a mean spent, not a budget); `match` is replaced below
    by_spent = cast("Callable[[dict[int, float], dict[int, float]], int | None]", used)
    found = ratio({**acc, **{-b: s for b, s in spent.items()}}, baseline, top, by_spent, seeds, seed=seed)
    return dataclasses.replace(found, match=matched(curve_of(acc), curve_of(baseline)))


def analyse(grid: Grid, binned: Bins, cfg: MethodsConfig) -> Analysis:
    """Compute-optimal (2-fold CV per bin and budget), the best fixed method and the allocation
    across bins (the same folds) against the baselines, per bin and overall."""
    base = baselines(grid, cfg)
    budgets = analysis_budgets(grid, base[WEIGHTED])
    candidates = candidates_of(grid, cfg)
    by_bin = bin_indices(grid, binned.bins)
    splits = {b: split_folds(idx, cfg.seed, b) for b, idx in by_bin.items()}
    outcomes, folds, fixed, policy = select_cv(grid, candidates, budgets, by_bin, splits)
    allocation: dict[int, tuple[dict[int, Option], dict[int, Option]]] = {}
    allocated_policy: dict[int, dict[int, tuple[str, int, float]]] = {}
    if cfg.allocate:
        options = options_of(grid, candidates, budgets)
        outcomes[ALLOCATED], allocation = allocate_cv(grid, options, budgets, splits)
        allocated_policy = allocate_all(grid, options, budgets, by_bin)
    everyone = np.arange(len(grid.questions))
    for name, label in base.items():
        outcomes[name] = Outcomes.empty(budgets, len(grid.questions))
        for budget in budgets:
            if (label, budget) in grid.acc:
                outcomes[name].score(grid, budget, (label, budget), everyone)
    overall = {name: o.curve() for name, o in outcomes.items()}
    per_question = {name: o.per_question(grid.questions) for name, o in outcomes.items()}
    eff = efficiency(overall[CO], overall[WEIGHTED], cfg.tolerance)
    top = max(eff)
    spread = ratio(
        per_question[CO],
        per_question[WEIGHTED],
        top,
        lambda c, bon: efficiency(c, bon, cfg.tolerance)[top],
        grid.seeds,
        seed=cfg.seed,
    )
    alloc_eff, alloc_spread = {}, None
    if cfg.allocate:
        alloc_eff = efficiency(overall[ALLOCATED], overall[WEIGHTED], cfg.tolerance)
        alloc_spread = spent_ratio(
            per_question[ALLOCATED],
            outcomes[ALLOCATED].per_question(grid.questions, "spent"),
            per_question[WEIGHTED],
            cfg.tolerance,
            grid.seeds,
            cfg.seed,
        )
    return Analysis(
        binned.kind,
        budgets,
        overall,
        {b: {name: o.curve(idx) for name, o in outcomes.items()} for b, idx in by_bin.items()},
        folds,
        fixed,
        policy,
        eff,
        per_question,
        {q: binned.bins[q] for q in grid.questions},
        spread,
        grid.seeds,
        {name: o.curve(of="spent") for name, o in outcomes.items()},
        allocation,
        allocated_policy,
        alloc_eff,
        alloc_spread,
    )


def select_cv(
    grid: Grid,
    candidates: Sequence[str],
    budgets: Sequence[int],
    by_bin: Mapping[int, np.ndarray],
    splits: Mapping[int, tuple[np.ndarray, np.ndarray]],
) -> tuple[
    dict[str, Outcomes],
    dict[int, dict[int, tuple[str, str]]],
    dict[int, tuple[str, str]],
    dict[int, dict[int, tuple[str, float]]],
]:
    """Compute-optimal and best fixed by 2-fold CV on the bins' folds: their outcomes, the choices
    per bin and budget, best fixed's per budget, and the policy fit on each whole bin."""
    outcomes = {CO: Outcomes.empty(budgets, len(grid.questions)), FIXED: Outcomes.empty(budgets, len(grid.questions))}
    folds: dict[int, dict[int, tuple[str, str]]] = defaultdict(dict)
    policy: dict[int, dict[int, tuple[str, float]]] = defaultdict(dict)
    fixed: dict[int, tuple[str, str]] = {}
    union = (np.concatenate([a for a, _ in splits.values()]), np.concatenate([b for _, b in splits.values()]))
    for budget in budgets:
        for b, idx in by_bin.items():
            scored, folds[b][budget] = cross_validate(grid, candidates, budget, splits[b])
            for label, where in scored:
                outcomes[CO].score(grid, budget, (label, budget), where)
            label = choose(grid, candidates, budget, idx)
            policy[b][budget] = label, float(grid.acc[(label, budget)][idx].mean())
        scored, fixed[budget] = cross_validate(grid, candidates, budget, union)
        for label, where in scored:
            outcomes[FIXED].score(grid, budget, (label, budget), where)
    return outcomes, dict(folds), fixed, dict(policy)


def options_of(grid: Grid, candidates: Sequence[str], budgets: Sequence[int]) -> list[Option]:
    """What a bin may run in an allocation: every candidate at every analysis budget it ran at."""
    return [(m, b) for m in sorted(candidates) for b in budgets if (m, b) in grid.acc]


def allocate_cv(
    grid: Grid, options: Sequence[Option], budgets: Sequence[int], splits: Mapping[int, tuple[np.ndarray, np.ndarray]]
) -> tuple[Outcomes, dict[int, tuple[dict[int, Option], dict[int, Option]]]]:
    """The allocation at each budget fit on fold A (every bin's fold A, jointly) and scored on
    fold B, and vice versa: the same folds as compute-optimal's."""
    out = Outcomes.empty(budgets, len(grid.questions))
    fits = {}
    for budget in budgets:
        on = [allocate(grid, options, {b: split[side] for b, split in splits.items()}, budget) for side in (0, 1)]
        for b, split in splits.items():
            out.score(grid, budget, on[1][b], split[0])  # fold A's questions under the allocation fit on B
            out.score(grid, budget, on[0][b], split[1])
        fits[budget] = on[0], on[1]
    return out, fits


def allocate_all(
    grid: Grid, options: Sequence[Option], budgets: Sequence[int], by_bin: Mapping[int, np.ndarray]
) -> dict[int, dict[int, tuple[str, int, float]]]:
    """The allocation fit on all questions (the allocated policy): bin -> budget -> (method, its
    budget, its accuracy on the bin)."""
    fit: dict[int, dict[int, tuple[str, int, float]]] = defaultdict(dict)
    for budget in budgets:
        for b, (label, own) in allocate(grid, options, by_bin, budget).items():
            fit[b][budget] = label, own, float(grid.acc[(label, own)][by_bin[b]].mean())
    return dict(fit)


def fit_policy(
    grid: Grid,
    analysis: Analysis,
    binned: Bins,
    cfg: MethodsConfig,
    allocated: bool = False,
    models: dict[str, dict[str, Any]] | None = None,
) -> Policy:
    """The fitted policy: per bin and budget, the method chosen on all of the bin's questions and
    its settings there; `allocated`: per bin and average budget B, the method and its own budget
    of the allocation fit on all questions (its settings at that budget, n included). With
    predicted bins, also what `ttc solve` bins a new question by: their edges, and a probe that
    samples as best-of-N weighted (whose pool it joins). `models`: what it was fit with (`fitted_models`)."""
    chosen = (
        analysis.allocated_policy
        if allocated
        else {
            b: {budget: (label, budget, acc) for budget, (label, acc) in per_budget.items()}
            for b, per_budget in analysis.policy.items()
        }
    )
    if allocated and not chosen:
        raise ValueError("no allocation to fit a policy on: methods.allocate is off")
    table = {
        b: {
            budget: Entry(label, grid.methods[label]["strategy"], grid.params[(label, own)], acc)
            for budget, (label, own, acc) in per_budget.items()
        }
        for b, per_budget in chosen.items()
    }
    if binned.kind != "predicted":
        return Policy(binned.kind, table, cfg.budget_field, allocated=allocated, models=models)
    weighted = grid.find(cfg.weighted, "best-of-N weighted")
    settings = grid.params[(weighted, grid.budgets(weighted)[0])]
    probe = BestOfNConfig(**BestOfNConfig.method_of(settings)).pool_settings()
    return Policy(binned.kind, table, cfg.budget_field, binned.edges(), probe, allocated=allocated, models=models)


# --- figures and markdown ---------------------------------------------------------------------
STYLES = {
    WEIGHTED: {"color": "tab:blue"},
    MAJORITY: {"color": "tab:gray", "linestyle": "--"},
    CO: {"color": "tab:red"},
    FIXED: {"color": "tab:brown", "linestyle": ":"},
    ALLOCATED: {"color": "tab:red", "linestyle": "-."},
}
CO_COLORS = ("tab:red", "tab:orange", "tab:green", "tab:purple")  # one per binning
BINNED = {CO: "-", FIXED: ":", ALLOCATED: "-."}  # the curves each binning has its own of (its folds), by line style


def co_name(a: Analysis, name: str = CO) -> str:
    return f"{name} ({a.kind} bins)"


def co_styles(analyses: Sequence[Analysis]) -> dict[str, dict[str, Any]]:
    return {
        **STYLES,
        **{
            co_name(a, name): {"color": CO_COLORS[i % len(CO_COLORS)], "linestyle": style}
            for i, a in enumerate(analyses)
            for name, style in BINNED.items()
        },
    }


def short_labels(labels: Iterable[str], grid: Grid) -> dict[str, str]:
    """Line names as they are; spec labels without the parameters every method shares."""
    specs = {m: grid.methods[m] for m in labels}
    keys = {k for s in grid.methods.values() for k in s}
    shared = {k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in grid.methods.values()}) == 1}
    return {
        m: m
        if m != method_label(s)
        else method_label({k: v for k, v in s.items() if k not in shared or k == "strategy"})
        for m, s in specs.items()
    }


def overall_curves(analyses: Sequence[Analysis], of: str = "overall") -> dict[str, Curve]:
    """Compute-optimal, best fixed and allocated under each binning, then the baselines (the same
    for every binning); `of`: "overall" (accuracy) or "spent" (mean generations per question)."""
    curves = {co_name(a, name): getattr(a, of)[name] for a in analyses for name in BINNED if name in a.overall}
    return {**curves, **{k: v for k, v in getattr(analyses[0], of).items() if k not in BINNED}}


def plot_overall(analyses: Sequence[Analysis], path: Path) -> None:
    """Paper Figs. 4 and 8: compute-optimal (each binning) vs best fixed, allocated, best-of-N weighted, majority."""
    with figure(path) as (_, ax):
        plot_curves(
            ax,
            overall_curves(analyses),
            xlabel="generation budget",
            styles=co_styles(analyses),
            title="compute-optimal scaling",
        )


def plot_bins(analysis: Analysis, path: Path) -> None:
    rows, cols = grid_shape(len(analysis.per_bin))
    with figure(path, rows, cols, size=(4 * cols, 3.2 * rows)) as (fig, axes):
        for ax, (b, curves) in zip(axes.flat, analysis.per_bin.items()):
            plot_curves(ax, curves, xlabel="generation budget", styles=STYLES, title=f"{analysis.kind} bin {b}")
        for ax in list(axes.flat)[len(analysis.per_bin) :]:
            ax.set_visible(False)


def allocated_matches(a: Analysis) -> dict[int, float | None]:
    """Best-of-N budget -> the mean spent generations at which the allocation matches it."""
    return {b: None if m is None else a.spent[ALLOCATED][m] for b, m in a.allocated_efficiency.items()}


def plot_efficiency(analyses: Sequence[Analysis], path: Path) -> None:
    """The budget compute-optimal (and the allocation, in mean spent generations) needs to match
    best-of-N weighted at each of its budgets."""
    styles = co_styles(analyses)
    lines = {co_name(a): a.efficiency for a in analyses}
    lines |= {co_name(a, ALLOCATED): allocated_matches(a) for a in analyses if a.allocated_spread is not None}
    with figure(path) as (_, ax):
        efficiency_axes(
            ax, analyses[0].budgets, lines, {name: styles[name] for name in lines}, "compute-optimal budget to match it"
        )


def efficiency_axes(
    ax,
    budgets: Sequence[int],
    lines: Mapping[str, Mapping[int, float | None]],
    styles: Mapping[str, dict[str, Any]],
    ylabel: str,
) -> None:
    """Each line's budget to match best-of-N weighted at each of its budgets (log2 axes, with the
    same-budget diagonal); budgets never matched are left out."""
    ax.plot(budgets, budgets, color="tab:gray", linestyle=":", label="same budget")
    for label, eff in lines.items():
        pts = [(b, m) for b, m in eff.items() if m is not None]
        ax.plot([b for b, _ in pts], [m for _, m in pts], marker="o", label=label, **styles[label])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("best-of-N weighted budget")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def curves_table(curves: Mapping[str, Curve], budgets: Sequence[int], spec: str = ".3f") -> list[str]:
    rows = ["| method | " + " | ".join(str(b) for b in budgets) + " |", "|---" * (len(budgets) + 1) + "|"]
    rows += [
        f"| {name} | " + " | ".join(format(c[b], spec) if b in c else "" for b in budgets) + " |"
        for name, c in curves.items()
    ]
    return rows


def efficiency_sentence(a: Analysis, tolerance: float) -> str:
    top, match, times = headline(a.efficiency)
    best = max(((b / m, b, m) for b, m in a.efficiency.items() if m), default=None)
    tail = f"; at best {best[0]:g}x ({best[2]} vs {best[1]})" if best and best[0] != times else ""
    within = f" within {tolerance:g}" if tolerance else ""
    if match is None:
        return (
            f"With {a.kind} bins, compute-optimal never matches{within} best-of-N weighted at {top} generations "
            f"{a.spread.spread()}{tail}."
        )
    return (
        f"With {a.kind} bins, compute-optimal matches{within} best-of-N weighted at {top} generations with "
        f"{match}: {times:g}x less compute {a.spread.spread()}{tail} (paper: 4x, 16 vs 64)."
    )


def allocated_sentence(a: Analysis, tolerance: float) -> str:
    """The allocation's headline on its mean spent generations (it needs a.allocated_spread)."""
    top, used, times = spent_headline(a.allocated_efficiency, a.spent[ALLOCATED])
    within = f" within {tolerance:g}" if tolerance else ""
    if used is None:
        return (
            f"With {a.kind} bins, the allocation across bins never matches{within} best-of-N weighted at {top} "
            f"generations {cast(Ratio, a.allocated_spread).spread()}."
        )
    return (
        f"With {a.kind} bins, the allocation across bins matches{within} best-of-N weighted at {top} generations "
        f"at average budget {a.allocated_efficiency[top]}, spending {used:.3g} generations per question: "
        f"{times:.3g}x less compute {cast(Ratio, a.allocated_spread).spread()}."
    )


def efficiency_words(a: Analysis, allocated: bool = False) -> str:
    """The budget compute-optimal needs to match best-of-N weighted at its largest, with its range;
    `allocated`: the allocation's, on its mean spent generations."""
    if allocated:
        top, used, times = spent_headline(a.allocated_efficiency, a.spent[ALLOCATED])
        alloc = cast(Ratio, a.allocated_spread)  # the allocated words need it
        if used is None:
            return f"at budget {top} no budget of the grid does {alloc.spread()}"
        return (
            f"at budget {top} it needs average budget {a.allocated_efficiency[top]}, spending {used:.3g} generations "
            f"per question ({f'{times:.3g}x less' if cast(float, times) > 1 else 'no saving'}) {alloc.spread()}"
        )
    top, match, times = headline(a.efficiency)
    if match is None:
        return f"at budget {top} no budget of the grid matches it {a.spread.spread()}"
    saving = f"{times:g}x less" if cast(float, times) > 1 else "no saving"  # times is None only with match
    return f"at budget {top} it needs {match} ({saving}) {a.spread.spread()}"


def choices_table(rows: Mapping[Any, Mapping[int, str]], budgets: Sequence[int], head: str) -> list[str]:
    return ["| " + head + " | " + " | ".join(str(b) for b in budgets) + " |", "|---" * (len(budgets) + 1) + "|"] + [
        f"| {r} | " + " | ".join(cells.get(b, "") for b in budgets) + " |" for r, cells in rows.items()
    ]


def section(grid: Grid, analyses: Sequence[Analysis], out_dir: Path | str, cfg: MethodsConfig) -> Section:
    """Markdown and figures: overall curves and their spent generations, the methods chosen (per
    bin, best fixed, allocated), the efficiency ratios."""
    out = Path(out_dir)
    budgets = analyses[0].budgets
    text = [
        "Accuracy vs generation budget (compute-optimal: method chosen per bin and budget by 2-fold CV; best "
        "fixed: one method for every bin, chosen on the same folds; allocated: a method and budget per bin, "
        "mean spent <= the budget, fit on the same folds):",
        "",
        *curves_table(overall_curves(analyses), budgets),
        "",
        "Mean generations spent per question:",
        "",
        *curves_table(overall_curves(analyses, "spent"), budgets, ".2f"),
        "",
    ]
    text += [efficiency_sentence(a, cfg.tolerance) for a in analyses]
    text += [allocated_sentence(a, cfg.tolerance) for a in analyses if a.allocated_spread is not None]
    figures = [out / "compute_optimal.png", out / "efficiency.png"]
    plot_overall(analyses, figures[0])
    plot_efficiency(analyses, figures[1])
    names = short_labels(grid.methods, grid)
    for a in analyses:
        text += [
            "",
            f"Method chosen on all questions of each {a.kind} bin, and the best fixed method (chosen on "
            "fold A / on fold B):",
            "",
        ]
        rows: dict[int | str, dict[int, str]] = {
            b: {budget: names[label] for budget, (label, _) in p.items()} for b, p in a.policy.items()
        }
        rows["best fixed"] = {budget: " / ".join(names[m] for m in pair) for budget, pair in a.fixed.items()}
        text += choices_table(rows, budgets, "bin")
        if a.allocated_policy:
            text += [
                "",
                f"Allocation fit on all questions, per {a.kind} bin and average budget (method @ its budget):",
                "",
                *choices_table(
                    {
                        b: {budget: f"{names[m]} @ {own}" for budget, (m, own, _) in p.items()}
                        for b, p in a.allocated_policy.items()
                    },
                    budgets,
                    "bin",
                ),
            ]
        figures.append(out / f"compute_optimal_bins_{a.kind}.png")
        plot_bins(a, figures[-1])
    return Section("\n".join(text) + "\n", figures)


def tracked_figures(analyses: Sequence[Analysis]) -> Figures:
    """For the tracker, per binning: each overall curve against the budget, and the efficiency
    ratio B / B' at each best-of-N budget B and at its largest (the headline); never matched: left out.
    With the allocation, its mean spent generations and its ratio on them."""
    figures: dict[str, Any] = {}
    for a in analyses:
        at = f"compute_optimal/{a.kind}"
        figures |= {f"{at}/{name}/accuracy": c for name, c in a.overall.items()}
        figures[f"{at}/efficiency"] = headline(a.efficiency)[2]
        figures[f"{at}/efficiency_by_budget"] = {b: b / m for b, m in a.efficiency.items() if m}
        if a.allocated_spread is not None:
            figures[f"{at}/{ALLOCATED}/spent"] = a.spent[ALLOCATED]
            figures[f"{at}/{ALLOCATED}/efficiency"] = spent_headline(a.allocated_efficiency, a.spent[ALLOCATED])[2]
    return figures


# --- entry ------------------------------------------------------------------------------------
@dataclass
class ComputeOptimalConfig:
    results: list[str]  # SearchResult JSONL files (search grid, revisions)
    bins: dict[str, str]  # kind (oracle, predicted) -> its bins file (data/bins.py)
    output_dir: str
    methods: MethodsConfig = field(default_factory=MethodsConfig)
    tracking: Tracking = field(default_factory=Tracking)

    def __post_init__(self) -> None:
        if not self.results or not self.bins:
            raise ValueError("need at least one results file and one bins file")


def read_results(paths: Sequence[str]) -> list[EvalResult]:
    """The records of `ttc eval` runs (search and revision grids)."""
    return [r for path in paths for r in read_records(path, EvalResult)]


def settings_file(results: str) -> Path:
    """Where `ttc eval` saved the settings of a results file (data/shards.py merge)."""
    path = Path(results)
    return path.with_name(path.name.removesuffix(".jsonl") + ".settings.json")


def fitted_models(paths: Sequence[str]) -> dict[str, dict[str, Any]] | None:
    """Role -> {path, digest} of the models the results files were measured with (module
    docstring: Provenance); None, with a warning, when a file's settings are not beside it."""
    models: dict[str, dict[str, Any]] = {}
    for results in paths:
        if not settings_file(results).is_file():
            log.warning(
                "%s: no %s beside it: the policy cannot record the models it is fit with",
                results,
                settings_file(results).name,
            )
            return None
        settings = read_settings(settings_file(results))
        # a line runs its strategy's (LM role, verifier role) on the grid's lm.model and prm.path
        keys = {
            role: key
            for line in settings.get("strategies", {}).values()
            for role, key in zip(STRATEGIES[line["strategy"]].models, ("lm.model", "prm.path"))
        }
        for role in [r for r in ROLES if r in keys]:  # in ROLES' order: the order of a policy's `models`
            key = keys[role]
            found = identify(settings[key], f"{settings_file(results)}: {key}")
            digests = {found["digest"], models.get(role, found)["digest"]} - {None}
            if len(digests) > 1:
                raise ConfigError(
                    f"results: {results} was measured with {role} {found['path']}, another file with "
                    f"{role} {models[role]['path']}: one policy is fit on the results of one model"
                )
            models.setdefault(role, found)
    return models


def main(cfg: ComputeOptimalConfig) -> str:
    out = Path(cfg.output_dir)
    grid = build_grid(read_results(cfg.results), cfg.methods)
    models = fitted_models(cfg.results)
    bins = {kind: Bins.load(path) for kind, path in cfg.bins.items()}
    for kind, binned in bins.items():
        if binned.kind != kind:
            raise ConfigError(f"bins.{kind}: {cfg.bins[kind]} holds {binned.kind} bins")
    save_config(cfg, out / "config.yaml")  # once the inputs are read and checked: the record of an accepted run
    analyses = []
    for kind, binned in bins.items():
        analyses.append(analyse(grid, binned, cfg.methods))
        fit_policy(grid, analyses[-1], binned, cfg.methods, models=models).save(out / f"policy_{kind}.json")
        if cfg.methods.allocate:
            fit_policy(grid, analyses[-1], binned, cfg.methods, allocated=True, models=models).save(
                out / f"policy_{kind}_allocated.json"
            )
    ComputeOptimalSummary(analyses).save(out / "compute_optimal.json")
    result = section(grid, analyses, out, cfg.methods)
    (out / "compute_optimal.md").write_text(result.markdown)
    log_figures(cfg.tracking, out, "compute_optimal", tracked_figures(analyses))
    return result.markdown


# --- its part of the run's report (ttc/pipeline/report.py) and its headline comparisons ---
def compute_optimal_findings(folder: Path) -> list[Finding]:
    overall, selection, matched, allocated, per_bin = [], [], [], [], []
    for a in ComputeOptimalSummary.load(folder / "compute_optimal.json").analyses:
        co, bon = a.overall[CO], a.overall[WEIGHTED]
        budgets = sorted(set(co) & set(bon))

        def vs(x: int, y: int, name: str = CO, other: str = WEIGHTED) -> Paired:
            return paired(a.per_question[name][x], a.per_question[other][y], a.seeds)

        top = budgets[-1]
        overall.append(
            f"with {a.kind} bins it is {tally([vs(b, b) for b in budgets])} budgets, and at budget "
            f"{num(top)} {vs(top, top).words('best-of-N weighted')}"
        )
        on_a, on_b = a.fixed[top]
        chose = f"{on_a} on both folds" if on_a == on_b else f"{on_a} on fold A, {on_b} on fold B"
        per = [f"bin {b} {p.brief()}" for b, p in bin_comparisons(a, top, FIXED).items()]
        selection.append(
            f"with {a.kind} bins it is {tally([vs(b, b, CO, FIXED) for b in budgets])} budgets, and at "
            f"budget {num(top)} {vs(top, top, CO, FIXED).words(f'the best fixed method ({chose})')}; "
            f"per bin there: {'; '.join(per)}"
        )
        quarter = [b for b in budgets if 4 * b in budgets]
        four = (
            f"; at a quarter of the budget, compute-optimal at {num(quarter[-1])} is "
            f"{vs(quarter[-1], 4 * quarter[-1]).words(f'best-of-N weighted at {num(4 * quarter[-1])}')}"
            if quarter
            else ""
        )
        matched.append(f"with {a.kind} bins, {efficiency_words(a)}{four}")
        if a.allocated_spread is not None:
            allocated.append(
                f"with {a.kind} bins, at budget {num(top)} it spends {a.spent[ALLOCATED][top]:.3g} "
                f"generations per question and is {vs(top, top, ALLOCATED, CO).words('compute-optimal')}; "
                f"to match best-of-N weighted {efficiency_words(a, allocated=True)}"
            )
        per = [f"bin {b} {p.brief()}" for b, p in bin_comparisons(a, top).items()]
        per_bin.append(
            Finding(
                f"Per {a.kind} bin at budget {num(top)}, compute-optimal against best-of-N weighted: "
                f"{'; '.join(per)} (paper: the best method differs by bin: beam search on harder bins "
                "and best-of-N on easy ones; more sequential revisions on easy ones).",
                f"compute_optimal_bins_{a.kind}.png",
            )
        )
    alloc = (
        [
            Finding(
                f"Allocating the budget across bins (a method and its budget per bin, the mean spent within the "
                f"budget, fit on the same folds): {'; '.join(allocated)} (the paper leaves this open)."
            )
        ]
        if allocated
        else []
    )
    return [
        Finding(
            f"Compute-optimal (method per bin and budget by 2-fold CV) against best-of-N weighted: "
            f"{'; '.join(overall)} (paper: at or above at every budget).",
            "compute_optimal.png",
        ),
        Finding(
            f"Selection: compute-optimal against the best fixed method of the same menu, chosen on the same "
            f"folds (a gain from selecting per bin is one over it): {'; '.join(selection)} (the paper compares "
            "with best-of-N only)."
        ),
        Finding(f"Matching best-of-N weighted: {'; '.join(matched)} (paper: 4x less, 16 vs 64).", "efficiency.png"),
        *alloc,
        *per_bin,
    ]


def bin_comparisons(a: Analysis, budget: int, other: str | None = None) -> dict[int, Paired]:
    """Compute-optimal vs `other` (default best-of-N weighted) within each bin at `budget`, paired
    over its questions."""
    names = (CO, other or WEIGHTED)
    within = {
        b: [{q: x for q, x in a.per_question[name][budget].items() if a.bins[q] == b} for name in names]
        for b in a.per_bin
    }
    return {b: paired(pq[0], pq[1], a.seeds) for b, pq in within.items()}


def co_vs_weighted(path: Path, quarter: bool, baseline: str) -> list[Comparison]:
    """Per bin kind: compute-optimal at the largest budget (or a quarter of it) vs the analysis'
    weighted baseline (`baseline`: its name in that stage) at the largest budget."""
    found = []
    for a in ComputeOptimalSummary.load(path).analyses:
        co, base = a.per_question[CO], a.per_question[WEIGHTED]
        top = max(set(co) & set(base), default=None)
        n = top if not quarter or top is None else top // 4 if top % 4 == 0 else None
        if n is not None and n in co:
            found.append(
                Comparison(
                    f"{a.kind} bins",
                    f"compute-optimal, N={num(n)}",
                    f"{baseline}, N={num(cast(int, top))}",  # n is None when top is
                    paired(co[n], base[cast(int, top)], a.seeds),
                )
            )
    return found


def co_vs_fixed(path: Path, kind: str) -> list[Comparison]:
    """Compute-optimal vs the best fixed method of its menu (chosen on the same CV folds), with
    `kind` bins, at every budget: "beats it at some budget" is a claim over all of them."""
    found = []
    for a in ComputeOptimalSummary.load(path).analyses:
        co, fixed = a.per_question[CO], a.per_question.get(FIXED, {})
        found += [
            Comparison(
                f"{a.kind} bins, N={num(n)}",
                f"compute-optimal, N={num(n)}",
                f"best fixed, N={num(n)}",
                paired(co[n], fixed[n], a.seeds),
            )
            for n in sorted(set(co) & set(fixed))
            if a.kind == kind
        ]
    return found


def allocated_vs_weighted(path: Path) -> list[Comparison]:
    """Per bin kind: the budget allocated across bins at a quarter of the largest average budget
    vs best-of-N weighted at the largest (the paper's 4x)."""
    found = []
    for a in ComputeOptimalSummary.load(path).analyses:
        allocated, base = a.per_question.get(ALLOCATED, {}), a.per_question[WEIGHTED]
        top = max(base, default=None)
        if top is not None and top % 4 == 0 and top // 4 in allocated:
            spent = a.spent[ALLOCATED][top // 4]
            found.append(
                Comparison(
                    f"{a.kind} bins",
                    f"allocated, average N<={num(top // 4)} (spent {spent:.1f})",
                    f"best-of-N weighted, N={num(top)}",
                    paired(allocated[top // 4], base[top], a.seeds),
                )
            )
    return found


PART = ReportPart(
    "Compute-optimal scaling (paper Figs. 4 and 8)",
    70,
    "compute-optimal (ttc compute-optimal)",
    "compute_optimal.json",
    ("compute_optimal.md",),
    compute_optimal_findings,
)


STAGE = StageSpec(config=ComputeOptimalConfig, main=main, gpu=False, report=PART)
