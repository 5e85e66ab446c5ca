"""The deployable policy (`ttc solve`) against best-of-N weighted at equal counted budget, on
held-out questions.

    ttc eval-policy --config configs/toy/eval_policy.yaml

For every seed: the probe of every question is drawn once and `ttc solve` runs at each budget
N of `budgets` from it (ttc/policy/planner.py: the probe counts in N); best-of-N weighted draws one pool
of max(budgets) samples per question with the probe's sampling settings and is estimated at
each N from it (ttc.search.best_of_n.sweep: the expected accuracy over subsets of N). Accuracy
at N: the mean over questions and seeds (solve's is 0/1 per run, best-of-N's an expectation).

Efficiency, as eval/compute_optimal.py defines it and computed by its `efficiency`: for each
best-of-N budget B, the smallest solve budget B' with acc_solve(B') >= acc_BoN(B) (minus
`tolerance`); the ratio B / B' at best-of-N's largest budget is the headline. The reverse (the
best-of-N budget that matches solve at each of its budgets) is reported too, so that a policy
that never matches best-of-N still gets a number. Each headline ratio comes with the range of
the ratio over 1000 seeded bootstrap resamples of the questions (eval/paired.py; each question's
accuracy averaged over seeds first), "interval wide" when that range spans 1.

Writes solve.jsonl (SolveResult per question, budget, seed), baseline.jsonl (SearchResult),
policy.json (`PolicySummary`: with the per-question accuracies and the ratios' ranges, what
`ttc report` reads), policy.md and policy.png; `section(output_dir)` rebuilds the markdown and
figure from the records.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, cast

import numpy as np

from data.config import save_config
from data.problems import load_problems
from data.records import read_records, to_json, write_atomic
from eval.compute_optimal import efficiency, efficiency_axes, headline
from eval.paired import Ratio, curve_of, ratio
from eval.plots import Section, figure, plot_curves
from eval.summary import Summary
from eval.tracking import Figures, Tracking, log_figures
from ttc.policy.planner import SolveResult, draw_probes, solve
from ttc.search import SEARCH, SearchResult, sample_pools, sweep
from ttc.stages.solve import ModelCache, Setup, load_policy
from ttc.stages.spec import Finding, ReportPart, StageSpec

log = logging.getLogger(__name__)
SOLVE, BON = "ttc solve (probe + policy)", "best-of-N weighted"  # the curves' names


@dataclass(frozen=True)
class PolicySummary(Summary):
    """policy.json: solve against best-of-N weighted, by budget N."""

    FORMAT = "ttc.policy_eval"
    curves: dict[str, dict[int, float]]  # SOLVE / BON -> N -> accuracy
    per_question: dict[str, dict[int, dict[str, float]]]  # the same -> N -> question -> accuracy (mean over seeds)
    spent: dict[int, float]  # N -> mean generations solve spent
    methods: dict[int, dict[str, float]]  # N -> method -> fraction of questions solve answered with it
    efficiency: dict[int, int | None]  # best-of-N budget -> solve's smallest budget matching it
    reverse: dict[int, int | None]  # solve budget -> best-of-N's smallest budget matching it
    efficiency_interval: Ratio  # the headlines (the largest budget) with their bootstrap ranges
    reverse_interval: Ratio
    questions: int
    seeds: int


@dataclass
class PolicyEvalConfig(Setup):
    budgets: list[int] = field(default_factory=lambda: [2, 4, 8, 16])  # N, each >= probe.n
    seeds: list[int] = field(default_factory=lambda: [0])
    tolerance: float = 0.0  # "matches": acc >= the other's - tolerance
    tracking: Tracking = field(default_factory=Tracking)

    def __post_init__(self) -> None:
        if not self.budgets or min(self.budgets) < self.probe.n:
            raise ValueError(f"budgets {self.budgets}: need at least one, each >= probe.n={self.probe.n}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and at least one, got {self.seeds}")


def run(cfg: PolicyEvalConfig) -> tuple[list[SolveResult], list[SearchResult]]:
    """Solve at every budget and seed, and the best-of-N weighted baseline at the same budgets."""
    policy = load_policy(cfg.policy, cfg)  # fit with the models cfg names, or refused
    problems = load_problems(cfg.data)
    budgets = sorted(set(cfg.budgets))
    solved: list[SolveResult] = []
    baseline: list[SearchResult] = []
    with ModelCache(cfg) as models:
        lm, prm = models(SEARCH)
        for seed in cfg.seeds:
            probes = draw_probes(problems, lm, prm, policy, cfg.probe.n, seed, cfg.prompt)
            for n in budgets:
                solved += solve(problems, probes, policy, n, seed, cfg.prompt, models)
                log.info(
                    "seed %d, N=%d: solve accuracy %.3f",
                    seed,
                    n,
                    np.mean(cast(list[float], [r.correct for r in solved[-len(problems) :]])),  # as np.mean reads it
                )
            bon = policy.probe_config(max(budgets), seed, cfg.prompt)
            baseline += sweep(sample_pools(problems, lm, prm, bon), budgets, bon, lm.num_parameters, prm.num_parameters)
    return solved, baseline


# --- analysis -----------------------------------------------------------------------------------
def per_question(records: Sequence[SolveResult | SearchResult]) -> dict[int, dict[str, float]]:
    """Budget -> question -> mean `correct` over its seeds (questions without a gold answer left out)."""
    by_budget: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.correct is not None:
            by_budget[r.budget][r.problem_id].append(r.correct)
    return {b: {q: float(np.mean(v)) for q, v in sorted(per_q.items())} for b, per_q in sorted(by_budget.items())}


def spent_curve(solved: Sequence[SolveResult]) -> dict[int, float]:
    """Budget -> mean generations solve actually spent (<= the budget)."""
    by_budget: dict[int, list[int]] = defaultdict(list)
    for r in solved:
        by_budget[r.budget].append(r.generations)
    return {b: float(np.mean(v)) for b, v in sorted(by_budget.items())}


def method_mix(solved: Sequence[SolveResult]) -> dict[int, dict[str, float]]:
    """Budget -> method -> fraction of questions it answered."""
    by_budget: dict[int, Counter] = defaultdict(Counter)
    for r in solved:
        by_budget[r.budget][r.method] += 1
    return {
        b: {m: c / sum(counts.values()) for m, c in counts.most_common()} for b, counts in sorted(by_budget.items())
    }


def ratio_sentence(eff: dict[int, int | None], who: str, other: str, spread: Ratio) -> str:
    """The headline ratio, with its bootstrap range (`spread`)."""
    top, match, times = headline(eff)
    bounds = spread.spread()
    if match is None:
        return f"{who} never matches {other} at N={top} within the budgets run {bounds}."
    return f"{who} matches {other} at N={top} with N={match}: ratio {times:g} {bounds}."


def headline_range(
    a: dict[int, dict[str, float]], b: dict[int, dict[str, float]], tolerance: float, seeds: int
) -> Ratio:
    """The headline of efficiency(a, b) with its bootstrap range over questions."""
    top = max(b)
    return ratio(a, b, top, lambda x, y: efficiency(x, y, tolerance)[top], seeds)


def summarize(solved: Sequence[SolveResult], baseline: Sequence[SearchResult], tolerance: float = 0.0) -> PolicySummary:
    outcomes = {SOLVE: per_question(solved), BON: per_question(baseline)}
    curves = {name: curve_of(per_n) for name, per_n in outcomes.items()}
    seeds = len({r.seed for r in solved})
    return PolicySummary(
        curves,
        outcomes,
        spent_curve(solved),
        method_mix(solved),
        efficiency(curves[SOLVE], curves[BON], tolerance),  # solve's budget to match best-of-N
        efficiency(curves[BON], curves[SOLVE], tolerance),  # best-of-N's budget to match solve
        headline_range(outcomes[SOLVE], outcomes[BON], tolerance, seeds),
        headline_range(outcomes[BON], outcomes[SOLVE], tolerance, seeds),
        len({r.problem_id for r in solved}),
        seeds,
    )


# --- report -------------------------------------------------------------------------------------
def plot(summary: PolicySummary, path: Path) -> None:
    with figure(path, 1, 2, size=(11, 4)) as (_, axes):
        plot_curves(
            axes[0, 0],
            summary.curves,
            xlabel="generation budget N (probe included)",
            title="deployable policy vs best-of-N weighted, equal budget",
        )
        efficiency_axes(
            axes[0, 1],
            sorted(summary.curves[BON]),
            {"ttc solve": summary.efficiency},
            {"ttc solve": {"color": "tab:red"}},
            "solve budget to match it",
        )


def markdown(summary: PolicySummary) -> str:
    budgets = sorted(summary.curves[BON])
    head = ["| N | " + " | ".join(str(b) for b in budgets) + " |", "|---" * (len(budgets) + 1) + "|"]
    rows = [
        f"| {name} | " + " | ".join(f"{c[b]:.3f}" if b in c else "" for b in budgets) + " |"
        for name, c in summary.curves.items()
    ]
    rows.append(
        "| solve: generations spent | "
        + " | ".join(f"{summary.spent[b]:.1f}" if b in summary.spent else "" for b in budgets)
        + " |"
    )
    mix = [
        f"- N={b}: " + ", ".join(f"{m} {f:.0%}" for m, f in methods.items()) for b, methods in summary.methods.items()
    ]
    return "\n".join(
        [
            f"`ttc solve` on {summary.questions} held-out questions x {summary.seeds} seed(s): a few probe samples "
            "per question (counted) estimate its difficulty bin from their mean PRM score, the rest of the budget "
            "goes to the method the fitted policy picks for that bin; against best-of-N weighted at the same "
            "counted budget.",
            "",
            *head,
            *rows,
            "",
            ratio_sentence(summary.efficiency, "ttc solve", "best-of-N weighted", summary.efficiency_interval)
            + " "
            + ratio_sentence(summary.reverse, "Best-of-N weighted", "ttc solve", summary.reverse_interval)
            + " (The paper's compute-optimal policy, with uncounted difficulty: 4x.)",
            "",
            "Methods the policy ran:",
            *mix,
            "",
        ]
    )


def section(output_dir: Path | str, tolerance: float = 0.0) -> Section:
    """Markdown and figure from the records of a finished run in `output_dir`."""
    out = Path(output_dir)
    return write_section(
        summarize(
            read_records(out / "solve.jsonl", SolveResult),
            read_records(out / "baseline.jsonl", SearchResult),
            tolerance,
        ),
        out,
    )


def write_section(summary: PolicySummary, out: Path) -> Section:
    plot(summary, out / "policy.png")
    return Section(markdown(summary), [out / "policy.png"])


def tracked_figures(summary: PolicySummary) -> Figures:
    """For the tracker: both accuracy curves against N, and the headline efficiency ratio."""
    return {
        **{f"policy/{name}/accuracy": c for name, c in summary.curves.items()},
        "policy/efficiency": headline(summary.efficiency)[2],
    }


def save(
    solved: Sequence[SolveResult],
    baseline: Sequence[SearchResult],
    out: Path,
    tolerance: float = 0.0,
    tracking: Tracking = Tracking(),
) -> str:
    """The records, the summary (policy.json), the markdown and the figure; the headline figures
    to `tracking`'s trackers."""
    write_atomic(out / "solve.jsonl", [to_json(r) for r in solved])
    write_atomic(out / "baseline.jsonl", [to_json(r) for r in baseline])
    summary = summarize(solved, baseline, tolerance)
    result = write_section(summary, out)
    summary.save(out / "policy.json")
    (out / "policy.md").write_text(result.markdown)
    log_figures(tracking, out, "policy", tracked_figures(summary))
    return result.markdown


def main(cfg: PolicyEvalConfig) -> str:
    out = Path(cfg.output_dir)
    ran = run(cfg)
    save_config(cfg, out / "config.yaml")  # once it ran: the record of an accepted run
    return save(*ran, out, cfg.tolerance, cfg.tracking)


# --- its part of the run's report (ttc/pipeline/report.py) and its headline comparisons ---
def policy_findings(folder: Path) -> list[Finding]:
    summary = PolicySummary.load(folder / "policy.json")
    return [
        Finding(
            ratio_sentence(summary.efficiency, "`ttc solve`", BON, summary.efficiency_interval) + " (paper: "
            "compute-optimal needs 4x less than best-of-N, with a difficulty estimate it does not count; solve "
            "counts its probe).",
            "policy.png",
        )
    ]


PART = ReportPart(
    "The deployable policy: `ttc solve` vs best-of-N weighted",
    90,
    "policy eval (ttc eval-policy)",
    "policy.json",
    ("policy.md",),
    policy_findings,
)


STAGE = StageSpec(config=PolicyEvalConfig, main=main, report=PART)
