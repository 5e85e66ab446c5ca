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
  a baseline that uses no verifier, as in the paper).
- Efficiency: for each budget B of best-of-N weighted, the smallest budget B' at which
  compute-optimal *matches* it, i.e. acc_CO(B') >= acc_BoN(B) - tolerance (default 0: at least
  as accurate), on the overall curves; the ratio is B / B' (None when no budget matches). The
  headline is the ratio at best-of-N's largest budget (paper: 4x, 16 vs 64 generations), with the
  2.5-97.5 percentile range of the ratio over 1000 seeded bootstrap resamples of the questions
  (eval/paired.py). The resamples redraw the questions' outcomes under the methods the CV chose
  on all of them; the CV's own choices are not redone, so the range leaves out that variance.
- The policy (ttc/policy.py, for `ttc solve`) is fit on all of a bin's questions: per bin and
  budget the method best on them, with its settings there and its (in-sample) accuracy on them.

Writes compute_optimal.json (`ComputeOptimalSummary`: per binning its `Analysis`: the curves,
the choices, the efficiency, each question's accuracy under compute-optimal and the baselines at
every budget with its bin, for the report's paired intervals, and the headline ratio's range),
compute_optimal.md, policy_<bins>.json, compute_optimal.png (overall curves, every bin kind),
compute_optimal_bins_<bins>.png (per bin) and efficiency.png.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np

from data.bins import Bins
from data.config import ConfigError, save_config
from data.records import read_records
from eval.search_report import EvalResult
from eval.paired import Ratio, ratio
from eval.plots import Curve, Section, figure, grid_shape, plot_curves
from eval.summary import Summary
from eval.tracking import Figures, Tracking, log_figures
from ttc.policy import STRATEGIES, Entry, Policy
from ttc.search import BestOfNConfig
from ttc.search.common import SearchResult

log = logging.getLogger(__name__)
Record = Mapping[str, Any]
CO, WEIGHTED, MAJORITY = "compute-optimal", "best-of-N weighted", "majority"  # the curves' names
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

    def budgets(self, label: str) -> list[int]:
        return sorted(b for m, b in self.acc if m == label)

    def find(self, want: Mapping[str, Any], what: str) -> str:
        """The one method matching `want`."""
        found = [label for label, spec in self.methods.items() if matches(spec, want)]
        if len(found) != 1:
            raise ValueError(f"{what}: {len(found)} methods match {dict(want)}, need exactly one; "
                             f"methods: {sorted(self.methods)}")
        return found[0]


def as_record(record: Record | SearchResult, i: int, budget_field: str) -> Record:
    r = dataclasses.asdict(record) if dataclasses.is_dataclass(record) else record
    missing = [k for k in (*REQUIRED, budget_field) if k not in r]
    if missing:
        raise ValueError(f"record {i}: missing field(s) {missing}")
    return r


def build_grid(records: Sequence[Record | SearchResult], cfg: MethodsConfig) -> Grid:
    """The grid of `records`; an empty list, a duplicated (problem, method, budget, seed) or a
    (method, budget) without a record for some question is an error."""
    if not records:
        raise ValueError("no result records")
    correct: dict[tuple[str, int], dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
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
            raise ValueError(f"record {i}: a second result for problem {r['problem_id']}, {label}, "
                             f"budget {budget}, seed {r['seed']}")
        seeds[r["seed"]] = float(r["correct"])
        settings = {k: v for k, v in spec.items() if k != "strategy"}
        params.setdefault((label, budget), {**settings, "n": r["params"]["n"]})
    questions = sorted({q for per_q in correct.values() for q in per_q})
    acc = {}
    for (label, budget), per_q in sorted(correct.items()):
        missing = [q for q in questions if q not in per_q]
        if missing:
            raise ValueError(f"{label} at budget {budget}: no result for {len(missing)} of {len(questions)} "
                             f"question(s), e.g. {missing[0]}")
        acc[(label, budget)] = np.array([np.mean(list(per_q[q].values())) for q in questions])
    seeds = max(len(s) for per_q in correct.values() for s in per_q.values())
    return Grid(questions, methods, acc, params, seeds)


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
            hole = [b for b in budgets[mine[0]:mine[-1] + 1] if b not in have]
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


def cross_validate(grid: Grid, candidates: Sequence[str], budget: int, folds: tuple[np.ndarray, np.ndarray]
                   ) -> tuple[np.ndarray, tuple[str, str]]:
    """Accuracy of each question of the two folds under the method chosen on the other fold
    (in the order fold A then fold B), and the two choices (on A, on B)."""
    a, b = folds
    on_a, on_b = choose(grid, candidates, budget, a), choose(grid, candidates, budget, b)
    return np.concatenate([grid.acc[(on_b, budget)][a], grid.acc[(on_a, budget)][b]]), (on_a, on_b)


@dataclass(frozen=True)
class Analysis:
    """Compute-optimal vs the baselines under one binning."""

    kind: str  # "oracle", "predicted", ...
    budgets: list[int]
    overall: dict[str, Curve]  # CO / WEIGHTED / MAJORITY -> budget -> accuracy
    per_bin: dict[int, dict[str, Curve]]
    folds: dict[int, dict[int, tuple[str, str]]]  # bin -> budget -> (chosen on A, chosen on B)
    policy: dict[int, dict[int, tuple[str, float]]]  # bin -> budget -> (method, its accuracy) fit on all the bin
    efficiency: dict[int, int | None]  # BoN budget -> smallest CO budget that matches it
    per_question: dict[str, dict[int, dict[str, float]]]  # CO / WEIGHTED / MAJORITY -> budget -> question -> acc
    bins: dict[str, int]  # question -> bin
    spread: Ratio  # the headline ratio (best-of-N's largest budget) with its bootstrap range over questions
    seeds: int  # the most seeds a question's accuracy is a mean over


@dataclass(frozen=True)
class ComputeOptimalSummary(Summary):
    """compute_optimal.json: the analysis under each binning, in the order of the config's bins."""

    FORMAT = "ttc.compute_optimal"
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


def curve(grid: Grid, label: str, budgets: Sequence[int], idx: np.ndarray) -> Curve:
    return {b: float(grid.acc[(label, b)][idx].mean()) for b in budgets if (label, b) in grid.acc}


def efficiency(co: Curve, baseline: Curve, tolerance: float = 0.0) -> dict[int, int | None]:
    """For each baseline budget B, the smallest budget B' with co[B'] >= baseline[B] - tolerance."""
    return {b: next((c for c in sorted(co) if co[c] >= acc - tolerance), None) for b, acc in sorted(baseline.items())}


def headline(eff: Mapping[int, int | None]) -> tuple[int, int | None, float | None]:
    """(largest baseline budget, the CO budget matching it, their ratio)."""
    top = max(eff)
    match = eff[top]
    return top, match, None if match is None else top / match


def analyse(grid: Grid, binned: Bins, cfg: MethodsConfig) -> Analysis:
    """Compute-optimal (2-fold CV per bin and budget) against the baselines, per bin and overall."""
    bins = binned.bins
    base = baselines(grid, cfg)
    budgets = analysis_budgets(grid, base[WEIGHTED])
    candidates = candidates_of(grid, cfg)
    by_bin = bin_indices(grid, bins)
    everyone = np.arange(len(grid.questions))
    co_all = np.zeros((len(budgets), len(grid.questions)))
    per_bin: dict[int, dict[str, Curve]] = {}
    folds: dict[int, dict[int, tuple[str, str]]] = defaultdict(dict)
    policy: dict[int, dict[int, tuple[str, float]]] = defaultdict(dict)
    for b, idx in by_bin.items():
        split = split_folds(idx, cfg.seed, b)
        order = np.concatenate(split)
        per_bin[b] = {name: curve(grid, label, budgets, idx) for name, label in base.items()}
        per_bin[b][CO] = {}
        for j, budget in enumerate(budgets):
            co_all[j, order], folds[b][budget] = cross_validate(grid, candidates, budget, split)
            per_bin[b][CO][budget] = float(co_all[j, idx].mean())
            label = choose(grid, candidates, budget, idx)
            policy[b][budget] = label, float(grid.acc[(label, budget)][idx].mean())
    overall = {name: curve(grid, label, budgets, everyone) for name, label in base.items()}
    overall[CO] = {budget: float(co_all[j].mean()) for j, budget in enumerate(budgets)}
    eff = efficiency(overall[CO], overall[WEIGHTED], cfg.tolerance)
    per_question = {name: {b: dict(zip(grid.questions, grid.acc[(label, b)].tolist())) for b in budgets
                           if (label, b) in grid.acc} for name, label in base.items()}
    per_question[CO] = {b: dict(zip(grid.questions, co_all[j].tolist())) for j, b in enumerate(budgets)}
    top = max(eff)
    spread = ratio(per_question[CO], per_question[WEIGHTED], top,
                   lambda co, bon: efficiency(co, bon, cfg.tolerance)[top], grid.seeds, seed=cfg.seed)
    return Analysis(binned.kind, budgets, overall, per_bin, dict(folds), dict(policy), eff, per_question,
                    {q: bins[q] for q in grid.questions}, spread, grid.seeds)


def fit_policy(grid: Grid, analysis: Analysis, binned: Bins, cfg: MethodsConfig) -> Policy:
    """The fitted policy: per bin and budget, the method chosen on all of the bin's questions and
    its settings there. With predicted bins, also what `ttc solve` bins a new question by: their
    edges, and a probe that samples as best-of-N weighted (whose pool it joins)."""
    table = {b: {budget: Entry(label, grid.methods[label]["strategy"], grid.params[(label, budget)], acc)
                 for budget, (label, acc) in per_budget.items()}
             for b, per_budget in analysis.policy.items()}
    if binned.kind != "predicted":
        return Policy(binned.kind, table, cfg.budget_field)
    weighted = grid.find(cfg.weighted, "best-of-N weighted")
    settings = grid.params[(weighted, grid.budgets(weighted)[0])]
    probe = BestOfNConfig(**BestOfNConfig.method_of(settings)).pool_settings()
    return Policy(binned.kind, table, cfg.budget_field, binned.edges(), probe)


# --- figures and markdown ---------------------------------------------------------------------
STYLES = {WEIGHTED: {"color": "tab:blue"}, MAJORITY: {"color": "tab:gray", "linestyle": "--"}, CO: {"color": "tab:red"}}
CO_COLORS = ("tab:red", "tab:orange", "tab:green", "tab:purple")  # one per binning


def co_name(a: Analysis) -> str:
    return f"{CO} ({a.kind} bins)"


def co_styles(analyses: Sequence[Analysis]) -> dict[str, dict[str, Any]]:
    return {**STYLES, **{co_name(a): {"color": CO_COLORS[i % len(CO_COLORS)]} for i, a in enumerate(analyses)}}


def short_labels(labels: Iterable[str], grid: Grid) -> dict[str, str]:
    """Line names as they are; spec labels without the parameters every method shares."""
    specs = {m: grid.methods[m] for m in labels}
    keys = {k for s in grid.methods.values() for k in s}
    shared = {k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in grid.methods.values()}) == 1}
    return {m: m if m != method_label(s) else method_label({k: v for k, v in s.items() if k not in shared or k == "strategy"})
            for m, s in specs.items()}


def overall_curves(analyses: Sequence[Analysis]) -> dict[str, Curve]:
    """Compute-optimal under each binning, then the baselines (the same for every binning)."""
    curves = {co_name(a): a.overall[CO] for a in analyses}
    return {**curves, **{k: v for k, v in analyses[0].overall.items() if k != CO}}


def plot_overall(analyses: Sequence[Analysis], path: Path) -> None:
    """Paper Figs. 4 and 8: compute-optimal (each binning) vs best-of-N weighted vs majority."""
    with figure(path) as (_, ax):
        plot_curves(ax, overall_curves(analyses), xlabel="generation budget", styles=co_styles(analyses),
                    title="compute-optimal scaling")


def plot_bins(analysis: Analysis, path: Path) -> None:
    rows, cols = grid_shape(len(analysis.per_bin))
    with figure(path, rows, cols, size=(4 * cols, 3.2 * rows)) as (fig, axes):
        for ax, (b, curves) in zip(axes.flat, analysis.per_bin.items()):
            plot_curves(ax, curves, xlabel="generation budget", styles=STYLES, title=f"{analysis.kind} bin {b}")
        for ax in list(axes.flat)[len(analysis.per_bin):]:
            ax.set_visible(False)


def plot_efficiency(analyses: Sequence[Analysis], path: Path) -> None:
    """The budget compute-optimal needs to match best-of-N weighted at each of its budgets."""
    styles = co_styles(analyses)
    with figure(path) as (_, ax):
        efficiency_axes(ax, analyses[0].budgets, {co_name(a): a.efficiency for a in analyses},
                        {co_name(a): styles[co_name(a)] for a in analyses}, "compute-optimal budget to match it")


def efficiency_axes(ax, budgets: Sequence[int], lines: Mapping[str, Mapping[int, int | None]],
                    styles: Mapping[str, dict[str, Any]], ylabel: str) -> None:
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


def curves_table(curves: Mapping[str, Curve], budgets: Sequence[int]) -> list[str]:
    rows = ["| method | " + " | ".join(str(b) for b in budgets) + " |", "|---" * (len(budgets) + 1) + "|"]
    rows += [f"| {name} | " + " | ".join(f"{c[b]:.3f}" if b in c else "" for b in budgets) + " |"
             for name, c in curves.items()]
    return rows


def efficiency_sentence(a: Analysis, tolerance: float) -> str:
    top, match, times = headline(a.efficiency)
    best = max(((b / m, b, m) for b, m in a.efficiency.items() if m), default=None)
    tail = f"; at best {best[0]:g}x ({best[2]} vs {best[1]})" if best and best[0] != times else ""
    within = f" within {tolerance:g}" if tolerance else ""
    if match is None:
        return (f"With {a.kind} bins, compute-optimal never matches{within} best-of-N weighted at {top} generations "
                f"{a.spread.spread()}{tail}.")
    return (f"With {a.kind} bins, compute-optimal matches{within} best-of-N weighted at {top} generations with "
            f"{match}: {times:g}x less compute {a.spread.spread()}{tail} (paper: 4x, 16 vs 64).")


def section(grid: Grid, analyses: Sequence[Analysis], out_dir: Path | str, cfg: MethodsConfig) -> Section:
    """Markdown and figures: overall curves, chosen methods per bin, the efficiency ratio."""
    out = Path(out_dir)
    budgets = analyses[0].budgets
    text = ["Accuracy vs generation budget (compute-optimal: method chosen per bin and budget by 2-fold CV):", "",
            *curves_table(overall_curves(analyses), budgets), ""]
    text += [efficiency_sentence(a, cfg.tolerance) for a in analyses]
    figures = [out / "compute_optimal.png", out / "efficiency.png"]
    plot_overall(analyses, figures[0])
    plot_efficiency(analyses, figures[1])
    names = short_labels(grid.methods, grid)
    for a in analyses:
        text += ["", f"Method chosen on all questions of each {a.kind} bin:", "",
                 "| bin | " + " | ".join(str(b) for b in budgets) + " |", "|---" * (len(budgets) + 1) + "|"]
        text += [f"| {b} | " + " | ".join(names[p[budget][0]] for budget in budgets) + " |" for b, p in a.policy.items()]
        figures.append(out / f"compute_optimal_bins_{a.kind}.png")
        plot_bins(a, figures[-1])
    return Section("\n".join(text) + "\n", figures)


def tracked_figures(analyses: Sequence[Analysis]) -> Figures:
    """For the tracker, per binning: each overall curve against the budget, and the efficiency
    ratio B / B' at each best-of-N budget B and at its largest (the headline); never matched: left out."""
    figures: dict[str, Any] = {}
    for a in analyses:
        at = f"compute_optimal/{a.kind}"
        figures |= {f"{at}/{name}/accuracy": c for name, c in a.overall.items()}
        figures[f"{at}/efficiency"] = headline(a.efficiency)[2]
        figures[f"{at}/efficiency_by_budget"] = {b: b / m for b, m in a.efficiency.items() if m}
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


def main(cfg: ComputeOptimalConfig) -> str:
    out = Path(cfg.output_dir)
    grid = build_grid(read_results(cfg.results), cfg.methods)
    bins = {kind: Bins.load(path) for kind, path in cfg.bins.items()}
    for kind, binned in bins.items():
        if binned.kind != kind:
            raise ConfigError(f"bins.{kind}: {cfg.bins[kind]} holds {binned.kind} bins")
    save_config(cfg, out / "config.yaml")  # once the inputs are read and checked: the record of an accepted run
    analyses = []
    for kind, binned in bins.items():
        analyses.append(analyse(grid, binned, cfg.methods))
        fit_policy(grid, analyses[-1], binned, cfg.methods).save(out / f"policy_{kind}.json")
    ComputeOptimalSummary(analyses).save(out / "compute_optimal.json")
    result = section(grid, analyses, out, cfg.methods)
    (out / "compute_optimal.md").write_text(result.markdown)
    log_figures(cfg.tracking, out, "compute_optimal", tracked_figures(analyses))
    return result.markdown
