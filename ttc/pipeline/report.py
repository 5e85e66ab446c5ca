"""`ttc report RUN_DIR`: `RUN_DIR/report.md`, every table and figure the run has.

    ttc report runs/demo
    ttc report runs/full --export eval/results/toy-full   # the evidence to commit, and its report

`--export DEST` copies what the report and a reader recomputing its numbers need (every stage's
summaries with their per-question outcomes, tables, figures, configs and DONE markers, and the
run's plan; not its records, samples or models) and writes DEST/report.md from that copy alone.

Each part of the evaluation is read from the folders of the stages that make it (the stage
graph's run layout, ttc/pipeline/graph.py), through the typed summary its stage owns
(eval/summary.py), never through the display strings of its tables: `prm_eval.json`
(eval/prm.py's PRMEvalSummary; eval_prm), `summary.json` (eval/search_report.py's SearchSummary;
eval_search, eval_revision_grid), `revision_eval.json` (eval/revision.py's RevisionSummary),
`bins_oracle.json` and `difficulty.json` (data/bins.py, DifficultySummary; difficulty),
`compute_optimal.json` and `flops_matched.json` (ComputeOptimalSummary, FlopsMatchedSummary;
with their revision grids' twins) and `policy.json` (eval/policy.py's PolicySummary). A part
shows the stage's own markdown tables and its PNG figures (linked relative to RUN_DIR), each
figure with one sentence computed from the numbers: what it shows and how that compares with
the paper's finding. A part whose stages have not run is one line, `missing: <stage>`, or,
when the run's recipe skips that stage (its `run.json`), why it did; several stages give one
subsection each. A stage of the graph that no
part reads but that writes markdown is shown under "Other stages". Stage wall times come from the
runs' `DONE` markers. A malformed file, or one of another format or version (a run older than
its summary's type: rerun its stage), is one error naming it.

Every comparison a sentence states carries a paired 95% interval over questions
(eval/paired.py: mean +- 1.96 SE of the per-question differences, each question averaged over
its seeds first), computed from the per-question outcomes the summaries keep: "level" when the
interval includes zero, "ahead"/"behind" only when it excludes it, "no interval" (no verdict) with
fewer than 2 questions. Efficiency ratios carry the bootstrap range the stage computed, "interval
wide" when it spans 1.

At the top, after the parts count, "Headline comparisons (Holm-corrected)": the README findings
table's comparisons (`HEADLINES`, one line each: the claim, the summary it is read from, and the
function that reads its paired comparisons there) tested as one family, Holm-Bonferroni at
ALPHA = 0.05 (eval/paired.py's `holm_corrected`): each with its p, Holm-adjusted p, Holm-adjusted
interval and its verdict after correction. A headline whose stage has not run, or whose run lacks
the comparison, is named as not tested and is not in the family. Where a run lacks the README's
budget (N=16 for the PRM, N=4 elsewhere), the comparison is the one the part's sentence falls back
to. The parts' other comparisons (per bin, per level, other budgets) are exploratory, uncorrected;
the FLOPs-matched rows are per bin but in the family, as the README's claim is about them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from data.bins import Bins
from data.records import RecordError
from eval.paired import Corrected, Paired, holm_corrected, paired
from ttc.pipeline import graph
from ttc.pipeline.run import DONE, PLAN

if TYPE_CHECKING:  # each part imports its stage's module when it is read: eval.prm loads torch
    from eval.compute_optimal import Analysis
    from eval.flops_matched import Row
    from eval.prm import PRMEvalSummary
    from eval.revision import RevisionSummary
    from eval.search_report import SearchSummary

log = logging.getLogger(__name__)
REPORT = "report.md"


@dataclass(frozen=True)
class Finding:
    """One sentence on the numbers, and the figure (a PNG of the part's folder) it is about."""

    sentence: str
    figure: str | None = None


@dataclass(frozen=True)
class Part:
    title: str
    stage: str  # what makes it: named by the `missing:` line
    numbers: str  # the file that marks the part and holds its numbers
    stages: tuple[str, ...]  # the graph's stages whose folders may hold it
    tables: tuple[str, ...]  # the stage's markdown, in its folder
    findings: Callable[[Path], list[Finding]]  # the part's folder -> its sentences


# --- reading the numbers ------------------------------------------------------------------------
def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RecordError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from e
    except OSError as e:
        raise RecordError(f"{path}: cannot read ({e.strerror})") from e


def num(x: float) -> str:
    return f"{x:g}"


def listing(items: list[Any]) -> str:
    return ", ".join(map(str, items)) if items else "none"


def tally(comparisons: list[Paired]) -> str:
    """'ahead at 2, level at 3 and behind at 0 of 5' (and how many had no interval)."""
    count = {v: sum(p.verdict == v for p in comparisons) for v in ("ahead", "level", "behind", None)}
    unjudged = f" ({count[None]} without an interval)" if count[None] else ""
    return (f"ahead at {count['ahead']}, level at {count['level']} and behind at {count['behind']} of "
            f"{len(comparisons)}{unjudged}")


# --- the parts ----------------------------------------------------------------------------------
def prm_findings(folder: Path) -> list[Finding]:
    from eval import prm

    summary = prm.PRMEvalSummary.load(folder / "prm_eval.json")
    curves, per = summary.curves, summary.per_question
    shared = set(curves[prm.WEIGHTED]) & set(curves[prm.MAJORITY])
    n = 16 if 16 in shared else max(shared)  # the paper's usual comparison point

    def vs(a: str, b: str) -> Paired:
        return paired(per[a][n], per[b][n])

    likely = {s: prm.bon(s, prm.LIKELIHOOD) for s in ("weighted", "naive")}
    baseline = (f" Against the policy's own likelihood as the verifier (untrained), it is "
                f"{vs(prm.WEIGHTED, likely['weighted']).words('likelihood-weighted voting')}; likelihood-weighted "
                f"voting is {vs(likely['weighted'], prm.MAJORITY).words('majority')}, and picking its most likely "
                f"solution is {vs(likely['naive'], prm.MAJORITY).words('majority')}."
                if all(n in curves.get(c, {}) for c in likely.values()) else "")
    return [Finding(f"Best-of-N weighted with the PRM (last-step score) is "
                    f"{vs(prm.WEIGHTED, prm.MAJORITY).words('majority')} at N={num(n)}; pass@1 "
                    f"{curves[prm.PASS1][n]:.3f} (paper: ahead, the gap growing with N).{baseline}{ranking(summary)}",
                    "best_of_n.png")]


def bench_findings(folder: Path) -> list[Finding]:
    from eval import prm_bench

    said = prm_bench.findings(prm_bench.BenchSummary.load(folder / "prm_bench.json"))
    return [Finding(sentence, "prm_bench.png" if i == 0 else None) for i, sentence in enumerate(said)]


def ranking(summary: PRMEvalSummary) -> str:
    """The last-step AUCs of the PRM (and the likelihood), and the within-question ones paired."""
    from eval.prm import LIKELIHOOD, PRM

    final, base = summary.final_auc[PRM], summary.final_auc.get(LIKELIHOOD)
    auc = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731 (None: no question with both outcomes)
    text = (f" Its last-step score ranks solutions with AUC {auc(final.within_question)} within a question "
            f"({auc(final.all_solutions)} over all solutions; 0.5 within a question is no help in picking one)")
    if base is None:
        return text + "."
    text += (f"; the likelihood's: {auc(base.within_question)} within a question, {auc(base.all_solutions)} "
             "over all solutions")
    if final.within_question is None or base.within_question is None:
        return text + "."
    per = summary.within_question_auc
    within = paired(per[PRM], per[LIKELIHOOD]).words("the likelihood's")
    return f"{text}; within a question the PRM's AUC is {within}."


def lines_paired(summary: SearchSummary, a: str, b: str, budget: int) -> Paired:
    """Line a against line b at `budget`, paired over the questions (each averaged over its seeds)."""
    cell_a, cell_b = summary.lines[a].cells[budget], summary.lines[b].cells[budget]
    return paired(cell_a.per_question, cell_b.per_question, cell_a.seeds)


def search_findings(folder: Path) -> list[Finding]:
    from eval.search_report import SearchSummary

    summary = SearchSummary.load(folder / "summary.json")
    lines = summary.lines
    weighted = [n for n, x in lines.items() if x.strategy == "best_of_n" and x.settings.get("selection") == "weighted"]
    beams = [n for n, x in lines.items() if x.strategy == "beam" and not x.settings.get("lookahead")]
    revisions = sorted((float(x.settings["ratio"]), n) for n, x in lines.items()
                       if x.strategy == "revision" and x.settings.get("selection") == "weighted")
    figure = "accuracy_vs_budget.png"
    if weighted and beams:  # each beam line on its own: picking the best after the fact would bias the interval
        return [*(Finding(search_sentence(summary, weighted[0], beam), figure if i == 0 else None)
                  for i, beam in enumerate(beams)), *menu_findings(summary, weighted[0], beams[0])]
    if len(revisions) > 1:
        return [Finding(revision_grid_sentence(summary, revisions[-1][1], revisions[0][1]), figure)]
    return [Finding(f"Accuracy by generation budget of {listing(sorted(lines))}; no lines the paper compares "
                    "(best-of-N weighted and beam search, or revisions at two ratios).", figure)]


def search_sentence(summary: SearchSummary, weighted: str, beam: str) -> str:
    """A beam line against best-of-N weighted at the low budget (4 when run) and the highest."""
    shared = sorted(set(summary.lines[weighted].cells) & set(summary.lines[beam].cells))
    if not shared:
        return f"{beam} and {weighted} ran at no common budget."
    budgets = sorted({4 if 4 in shared else shared[0], shared[-1]})
    parts = [f"{lines_paired(summary, beam, weighted, b).words(weighted if i == 0 else 'it')} at budget {num(b)}"
             for i, b in enumerate(budgets)]
    return f"{beam} is {' and '.join(parts)} (paper: ahead at low budgets, level or behind at high budgets)."


def menu_findings(summary: SearchSummary, weighted: str, beam: str) -> list[Finding]:
    """The field's additions to the menu against the paper's strategies at equal generations:
    particle filtering against best-of-N weighted and beam search at each budget both ran; an
    adaptive line against best-of-N weighted at its cap and at the first budget that covers
    what it spent on average (`Cell.spent`)."""
    found = []
    for name, line in summary.lines.items():
        if line.strategy == "particles":
            parts = []
            for other in (weighted, beam):
                shared = sorted(set(line.cells) & set(summary.lines[other].cells))
                if shared:
                    at = {b: lines_paired(summary, name, other, b) for b in shared}
                    parts.append(f"against {other} {tally(list(at.values()))} budgets "
                                 f"(at {num(shared[-1])}: {at[shared[-1]].brief()})")
            found.append(Finding(f"{name} (resampling by PRM step scores, Puri et al. 2025) is {'; '.join(parts)} "
                                 "(reported on MATH: 4-16x better scaling than beam search)."))
        elif line.strategy == "adaptive":
            ours = summary.lines[weighted].cells
            caps = sorted(b for b in line.cells if b in ours and line.cells[b].spent is not None)
            if not caps:
                continue
            top = caps[-1]
            cell = line.cells[top]
            cover = min((b for b in ours if b >= cell.spent), default=None)
            same = lines_paired(summary, name, weighted, top)
            covered = ("" if cover is None or cover == top else
                       f"; against {weighted} at {num(cover)}, the first budget that covers what it spent: "
                       f"{paired(cell.per_question, ours[cover].per_question, cell.seeds).brief()}")
            found.append(Finding(f"{name} (waves until the answers agree) spends {cell.spent:.1f} generations on average "
                                 f"at a cap of {num(top)}; against {weighted} at the cap: {same.brief()}{covered} "
                                 "(reported: up to 6x fewer samples at equal accuracy)."))
    return found


def revision_grid_sentence(summary: SearchSummary, sequential: str, parallel: str) -> str:
    """The most sequential revision line against the most parallel one at their largest common budget."""
    shared = sorted(set(summary.lines[sequential].cells) & set(summary.lines[parallel].cells))
    if not shared:
        return f"{sequential} and {parallel} ran at no common budget."
    n = shared[-1]
    return (f"{sequential} is {lines_paired(summary, sequential, parallel, n).words(parallel)} at budget {num(n)} (paper: "
            "sequential revisions narrowly ahead of parallel at equal budget).")


def revision_findings(folder: Path) -> list[Finding]:
    from eval.revision import PARALLEL, SEQUENTIAL, RevisionSummary

    summary = RevisionSummary.load(folder / "revision_eval.json")
    steps, per_step = summary.pass_at_1, summary.pass_at_1_per_question
    first, last = min(steps), max(steps)
    peak = max(steps, key=steps.__getitem__)
    fourth, change = max(t for t in steps if t <= 4), ""  # the last attempt within the 4 seen in training
    if fourth != first:
        change = f" Attempt {num(fourth)} is {paired(per_step[fourth], per_step[first]).words('attempt 1')}."
    findings = [Finding(f"pass@1 of the reviser goes from {steps[first]:.3f} at attempt 1 to {steps[last]:.3f} at "
                        f"attempt {num(last)}, peaking at {steps[peak]:.3f} at attempt {num(peak)} (paper: rises over "
                        f"the revision steps, also beyond the 4 seen in training).{change}", "revision_steps.png")]
    parts = []
    for selection, kinds in summary.sequential_parallel.items():
        per = summary.sequential_parallel_per_question[selection]
        n = max(set(kinds[SEQUENTIAL]) & set(kinds[PARALLEL]))
        parts.append(f"{paired(per[SEQUENTIAL][n], per[PARALLEL][n]).words('parallel')} at N={num(n)} with "
                     f"{selection} selection")
    findings.append(Finding(f"Sequential revisions are {' and '.join(parts)} (paper: sequential narrowly ahead with "
                            "both).", "sequential_parallel.png"))
    findings.append(Finding(split_sentence(summary), "ratio.png"))
    t = summary.transitions
    rate = t.correct_to_incorrect
    findings.append(Finding(f"{'no' if rate is None else f'{rate:.0%} of the'} {t.correct} correct "
                            "attempts with a next attempt turn incorrect at that revision (paper: ~38%)."))
    return findings


def split_sentence(summary: RevisionSummary) -> str:
    """The best sequential/parallel ratio with ORM weighted selection, against the two extremes."""
    from eval.revision import ALL, SELECTIONS, ratio_label

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
        per_level = (f"; the best ratio is {ratio_label(max(easy, key=easy.__getitem__))} on {levels[0]} and "
                     f"{ratio_label(max(hard, key=hard.__getitem__))} on {levels[-1]}")
    versus = f": {' and '.join(against)}" if against else " (the only ratio)"
    return (f"At budget {summary.budget} the best sequential/parallel ratio with {weighted} selection is "
            f"{ratio_label(best)} ({overall[best]:.3f}){versus}{per_level} (paper: an intermediate ratio is best "
            "overall, fully sequential on easy questions).")


def difficulty_findings(folder: Path) -> list[Finding]:
    from eval.difficulty import DifficultySummary

    oracle = Bins.load(folder / "bins_oracle.json")
    summary = DifficultySummary.load(folder / "difficulty.json")
    by_bin = {b: [oracle.values[q] for q, x in oracle.bins.items() if x == b and q in oracle.values]
              for b in sorted(set(oracle.bins.values()))}
    easy, hard = min(by_bin), max(by_bin)
    seed = summary.samples.seed
    drawn = f"sampling seed {seed}" if seed is not None else "a sampling seed not recorded"
    sentence = (f"Oracle bins (cut from the base model's samples drawn with {drawn}) "
                f"run from a mean base pass@1 of {sum(by_bin[easy]) / len(by_bin[easy]):.3f} (bin {easy}) "
                f"to {sum(by_bin[hard]) / len(by_bin[hard]):.3f} (bin {hard})")
    if summary.agreement is None:
        return [Finding(sentence + "; no predicted bins (no PRM given) (paper: predicted bins close to oracle).")]
    return [Finding(f"{sentence}; predicted bins (mean PRM final-step score, no ground truth) equal "
                    f"{summary.agreement.words()} (paper: close enough that compute-optimal curves with either bins "
                    "largely overlap).", "difficulty.png")]


def compute_optimal_findings(folder: Path) -> list[Finding]:
    from eval.compute_optimal import ALLOCATED, CO, FIXED, WEIGHTED, ComputeOptimalSummary

    overall, selection, matched, allocated, per_bin = [], [], [], [], []
    for a in ComputeOptimalSummary.load(folder / "compute_optimal.json").analyses:
        co, bon = a.overall[CO], a.overall[WEIGHTED]
        budgets = sorted(set(co) & set(bon))

        def vs(x: int, y: int, name: str = CO, other: str = WEIGHTED) -> Paired:
            return paired(a.per_question[name][x], a.per_question[other][y], a.seeds)

        top = budgets[-1]
        overall.append(f"with {a.kind} bins it is {tally([vs(b, b) for b in budgets])} budgets, and at budget "
                       f"{num(top)} {vs(top, top).words('best-of-N weighted')}")
        on_a, on_b = a.fixed[top]
        chose = f"{on_a} on both folds" if on_a == on_b else f"{on_a} on fold A, {on_b} on fold B"
        per = [f"bin {b} {p.brief()}" for b, p in bin_comparisons(a, top, FIXED).items()]
        selection.append(f"with {a.kind} bins it is {tally([vs(b, b, CO, FIXED) for b in budgets])} budgets, and at "
                         f"budget {num(top)} {vs(top, top, CO, FIXED).words(f'the best fixed method ({chose})')}; "
                         f"per bin there: {'; '.join(per)}")
        quarter = [b for b in budgets if 4 * b in budgets]
        four = (f"; at a quarter of the budget, compute-optimal at {num(quarter[-1])} is "
                f"{vs(quarter[-1], 4 * quarter[-1]).words(f'best-of-N weighted at {num(4 * quarter[-1])}')}"
                if quarter else "")
        matched.append(f"with {a.kind} bins, {efficiency_words(a)}{four}")
        if a.allocated_spread is not None:
            allocated.append(f"with {a.kind} bins, at budget {num(top)} it spends {a.spent[ALLOCATED][top]:.3g} "
                             f"generations per question and is {vs(top, top, ALLOCATED, CO).words('compute-optimal')}; "
                             f"to match best-of-N weighted {efficiency_words(a, allocated=True)}")
        per = [f"bin {b} {p.brief()}" for b, p in bin_comparisons(a, top).items()]
        per_bin.append(Finding(f"Per {a.kind} bin at budget {num(top)}, compute-optimal against best-of-N weighted: "
                               f"{'; '.join(per)} (paper: the best method differs by bin: beam search on harder bins "
                               "and best-of-N on easy ones; more sequential revisions on easy ones).",
                               f"compute_optimal_bins_{a.kind}.png"))
    alloc = [Finding(f"Allocating the budget across bins (a method and its budget per bin, the mean spent within the "
                     f"budget, fit on the same folds): {'; '.join(allocated)} (the paper leaves this open).")
             ] if allocated else []
    return [Finding(f"Compute-optimal (method per bin and budget by 2-fold CV) against best-of-N weighted: "
                    f"{'; '.join(overall)} (paper: at or above at every budget).", "compute_optimal.png"),
            Finding(f"Selection: compute-optimal against the best fixed method of the same menu, chosen on the same "
                    f"folds (a gain from selecting per bin is one over it): {'; '.join(selection)} (the paper compares "
                    "with best-of-N only)."),
            Finding(f"Matching best-of-N weighted: {'; '.join(matched)} (paper: 4x less, 16 vs 64).", "efficiency.png"),
            *alloc, *per_bin]


def bin_comparisons(a: Analysis, budget: int, other: str | None = None) -> dict[int, Paired]:
    """Compute-optimal vs `other` (default best-of-N weighted) within each bin at `budget`, paired over its questions."""
    from eval.compute_optimal import CO, WEIGHTED

    names = (CO, other or WEIGHTED)
    within = {b: [{q: x for q, x in a.per_question[name][budget].items() if a.bins[q] == b} for name in names]
              for b in a.per_bin}
    return {b: paired(*pq, a.seeds) for b, pq in within.items()}


def efficiency_words(a: Analysis, allocated: bool = False) -> str:
    """The budget compute-optimal needs to match best-of-N weighted at its largest, with its range;
    `allocated`: the allocation's, on its mean spent generations."""
    from eval.compute_optimal import ALLOCATED, headline, spent_headline

    if allocated:
        top, used, times = spent_headline(a.allocated_efficiency, a.spent[ALLOCATED])
        if used is None:
            return f"at budget {top} no budget of the grid does {a.allocated_spread.spread()}"
        return (f"at budget {top} it needs average budget {a.allocated_efficiency[top]}, spending {used:.3g} generations "
                f"per question ({f'{times:.3g}x less' if times > 1 else 'no saving'}) {a.allocated_spread.spread()}")
    top, match, times = headline(a.efficiency)
    if match is None:
        return f"at budget {top} no budget of the grid matches it {a.spread.spread()}"
    return f"at budget {top} it needs {match} ({f'{times:g}x less' if times > 1 else 'no saving'}) {a.spread.spread()}"


def flops_findings(folder: Path) -> list[Finding]:
    from eval.flops_matched import FlopsMatchedSummary, counting_words

    summary = FlopsMatchedSummary.load(folder / "flops_matched.json")
    counted = summary.count_verifier
    parts = []
    for m in sorted(summary.matches, key=lambda m: m.ratio):
        if not m.made:
            parts.append(f"at R={num(m.ratio)} not made ({m.why_not(counted, summary.budgets)})")
            continue
        other, how = (m.budget, "the policy's FLOPs alone") if counted else (m.budget_verifier, "the verifier counted")
        alt = "" if other is None and m.k_verifier is None else f"; {other or 'beyond the grid'} with {how}"
        rows: list[Row] = [r for r in summary.rows if r.ratio == m.ratio]
        parts.append(f"at R={num(m.ratio)} (budget {m.used(counted)[1]}{alt}): "
                     + ", ".join(f"bin {r.bin} {r.paired.brief()}" for r in rows))
    return [Finding(f"With FLOPs matched ({counting_words(summary)}), test-time compute (compute-optimal) against the "
                    f"larger model's greedy answer, by bin: {'; '.join(parts)} (paper, counting the policy alone: "
                    "test-time compute ahead on easy and medium bins at R << 1, the larger model ahead on the hardest "
                    "bins and at R >> 1).", "flops_matched.png")]


def policy_findings(folder: Path) -> list[Finding]:
    from eval.policy import BON, PolicySummary, ratio_sentence

    summary = PolicySummary.load(folder / "policy.json")
    return [Finding(ratio_sentence(summary.efficiency, "`ttc solve`", BON, summary.efficiency_interval) + " (paper: "
                    "compute-optimal needs 4x less than best-of-N, with a difficulty estimate it does not count; solve "
                    "counts its probe).", "policy.png")]


def training_findings(folder: Path) -> list[Finding]:
    """A trainer's curves (eval/training_curves.py) and its one-line summary."""
    from eval import training_curves

    path = folder / "log_history.json"
    try:
        png = training_curves.plot(path, folder / "training_curves.png", folder.name)
        return [Finding(f"{folder.name}: {training_curves.summary(path)}.", png.name)]
    except (KeyError, TypeError, ValueError) as e:
        raise RecordError(f"{path}: not a trainer's log history ({e})") from e


TRAINERS = tuple(sorted(s.name for s in graph.GRAPH if s.command.startswith("train-")))
PARTS = (
    Part("Training curves (PRM, reviser, revision ORM)", "a trainer (ttc train-prm, ttc train-reviser)",
         "log_history.json", TRAINERS, (), training_findings),
    Part("PRM: best-of-N weighted vs majority", "PRM eval (ttc eval-prm)", "prm_eval.json", ("eval_prm",),
         ("prm_eval.md",), prm_findings),
    Part("PRM on a step-level benchmark (ProcessBench's metric)", "PRM benchmark (ttc bench-prm)", "prm_bench.json",
         ("bench_prm",), ("prm_bench.md",), bench_findings),
    Part("Search against the PRM (paper Fig. 3)", "search eval (ttc eval)", "summary.json",
         ("eval_revision_grid", "eval_search"), ("summary.md",), search_findings),
    Part("Revisions (paper Figs. 6 and 7)", "revision eval (ttc eval-revision)", "revision_eval.json",
         ("eval_revision",), ("revision_eval.md",), revision_findings),
    Part("Difficulty bins (paper Section 3.2)", "difficulty (ttc difficulty)", "bins_oracle.json", ("difficulty",),
         ("difficulty.md",), difficulty_findings),
    Part("Compute-optimal scaling (paper Figs. 4 and 8)", "compute-optimal (ttc compute-optimal)",
         "compute_optimal.json", ("compute_optimal", "compute_optimal_revisions"), ("compute_optimal.md",),
         compute_optimal_findings),
    Part("FLOPs-matched comparison with the larger model (paper Fig. 9)", "FLOPs-matched (ttc flops-matched)",
         "flops_matched.json", ("flops_matched", "flops_matched_revisions"), ("flops_matched.md",), flops_findings),
    Part("The deployable policy: `ttc solve` vs best-of-N weighted", "policy eval (ttc eval-policy)",
         "policy.json", ("policy",), ("policy.md",), policy_findings),
)


# --- the headline comparisons: one family, Holm-corrected -----------------------------------------
ALPHA = 0.05  # the family-wise error rate of the headline comparisons


@dataclass(frozen=True)
class Comparison:
    """One tested comparison of a headline: which one ("oracle bins"; "" when the only one), its sides."""

    where: str
    a: str  # the side whose lead `paired.diff` is, with its budget
    b: str
    paired: Paired


@dataclass(frozen=True)
class Headline:
    """A claim of the README's findings table: the summary it is read from (relative to the run
    directory) and what reads its comparisons from that file (none: the run has no such comparison)."""

    claim: str
    numbers: str
    build: Callable[[Path], list[Comparison]]


def preferred(shared: set[int], budget: int, otherwise: Callable[[set[int]], int]) -> int:
    """The README's budget when both sides ran it, else the one the part's sentence falls back to."""
    return budget if budget in shared else otherwise(shared)


def prm_vs(path: Path, baseline: str) -> list[Comparison]:
    """Best-of-N weighted (the PRM's last step) vs `baseline` ("majority", or "likelihood"-weighted
    voting) at N=16, else their largest common N (as prm_findings)."""
    from eval import prm

    per = prm.PRMEvalSummary.load(path).per_question
    other = prm.MAJORITY if baseline == "majority" else prm.bon("weighted", prm.LIKELIHOOD)
    shared = set(per[prm.WEIGHTED]) & set(per.get(other, {}))
    if not shared:
        return []
    n = preferred(shared, 16, max)
    return [Comparison("", f"{prm.WEIGHTED}, N={num(n)}", f"{other}, N={num(n)}",
                       paired(per[prm.WEIGHTED][n], per[other][n]))]


def prm_auc(path: Path) -> list[Comparison]:
    """The PRM's last-step AUC within a question vs the policy likelihood's, over the questions with both."""
    from eval.prm import LIKELIHOOD, PRM, PRMEvalSummary

    per = PRMEvalSummary.load(path).within_question_auc
    if not set(per.get(PRM, {})) & set(per.get(LIKELIHOOD, {})):
        return []
    return [Comparison("", "PRM within-question AUC", "likelihood's", paired(per[PRM], per[LIKELIHOOD]))]


def beam_vs_weighted(path: Path, largest: bool) -> list[Comparison]:
    """Each beam line with M=sqrt(N) (no lookahead) vs best-of-N weighted, at N=4 (else their
    smallest common budget, as search_sentence) or at the largest budget both ran."""
    from eval.search_report import SearchSummary

    summary = SearchSummary.load(path)
    lines = summary.lines
    weighted = [n for n, x in lines.items() if x.strategy == "best_of_n" and x.settings.get("selection") == "weighted"]
    beams = [n for n, x in lines.items()
             if x.strategy == "beam" and x.settings.get("beam_width") == "sqrt" and not x.settings.get("lookahead")]
    found = []
    for beam in beams if weighted else []:
        shared = set(lines[beam].cells) & set(lines[weighted[0]].cells)
        if shared:
            n = max(shared) if largest else preferred(shared, 4, min)
            found.append(Comparison(beam if len(beams) > 1 else "", f"{beam}, N={num(n)}",
                                    f"{weighted[0]}, N={num(n)}", lines_paired(summary, beam, weighted[0], n)))
    return found


def co_vs_weighted(path: Path, quarter: bool, baseline: str) -> list[Comparison]:
    """Per bin kind: compute-optimal at the largest budget (or a quarter of it) vs the analysis'
    weighted baseline (`baseline`: its name in that stage) at the largest budget."""
    from eval.compute_optimal import CO, WEIGHTED, ComputeOptimalSummary

    found = []
    for a in ComputeOptimalSummary.load(path).analyses:
        co, base = a.per_question[CO], a.per_question[WEIGHTED]
        top = max(set(co) & set(base), default=None)
        n = top if not quarter or top is None else top // 4 if top % 4 == 0 else None
        if n is not None and n in co:
            found.append(Comparison(f"{a.kind} bins", f"compute-optimal, N={num(n)}", f"{baseline}, N={num(top)}",
                                    paired(co[n], base[top], a.seeds)))
    return found


def co_vs_fixed(path: Path, kind: str) -> list[Comparison]:
    """Compute-optimal vs the best fixed method of its menu (chosen on the same CV folds), with
    `kind` bins, at every budget: "beats it at some budget" is a claim over all of them."""
    from eval.compute_optimal import CO, FIXED, ComputeOptimalSummary

    found = []
    for a in ComputeOptimalSummary.load(path).analyses:
        co, fixed = a.per_question[CO], a.per_question.get(FIXED, {})
        found += [Comparison(f"{a.kind} bins, N={num(n)}", f"compute-optimal, N={num(n)}", f"best fixed, N={num(n)}",
                             paired(co[n], fixed[n], a.seeds)) for n in sorted(set(co) & set(fixed)) if a.kind == kind]
    return found


def allocated_vs_weighted(path: Path) -> list[Comparison]:
    """Per bin kind: the budget allocated across bins at a quarter of the largest average budget
    vs best-of-N weighted at the largest (the paper's 4x)."""
    from eval.compute_optimal import ALLOCATED, WEIGHTED, ComputeOptimalSummary

    found = []
    for a in ComputeOptimalSummary.load(path).analyses:
        allocated, base = a.per_question.get(ALLOCATED, {}), a.per_question[WEIGHTED]
        top = max(base, default=None)
        if top is not None and top % 4 == 0 and top // 4 in allocated:
            spent = a.spent[ALLOCATED][top // 4]
            found.append(Comparison(f"{a.kind} bins", f"allocated, average N<={num(top // 4)} (spent {spent:.1f})",
                                    f"best-of-N weighted, N={num(top)}", paired(allocated[top // 4], base[top], a.seeds)))
    return found


def sequential_vs_parallel(path: Path) -> list[Comparison]:
    """The reviser's sequential vs parallel revisions at N=4 (else their largest common N), per selection."""
    from eval.revision import PARALLEL, SEQUENTIAL, RevisionSummary

    found = []
    for selection, kinds in RevisionSummary.load(path).sequential_parallel_per_question.items():
        shared = set(kinds[SEQUENTIAL]) & set(kinds[PARALLEL])
        if shared:
            n = preferred(shared, 4, max)
            found.append(Comparison(f"{selection} selection", f"sequential, N={num(n)}", f"parallel, N={num(n)}",
                                    paired(kinds[SEQUENTIAL][n], kinds[PARALLEL][n])))
    return found


def grid_sequential_vs_parallel(path: Path) -> list[Comparison]:
    """The revision grid's most sequential vs most parallel weighted line at budget 4 (else their largest common)."""
    from eval.search_report import SearchSummary

    summary = SearchSummary.load(path)
    ratios = sorted((float(x.settings["ratio"]), n) for n, x in summary.lines.items()
                    if x.strategy == "revision" and x.settings.get("selection") == "weighted")
    if len(ratios) < 2:
        return []
    (_, parallel), (_, sequential) = ratios[0], ratios[-1]
    shared = set(summary.lines[sequential].cells) & set(summary.lines[parallel].cells)
    if not shared:
        return []
    n = preferred(shared, 4, max)
    return [Comparison("", f"{sequential}, N={num(n)}", f"{parallel}, N={num(n)}",
                       lines_paired(summary, sequential, parallel, n))]


def attempt_vs_first(path: Path) -> list[Comparison]:
    """The reviser's pass@1 at attempt 4 (the last seen in training; else the last before it) vs attempt 1."""
    from eval.revision import RevisionSummary

    per = RevisionSummary.load(path).pass_at_1_per_question
    first, fourth = min(per), max(t for t in per if t <= 4)
    if fourth == first:
        return []
    return [Comparison("", f"attempt {num(fourth)}", f"attempt {num(first)}", paired(per[fourth], per[first]))]


def flops_rows(path: Path) -> list[Comparison]:
    """Every (bin, R) row: compute-optimal at the matched budget vs the larger model's greedy answer."""
    from eval.flops_matched import FlopsMatchedSummary

    return [Comparison(f"bin {r.bin}, R={num(r.ratio)}", f"compute-optimal, N={num(r.budget)}", "larger model, greedy",
                       r.paired) for r in FlopsMatchedSummary.load(path).rows]


CO_JSON, CO_REVISIONS_JSON = "compute_optimal/compute_optimal.json", "compute_optimal_revisions/compute_optimal.json"
HEADLINES: tuple[Headline, ...] = (  # the README findings table's comparisons, in its order: one line each
    Headline("PRM: best-of-N weighted vs majority, N=16", "eval_prm/prm_eval.json",
             partial(prm_vs, baseline="majority")),
    Headline("PRM: best-of-N weighted vs likelihood-weighted, N=16", "eval_prm/prm_eval.json",
             partial(prm_vs, baseline="likelihood")),
    Headline("PRM: within-question AUC vs the likelihood's", "eval_prm/prm_eval.json", prm_auc),
    Headline("beam M=sqrt(N) vs best-of-N weighted, N=4", "eval_search/summary.json",
             partial(beam_vs_weighted, largest=False)),
    Headline("beam M=sqrt(N) vs best-of-N weighted, the largest budget beam ran", "eval_search/summary.json",
             partial(beam_vs_weighted, largest=True)),
    Headline("compute-optimal vs best-of-N weighted, the largest budget", CO_JSON,
             partial(co_vs_weighted, quarter=False, baseline="best-of-N weighted")),
    Headline("compute-optimal at a quarter of the largest budget vs best-of-N weighted at it", CO_JSON,
             partial(co_vs_weighted, quarter=True, baseline="best-of-N weighted")),
    Headline("compute-optimal vs the best fixed method of its menu (same folds), every budget", CO_JSON,
             partial(co_vs_fixed, kind="predicted")),
    Headline("budget allocated across bins at a quarter of the largest budget vs best-of-N weighted at it", CO_JSON,
             allocated_vs_weighted),
    Headline("compute-optimal revisions at a quarter of the largest budget vs parallel at it", CO_REVISIONS_JSON,
             partial(co_vs_weighted, quarter=True, baseline="parallel revisions")),
    Headline("reviser: attempt 4 vs attempt 1", "eval_revision/revision_eval.json", attempt_vs_first),
    Headline("revisions: sequential vs parallel, N=4", "eval_revision/revision_eval.json", sequential_vs_parallel),
    Headline("revision grid: most sequential vs most parallel, N=4", "eval_revision_grid/summary.json",
             grid_sequential_vs_parallel),
    Headline("FLOPs-matched: test-time compute vs the larger model", "flops_matched/flops_matched.json", flops_rows),
)


def p_text(p: float | None) -> str:
    return "n/a" if p is None else "<0.0001" if p < 1e-4 else f"{p:.4f}"


def headline_row(claim: str, c: Comparison, holm: Corrected) -> str:
    p = c.paired
    raw = "no interval" if p.low is None else f"{p.low:+.3f} to {p.high:+.3f}"
    verdict = holm.verdict or "unjudged (no interval)"
    changed = f" (uncorrected: {p.verdict})" if holm.verdict != p.verdict and p.verdict else ""
    return (f"| {claim}{f' ({c.where})' if c.where else ''} | {c.a}: {p.mean_a:.3f} | {c.b}: {p.mean_b:.3f} | "
            f"{p.diff:+.3f} | {raw} | {p_text(holm.p)} | {p_text(holm.p_adjusted)} | {holm.interval()} | "
            f"{verdict}{changed} |")


def headlines(run_dir: Path, alpha: float = ALPHA) -> list[str]:
    """The section: every HEADLINES comparison the run has, Holm-corrected together; the rest named."""
    rows, untested = [], []
    for h in HEADLINES:
        path = run_dir / h.numbers
        found = h.build(path) if path.is_file() else None
        rows += [(h.claim, c) for c in found or []]
        if not found:
            why = f"no {h.numbers} in the run" if found is None else f"no such comparison in {h.numbers}"
            untested.append(f"- not tested: {h.claim} ({why})")
    corrected = holm_corrected([c.paired for _, c in rows], alpha)
    m = sum(x.p is not None for x in corrected)
    lines = ["## Headline comparisons (Holm-corrected)", "",
             f"The README findings table's comparisons, tested as one family of {m}: each two-sided p from its paired "
             "interval's standard error (normal approximation), Holm-Bonferroni at a family-wise alpha of "
             f"{alpha:g}. The Holm CI is the interval at the level of the step that decides the comparison (its own "
             "step when rejected, else the step where Holm stopped), so it excludes zero exactly when the Holm p is "
             f"below {alpha:g}; the verdict is the Holm CI's. A run without the README's budget is compared where its "
             "part's sentence compares (the a and b columns name the budgets). The sections below state uncorrected 95% "
             "intervals; their other comparisons (per bin, per level, every other budget) are exploratory and not "
             "corrected.", ""]
    if rows:
        lines += ["| claim | a | b | difference | raw 95% CI | p | Holm p | Holm CI | verdict after correction |",
                  "|---|---|---|---|---|---|---|---|---|",
                  *(headline_row(claim, c, x) for (claim, c), x in zip(rows, corrected)), ""]
    return lines + untested + ([""] if untested else [])


# --- assembling ---------------------------------------------------------------------------------
def demote(markdown: str, levels: int = 2) -> str:
    """A stage's own markdown inside a report section: its headings two levels down."""
    return "\n".join("#" * levels + line if line.startswith("#") else line for line in markdown.splitlines())


def render_folder(part: Part, folder: Path, run_dir: Path) -> list[str]:
    lines = []
    for finding in part.findings(folder):
        lines.append(f"- {finding.sentence}")
        figure = folder / finding.figure if finding.figure else None
        if figure is not None and figure.exists():
            lines += ["", f"  ![{finding.figure}]({Path(os.path.relpath(figure, run_dir)).as_posix()})", ""]
    for name in part.tables:
        table = folder / name
        if table.exists():
            lines += ["", demote(table.read_text().strip()), ""]
    return lines


def skipped(run_dir: Path) -> dict[str, str]:
    """The stages the run's recipe skips, with why (run.json, written when the run started)."""
    plan = run_dir / PLAN
    return load_json(plan).get("skipped", {}) if plan.is_file() else {}


def render_part(part: Part, run_dir: Path, gone: dict[str, str]) -> tuple[list[str], bool]:
    """The part's section, and whether its inputs were found (a stage the recipe skipped says why)."""
    folders = [run_dir / name for name in part.stages if (run_dir / name / part.numbers).is_file()]
    skips = [f"{name}: {gone[name]}" for name in part.stages if name in gone]
    if not folders:
        why = "; ".join(skips) if len(skips) == len(part.stages) else (
            f"missing: {part.stage} (no {part.numbers} in {run_dir}/{{{','.join(part.stages)}}})")
        return [f"## {part.title}", "", why, ""], False
    lines = [f"## {part.title}", ""]
    for folder in folders:
        if len(folders) > 1:
            lines += [f"### {folder.relative_to(run_dir).as_posix()}", ""]
        lines += render_folder(part, folder, run_dir) + [""]
    return lines + [*(f"- {skip}" for skip in skips), ""], True


def others(run_dir: Path) -> list[str]:
    """The markdown of every stage no part reads (a stage added to the graph shows up here)."""
    read = {name for part in PARTS for name in part.stages}
    lines = []
    for s in graph.GRAPH:
        tables = sorted((run_dir / s.name).glob("*.md")) if s.name not in read else []
        for table in tables:
            lines += [f"### {s.name}", "", demote(table.read_text().strip()), ""]
    return ["## Other stages", "", *lines] if lines else []


def timings(run_dir: Path) -> list[str]:
    """Stage wall times from the runs' DONE markers, in graph order."""
    done = [load_json(p) | {"path": p} for p in run_dir.glob(f"*/{DONE}")]
    if not done:
        return []
    order = {stage.name: i for i, stage in enumerate(graph.GRAPH)}
    done.sort(key=lambda d: (order.get(d["path"].parent.name, len(order)), d.get("finished", "")))
    rows = [f"| {d['path'].parent.name} | {d.get('seconds', float('nan')):.1f} |" for d in done]
    total = sum(d.get("seconds", 0.0) for d in done)
    return ["## Stage wall times (ttc demo)", "", "| stage | seconds |", "|---|---|", *rows, f"| total | {total:.1f} |", ""]


def write(run_dir: Path | str) -> Path:
    """`run_dir/report.md` from what the run holds; returns its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    body, found, gone = [], [], skipped(run_dir)
    for part in PARTS:
        lines, present = render_part(part, run_dir, gone)
        body += lines
        found.append(present)
    skipped_parts = [p.stage for p, ok in zip(PARTS, found) if not ok and set(p.stages) <= set(gone)]
    missing = [p.stage for p, ok in zip(PARTS, found) if not ok and p.stage not in skipped_parts]
    head = [f"# Report: {run_dir.name}", "",
            f"{sum(found)} of {len(PARTS)} parts found"
            + (f"; skipped by the recipe: {', '.join(skipped_parts)}" if skipped_parts else "")
            + (f"; missing: {', '.join(missing)}" if missing else "") + ".", ""]
    path = run_dir / REPORT
    path.write_text("\n".join(head + headlines(run_dir) + body + others(run_dir) + timings(run_dir)).rstrip() + "\n")
    log.info("report: %s (%d of %d parts)", path, sum(found), len(PARTS))
    return path


# --- the evidence behind a report ---------------------------------------------------------------
EVIDENCE_SUFFIXES = (".json", ".md", ".png", ".yaml")


def evidence(path: Path) -> bool:
    """A stage's file that a report or a reader recomputing its numbers needs: the summaries (with
    their per-question outcomes), tables, figures, configs and DONE markers; not the records,
    samples, shards or models, which the summaries condense."""
    if path.name == DONE:
        return True
    return path.suffix in EVIDENCE_SUFFIXES and ".shard-" not in path.name and not path.name.endswith(".settings.json")


def export(run_dir: Path | str, dest: Path | str) -> Path:
    """`dest`: a folder to commit beside the claims it backs, holding every stage's evidence
    (`evidence`) and the run's plan, and its report written from them alone (`write(dest)` from a
    copy gives the same bytes: tests/test_evidence.py). Returns the report's path."""
    run_dir, dest = Path(run_dir), Path(dest)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    for stage in graph.GRAPH:
        folder = run_dir / stage.name
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_file() and evidence(path):
                (dest / stage.name).mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest / stage.name / path.name)
    if (run_dir / PLAN).is_file():
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(run_dir / PLAN, dest / PLAN)
    return write(dest)


def cli(argv: list[str]) -> None:
    """`ttc report RUN_DIR [--export DEST]`."""
    usage = ("usage: ttc report RUN_DIR                (writes RUN_DIR/report.md)\n"
             "       ttc report RUN_DIR --export DEST  (copies the run's summaries, tables and figures to DEST "
             "and writes DEST/report.md from them)")
    if len(argv) == 3 and argv[1] == "--export" and not argv[0].startswith("-"):
        print(export(argv[0], argv[2]))
        return
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.exit(usage)
    print(write(argv[0]))

