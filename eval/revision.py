"""Evaluate revision chains: pass@1 by revision step, sequential vs parallel, the
sequential/parallel ratio at a fixed budget, and how often a revision breaks a correct answer.

    ttc chains --config configs/toy/chains_eval.yaml             # the reviser's chains first
    ttc eval-revision --config configs/toy/eval_revision.yaml

One set of chains per test problem, K chains x T attempts of the reviser (`chains`, sampled by
`ttc chains`), each attempt scored here by the revision ORM with its previous attempts in context
(ttc.revise.score_chains), gives every number: a split of C chains x L attempts is read off it as
the mean over subsets of C of the K chains, each cut to its first L attempts
(ttc.revise.accuracy), which is exact because an attempt depends only on its chain's earlier
ones. Selection: hierarchical best-of-N weighted with the ORM ("ORM weighted") and flat majority
(ttc/revise/selection.py).
- pass@1 by revision step (paper Fig. 6 left): the fraction of correct attempts at step t over
  all problems and chains, t = 1..T; the reviser saw at most 4 previous attempts in training,
  and its context keeps the `max_attempts` most recent at any step.
- sequential vs parallel (Fig. 6 right), at budgets N = 1, 2, 4, ...: one chain of N attempts
  (N <= T) vs N chains of one attempt (N <= K), i.e. N samples of the reviser in parallel.
- the ratio at a fixed `budget` (Fig. 7): every split C x L = budget with C <= K and L <= T, at
  sequential/parallel ratio L / C (ttc/revise/budget.py), overall and per difficulty level.
  Levels are the problems' own (the toy world's difficulty knob; MATH's levels); the paper bins
  by the base model's pass@1 instead (eval/difficulty.py does that for the search grid).
- correct -> incorrect: of the correct attempts that have a next attempt in their chain, the
  fraction whose next attempt is incorrect (paper: ~38%); incorrect -> correct beside it.
The ORM scores `batch_problems` problems' attempts per call: with the chains' own batch_problems
the scores are those of scoring each batch as it was sampled (a scorer's padding, so its last
bits, depend on which solutions share a call).
Writes `scored_chains.jsonl` (every attempt with its score: resumable, a rerun scores only the
problems not there yet, and rerenders the report without loading the ORM when all are),
`revision_eval.json` (`RevisionSummary`: the curves, and each problem's values of the
all-problems curves for the report's paired intervals), `revision_eval.md` and three PNGs.
"""

from __future__ import annotations

import dataclasses
import logging
import typing
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from data.codec import Label
from data.config import save_config
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem, RecordError
from data.revision_format import MAX_ATTEMPTS
from data.shards import Shard, merge, run_shard
from eval.paired import Comparison, curve_of, paired
from eval.plots import Section, figure, plot_curves
from eval.summary import Summary, fmt
from eval.tracking import Figures, Tracking, log_figures
from eval.wording import num, preferred
from ttc.revise import ChainSet, accuracy, chain_records, read_chain_sets, score_chains
from ttc.search.best_of_n import NUM_SUBSETS
from ttc.search.config import Selection
from ttc.stages.spec import Finding, ReportPart, StageSpec
from ttc.verifiers import Aggregation
from ttc.verifiers.spec import VerifierConfig, load_verifier

log = logging.getLogger(__name__)
SCORED = "scored_chains"


class SelectionName(Label):
    """A selection rule's name in the numbers: revision_eval.json's keys, the table's rows, the report."""

    ORM_WEIGHTED = "ORM weighted"
    MAJORITY = "majority"


SELECTIONS: dict[Selection, SelectionName] = {
    "weighted": SelectionName.ORM_WEIGHTED,
    "majority": SelectionName.MAJORITY,
}  # rule -> its name
SEQUENTIAL, PARALLEL = "sequential", "parallel"  # one chain of N attempts; N chains of one
ALL = "all"  # the ratio sweep's group of every problem (the others: "level <k>")
FIGURES = ("revision_steps.png", "sequential_parallel.png", "ratio.png")


@dataclass
class RevisionEvalConfig:
    output_dir: str
    chains: str  # chains.jsonl of `ttc chains` on these problems: K chains x T attempts each
    orm: VerifierConfig  # the revision ORM: our PRM format, trained in outcome mode on the reviser's outputs
    data: DataConfig = field(default_factory=DataConfig)  # the problems the chains were sampled on
    prompt: PromptFormat = field(default_factory=PromptFormat)  # the reviser's; our ORM reads its own training prompt
    budget: int = 16  # the fixed budget of the ratio sweep (Fig. 7; the paper: 128)
    max_attempts: int = MAX_ATTEMPTS  # the chains' own: the ORM reads the context the reviser saw
    aggregation: Aggregation = "last"  # the ORM's step values -> one score
    seed: int = 0  # of the subsets of chains
    num_subsets: int = NUM_SUBSETS  # subsets of chains per estimate (all of them when fewer)
    batch_problems: int = 16  # problems per ORM call (the chains' own: the same floats)
    tracking: Tracking = field(default_factory=Tracking)

    def __post_init__(self) -> None:
        if min(self.budget, self.batch_problems, self.num_subsets) < 1:
            raise ValueError("budget, batch_problems and num_subsets must be >= 1")
        if self.max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {self.max_attempts}")
        if self.aggregation not in typing.get_args(Aggregation):
            raise ValueError(f"aggregation must be last, min or prod, got {self.aggregation!r}")


def splits(budget: int, chains: int, length: int) -> list[tuple[int, int]]:
    """Every (C, L) with C x L = budget, C <= chains and L <= length, most parallel first."""
    return [(c, budget // c) for c in range(budget, 0, -1) if budget % c == 0 and c <= chains and budget // c <= length]


# --- the numbers ------------------------------------------------------------------------------
# Each number is kept per problem (problem id -> value) as well: the report's paired intervals
# are over problems (eval/paired.py); a curve is the mean over problems.
PerProblem = dict[str, float]


@dataclass(frozen=True)
class Transitions:
    """How revisions change correctness: of the `correct` (`incorrect`) attempts with a next one,
    the fraction whose next one is incorrect (correct); None when there is no such attempt."""

    correct: int
    correct_to_incorrect: float | None
    incorrect: int
    incorrect_to_correct: float | None


@dataclass(frozen=True)
class RevisionSummary(Summary):
    """revision_eval.json: every number of the markdown, and the per-problem values of the
    all-problems curves (the report's paired intervals)."""

    FORMAT = "ttc.revision_eval"
    problems: int
    chains: int  # K
    length: int  # T
    budget: int  # of the ratio sweep
    pass_at_1: dict[int, float]  # revision step t (from 1) -> pass@1
    sequential_parallel: dict[SelectionName, dict[str, dict[int, float]]]  # -> SEQUENTIAL / PARALLEL -> N -> acc.
    ratio: dict[SelectionName, dict[str, dict[float, float]]]  # -> ALL / "level <k>" -> L / C -> accuracy
    transitions: Transitions
    pass_at_1_per_question: dict[int, PerProblem]
    sequential_parallel_per_question: dict[SelectionName, dict[str, dict[int, PerProblem]]]
    ratio_per_question: dict[SelectionName, dict[float, PerProblem]]  # of ALL

    def sequential_parallel_lines(self) -> dict[str, dict[int, float]]:
        """'sequential, ORM weighted' -> N -> accuracy: the table's rows and the figure's lines."""
        return {
            f"{kind}, {name}": curve
            for name, kinds in self.sequential_parallel.items()
            for kind, curve in kinds.items()
        }


def pass_at_1_per_problem(chain_sets: Sequence[ChainSet]) -> dict[int, PerProblem]:
    """Step t (from 1) -> each problem's fraction of correct t-th attempts over its chains (every
    problem has the same K chains: the mean over problems is the fraction over all attempts)."""
    by_step: dict[int, PerProblem] = defaultdict(dict)
    for cs in chain_sets:
        for t in range(max(map(len, cs.chains), default=0)):
            by_step[t + 1][cs.problem_id] = float(np.mean([c[t].correct for c in cs.chains if len(c) > t]))
    return dict(sorted(by_step.items()))


def transitions(chain_sets: Sequence[ChainSet]) -> Transitions:
    counts = defaultdict(int)
    for cs in chain_sets:
        for chain in cs.chains:
            for before, after in zip(chain, chain[1:]):
                counts[before.correct, after.correct] += 1
    right, wrong = counts[True, True] + counts[True, False], counts[False, False] + counts[False, True]
    return Transitions(
        right, counts[True, False] / right if right else None, wrong, counts[False, True] / wrong if wrong else None
    )


def per_problem_accuracy(
    chain_sets: Sequence[ChainSet], chains: int, length: int, how: Selection, num_subsets: int, seed: int
) -> PerProblem:
    return {cs.problem_id: accuracy(cs, chains, length, how, num_subsets, seed) for cs in chain_sets}


def sequential_vs_parallel(
    chain_sets: Sequence[ChainSet], chains: int, length: int, num_subsets: int, seed: int
) -> dict[SelectionName, dict[str, dict[int, PerProblem]]]:
    """Selection's name -> SEQUENTIAL / PARALLEL -> {budget: per-problem accuracy}."""
    curves: dict[SelectionName, dict[str, dict[int, PerProblem]]] = {}
    for how, name in SELECTIONS.items():
        curves[name] = {}
        for kind, most in ((SEQUENTIAL, length), (PARALLEL, chains)):
            shape = (lambda n: (1, n)) if kind == SEQUENTIAL else (lambda n: (n, 1))
            curves[name][kind] = {
                n: per_problem_accuracy(chain_sets, *shape(n), how, num_subsets, seed) for n in powers_of_2(most)
            }
    return curves


def ratio_sweep(
    chain_sets: Sequence[ChainSet], budget: int, chains: int, length: int, how: Selection, num_subsets: int, seed: int
) -> dict[float, PerProblem]:
    """Sequential/parallel ratio L / C -> per-problem accuracy at the fixed budget."""
    return {
        length_ / c: per_problem_accuracy(chain_sets, c, length_, how, num_subsets, seed)
        for c, length_ in splits(budget, chains, length)
    }


def powers_of_2(most: int) -> list[int]:
    return [2**i for i in range(most.bit_length())]


def shape(chain_sets: Sequence[ChainSet], budget: int) -> tuple[int, int]:
    """(K chains, T attempts) of every chain set (read_chain_sets checks they are alike), which
    must hold a split of the budget."""
    if not chain_sets:
        raise ValueError("no chains to evaluate")
    chains, length = len(chain_sets[0].chains), chain_sets[0].length
    if not splits(budget, chains, length):
        raise ValueError(f"budget {budget} has no split C x L with C <= {chains} chains and L <= {length} attempts")
    return chains, length


def evaluate(chain_sets: Sequence[ChainSet], levels: dict[str, int | None], cfg: RevisionEvalConfig) -> RevisionSummary:
    """Every number of the report, from one chain set per problem (`levels`: problem id -> level)."""
    chains, length = shape(chain_sets, cfg.budget)
    args = (cfg.num_subsets, cfg.seed)
    by_level: dict[int | None, list[ChainSet]] = defaultdict(list)
    for cs in chain_sets:
        by_level[levels[cs.problem_id]].append(cs)
    groups = [(ALL, chain_sets)] + [
        (f"level {level}", group)
        for level, group in sorted(by_level.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        if level is not None
    ]
    ratios = {
        name: {group: ratio_sweep(sets, cfg.budget, chains, length, how, *args) for group, sets in groups}
        for how, name in SELECTIONS.items()
    }
    steps = pass_at_1_per_problem(chain_sets)
    sp = sequential_vs_parallel(chain_sets, chains, length, *args)
    return RevisionSummary(
        len(chain_sets),
        chains,
        length,
        cfg.budget,
        curve_of(steps),
        {name: {kind: curve_of(c) for kind, c in kinds.items()} for name, kinds in sp.items()},
        {name: {group: curve_of(c) for group, c in per.items()} for name, per in ratios.items()},
        transitions(chain_sets),
        steps,
        sp,
        {name: per[ALL] for name, per in ratios.items()},
    )


# --- the report -------------------------------------------------------------------------------
def ratio_label(ratio: float) -> str:
    return str(Fraction(ratio).limit_denominator(1 << 20))


def table(curves: dict[str, dict], first: str, column: Callable[[Any], str] = str) -> list[str]:
    xs = sorted({x for c in curves.values() for x in c})
    rows = [f"| {first} | " + " | ".join(column(x) for x in xs) + " |", "|---" * (len(xs) + 1) + "|"]
    rows += [
        f"| {name} | " + " | ".join(f"{c[x]:.3f}" if x in c else "" for x in xs) + " |" for name, c in curves.items()
    ]
    return rows


def markdown(summary: RevisionSummary) -> str:
    t = summary.transitions
    ratio_rows = {
        f"{name}, {group}": curve for name, groups in summary.ratio.items() for group, curve in groups.items()
    }
    lines = [
        f"# Revisions: {summary.problems} problems, {summary.chains} chains x {summary.length} attempts each",
        "",
        "## pass@1 by revision step (paper Fig. 6 left; training saw at most 4 previous attempts)",
        "",
        *table({"pass@1": summary.pass_at_1}, "step"),
        "",
        "## Sequential vs parallel at equal budget (Fig. 6 right)",
        "",
        *table(summary.sequential_parallel_lines(), "method", lambda n: f"N={n}"),
        "",
        f"## Sequential/parallel ratio (chain length / chains) at budget {summary.budget} (Fig. 7)",
        "",
        *table(ratio_rows, "selection, problems", ratio_label),
        "",
        "## Revisions that change correctness",
        "",
        f"- correct -> incorrect: {fmt(t.correct_to_incorrect, '.1%')} of {t.correct} correct attempts with a next "
        f"attempt (paper: ~38%)",
        f"- incorrect -> correct: {fmt(t.incorrect_to_correct, '.1%')} of {t.incorrect} incorrect attempts with a next "
        "attempt",
    ]
    return "\n".join(lines) + "\n"


def tracked_figures(summary: RevisionSummary) -> Figures:
    """For the tracker: pass@1 against the revision step, sequential and parallel against N, and
    how often a revision breaks a correct answer."""
    return {
        "revision/pass@1": summary.pass_at_1,
        **{f"revision/{name}/accuracy": c for name, c in summary.sequential_parallel_lines().items()},
        "revision/correct->incorrect": summary.transitions.correct_to_incorrect,
    }


def plot(summary: RevisionSummary, out: Path) -> list[Path]:
    paths = [out / name for name in FIGURES]
    with figure(paths[0]) as (_, ax):
        plot_curves(ax, {"pass@1": summary.pass_at_1}, "revision step", "pass@1", title="pass@1 by revision step")
        ax.set_xscale("linear")
    with figure(paths[1]) as (_, ax):
        lines = summary.sequential_parallel_lines()
        styles = {name: {"linestyle": "--" if SELECTIONS["majority"] in name else "-"} for name in lines}
        plot_curves(ax, lines, styles=styles, title="sequential vs parallel")
    ratio = summary.ratio
    with figure(paths[2], ncols=1 + len(ratio), size=(6 * (1 + len(ratio)), 4)) as (_, grid):
        axes = grid[0]  # one row of panels
        overall = {name: groups[ALL] for name, groups in ratio.items()}
        plot_curves(axes[0], overall, "sequential/parallel ratio", title=f"all problems, budget {summary.budget}")
        for ax, (name, groups) in zip(axes[1:], ratio.items()):
            per_level = {group: curve for group, curve in groups.items() if group != ALL}
            if per_level:
                plot_curves(ax, per_level, "sequential/parallel ratio", title=f"{name}, by level")
    return paths


# --- the run ----------------------------------------------------------------------------------
def score(cfg: RevisionEvalConfig, problems: Sequence[Problem], chain_sets: Sequence[ChainSet]) -> list[ChainSet]:
    """The chain sets scored by the ORM, kept in `scored_chains.jsonl`, resumable; the ORM is
    loaded only if some problem is not scored yet. Scores of other chains (a `chains` file
    sampled again into the same output_dir) are an error."""
    out, orm, by_id = Path(cfg.output_dir), [], {cs.problem_id: cs for cs in chain_sets}

    def process(batch: list[Problem]) -> list[list[dict]]:
        if not orm:
            orm.append(load_verifier(cfg.orm, cfg.prompt))
        scored = score_chains(batch, [by_id[p.id] for p in batch], orm[0], cfg.aggregation, cfg.max_attempts)
        return [chain_records(cs) for cs in scored]

    run_shard(out, SCORED, Shard(), problems, lambda p: p.id, process, cfg.batch_problems)
    scored = read_chain_sets(merge(out, SCORED, 1, keeps_settings=False), problems)
    unscored = [
        ChainSet(cs.problem_id, [[dataclasses.replace(a, score=None) for a in chain] for chain in cs.chains])
        for cs in scored
    ]
    if unscored != list(chain_sets):
        raise RecordError(f"{out / SCORED}.jsonl scores other chains than {cfg.chains}: use a fresh output_dir")
    return scored


def section(cfg: RevisionEvalConfig) -> Section:
    problems = load_problems(cfg.data)
    chain_sets = read_chain_sets(cfg.chains, problems)
    shape(chain_sets, cfg.budget)  # before the ORM runs
    summary = evaluate(score(cfg, problems, chain_sets), {p.id: p.level for p in problems}, cfg)
    out = Path(cfg.output_dir)
    summary.save(out / "revision_eval.json")
    text = markdown(summary)
    (out / "revision_eval.md").write_text(text)
    log_figures(cfg.tracking, out, "revision", tracked_figures(summary))
    return Section(text, plot(summary, out))


def main(cfg: RevisionEvalConfig) -> str:
    markdown = section(cfg).markdown
    save_config(cfg, Path(cfg.output_dir) / "config.yaml")  # once it ran: the record of an accepted run
    return markdown


# --- its part of the run's report (ttc/pipeline/report.py) and its headline comparisons ---
def revision_findings(folder: Path) -> list[Finding]:
    summary = RevisionSummary.load(folder / "revision_eval.json")
    steps, per_step = summary.pass_at_1, summary.pass_at_1_per_question
    first, last = min(steps), max(steps)
    peak = max(steps, key=steps.__getitem__)
    fourth, change = max(t for t in steps if t <= 4), ""  # the last attempt within the 4 seen in training
    if fourth != first:
        change = f" Attempt {num(fourth)} is {paired(per_step[fourth], per_step[first]).words('attempt 1')}."
    findings = [
        Finding(
            f"pass@1 of the reviser goes from {steps[first]:.3f} at attempt 1 to {steps[last]:.3f} at "
            f"attempt {num(last)}, peaking at {steps[peak]:.3f} at attempt {num(peak)} (paper: rises over "
            f"the revision steps, also beyond the 4 seen in training).{change}",
            "revision_steps.png",
        )
    ]
    parts = []
    for selection, kinds in summary.sequential_parallel.items():
        per = summary.sequential_parallel_per_question[selection]
        n = max(set(kinds[SEQUENTIAL]) & set(kinds[PARALLEL]))
        parts.append(
            f"{paired(per[SEQUENTIAL][n], per[PARALLEL][n]).words('parallel')} at N={num(n)} with {selection} selection"
        )
    findings.append(
        Finding(
            f"Sequential revisions are {' and '.join(parts)} (paper: sequential narrowly ahead with both).",
            "sequential_parallel.png",
        )
    )
    findings.append(Finding(split_sentence(summary), "ratio.png"))
    t = summary.transitions
    rate = t.correct_to_incorrect
    findings.append(
        Finding(
            f"{'no' if rate is None else f'{rate:.0%} of the'} {t.correct} correct "
            "attempts with a next attempt turn incorrect at that revision (paper: ~38%)."
        )
    )
    return findings


def split_sentence(summary: RevisionSummary) -> str:
    """The best sequential/parallel ratio with ORM weighted selection, against the two extremes."""
    weighted = SELECTIONS["weighted"]
    groups, per = summary.ratio[weighted], summary.ratio_per_question[weighted]
    overall = groups[ALL]
    best = max(overall, key=overall.__getitem__)
    against = []
    for end, name in ((min(overall), "most parallel"), (max(overall), "most sequential")):
        if end != best:
            against.append(paired(per[best], per[end]).words(f"the {name} ({ratio_label(end)})"))
    levels = [g for g in groups if g != ALL]
    per_level = ""
    if levels:
        easy, hard = groups[levels[0]], groups[levels[-1]]
        per_level = (
            f"; the best ratio is {ratio_label(max(easy, key=easy.__getitem__))} on {levels[0]} and "
            f"{ratio_label(max(hard, key=hard.__getitem__))} on {levels[-1]}"
        )
    versus = f": {' and '.join(against)}" if against else " (the only ratio)"
    return (
        f"At budget {summary.budget} the best sequential/parallel ratio with {weighted} selection is "
        f"{ratio_label(best)} ({overall[best]:.3f}){versus}{per_level} (paper: an intermediate ratio is best "
        "overall, fully sequential on easy questions)."
    )


def reviser_sequential_vs_parallel(path: Path) -> list[Comparison]:
    """The reviser's sequential vs parallel revisions at N=4 (else their largest common N), per selection."""
    found = []
    for selection, kinds in RevisionSummary.load(path).sequential_parallel_per_question.items():
        shared = set(kinds[SEQUENTIAL]) & set(kinds[PARALLEL])
        if shared:
            n = preferred(shared, 4, max)
            found.append(
                Comparison(
                    f"{selection} selection",
                    f"sequential, N={num(n)}",
                    f"parallel, N={num(n)}",
                    paired(kinds[SEQUENTIAL][n], kinds[PARALLEL][n]),
                )
            )
    return found


def attempt_vs_first(path: Path) -> list[Comparison]:
    """The reviser's pass@1 at attempt 4 (the last seen in training; else the last before it) vs attempt 1."""
    per = RevisionSummary.load(path).pass_at_1_per_question
    first, fourth = min(per), max(t for t in per if t <= 4)
    if fourth == first:
        return []
    return [Comparison("", f"attempt {num(fourth)}", f"attempt {num(first)}", paired(per[fourth], per[first]))]


PART = ReportPart(
    "Revisions (paper Figs. 6 and 7)",
    50,
    "revision eval (ttc eval-revision)",
    "revision_eval.json",
    ("revision_eval.md",),
    revision_findings,
)


STAGE = StageSpec(config=RevisionEvalConfig, main=main, report=PART)
