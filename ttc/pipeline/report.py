"""`ttc report RUN_DIR`: `RUN_DIR/report.md`, every table and figure the run has.

    ttc report runs/demo

Each part of the evaluation is read from the folders of the stages that make it (the stage
graph's run layout, ttc/pipeline/graph.py), through the typed summary its stage owns
(eval/summary.py), never through the display strings of its tables: `prm_eval.json`
(eval/prm.py's PRMEvalSummary; eval_prm), `summary.json` (eval/search_report.py's SearchSummary;
eval_search, eval_revision_grid), `revision_eval.json` (eval/revision.py's RevisionSummary),
`bins_oracle.json` (data/bins.py; difficulty), `compute_optimal.json` and `flops_matched.json`
(ComputeOptimalSummary, FlopsMatchedSummary; with their revision grids' twins) and `policy.json`
(eval/policy.py's PolicySummary). A part shows the stage's own markdown tables and its PNG figures
(linked relative to RUN_DIR), each figure with one sentence computed from the numbers: what it
shows and how that compares with the paper's finding. A part whose stages have not run is one
line, `missing: <stage>`, or, when the run's recipe skips that stage (its `run.json`), why it did;
several stages give one subsection each. A stage of the graph that no
part reads but that writes markdown is shown under "Other stages". Stage wall times come from the
runs' `DONE` markers. A malformed file, or one of another format or version (a run older than
its summary's type: rerun its stage), is one error naming it.

Every comparison a sentence states carries a paired 95% interval over questions
(eval/paired.py: mean +- 1.96 SE of the per-question differences, each question averaged over
its seeds first), computed from the per-question outcomes the summaries keep: "level" when the
interval includes zero, "ahead"/"behind" only when it excludes it, "no interval" (no verdict) with
fewer than 2 questions. Efficiency ratios carry the bootstrap range the stage computed, "interval
wide" when it spans 1.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from data.bins import Bins
from data.records import RecordError
from eval.paired import Paired, paired
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
        return [Finding(search_sentence(summary, weighted[0], beam), figure if i == 0 else None)
                for i, beam in enumerate(beams)]
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
    from eval.difficulty import agreement

    oracle = Bins.load(folder / "bins_oracle.json")
    by_bin = {b: [oracle.values[q] for q, x in oracle.bins.items() if x == b and q in oracle.values]
              for b in sorted(set(oracle.bins.values()))}
    easy, hard = min(by_bin), max(by_bin)
    sentence = (f"Oracle bins run from a mean base pass@1 of {sum(by_bin[easy]) / len(by_bin[easy]):.3f} (bin {easy}) "
                f"to {sum(by_bin[hard]) / len(by_bin[hard]):.3f} (bin {hard})")
    predicted_path = folder / "bins_predicted.json"
    if not predicted_path.exists():
        return [Finding(sentence + "; no predicted bins (no PRM given) (paper: predicted bins close to oracle).")]
    same, near = agreement(oracle.bins, Bins.load(predicted_path).bins)
    return [Finding(f"{sentence}; predicted bins (mean PRM final-step score, no ground truth) equal the oracle bin for "
                    f"{same:.0%} of questions and are within one bin for {near:.0%} (paper: close enough that "
                    "compute-optimal curves with either bins largely overlap).", "difficulty.png")]


def compute_optimal_findings(folder: Path) -> list[Finding]:
    from eval.compute_optimal import CO, WEIGHTED, ComputeOptimalSummary

    overall, matched, per_bin = [], [], []
    for a in ComputeOptimalSummary.load(folder / "compute_optimal.json").analyses:
        co, bon = a.overall[CO], a.overall[WEIGHTED]
        budgets = sorted(set(co) & set(bon))

        def vs(x: int, y: int) -> Paired:
            return paired(a.per_question[CO][x], a.per_question[WEIGHTED][y], a.seeds)

        top = budgets[-1]
        overall.append(f"with {a.kind} bins it is {tally([vs(b, b) for b in budgets])} budgets, and at budget "
                       f"{num(top)} {vs(top, top).words('best-of-N weighted')}")
        quarter = [b for b in budgets if 4 * b in budgets]
        four = (f"; at a quarter of the budget, compute-optimal at {num(quarter[-1])} is "
                f"{vs(quarter[-1], 4 * quarter[-1]).words(f'best-of-N weighted at {num(4 * quarter[-1])}')}"
                if quarter else "")
        matched.append(f"with {a.kind} bins, {efficiency_words(a)}{four}")
        per = [f"bin {b} {p.brief()}" for b, p in bin_comparisons(a, top).items()]
        per_bin.append(Finding(f"Per {a.kind} bin at budget {num(top)}, compute-optimal against best-of-N weighted: "
                               f"{'; '.join(per)} (paper: the best method differs by bin: beam search on harder bins "
                               "and best-of-N on easy ones; more sequential revisions on easy ones).",
                               f"compute_optimal_bins_{a.kind}.png"))
    return [Finding(f"Compute-optimal (method per bin and budget by 2-fold CV) against best-of-N weighted: "
                    f"{'; '.join(overall)} (paper: at or above at every budget).", "compute_optimal.png"),
            Finding(f"Matching best-of-N weighted: {'; '.join(matched)} (paper: 4x less, 16 vs 64).", "efficiency.png"),
            *per_bin]


def bin_comparisons(a: Analysis, budget: int) -> dict[int, Paired]:
    """Compute-optimal vs best-of-N weighted within each bin at `budget`, paired over its questions."""
    from eval.compute_optimal import CO, WEIGHTED

    within = {b: [{q: x for q, x in a.per_question[name][budget].items() if a.bins[q] == b} for name in (CO, WEIGHTED)]
              for b in a.per_bin}
    return {b: paired(*pq, a.seeds) for b, pq in within.items()}


def efficiency_words(a: Analysis) -> str:
    """The budget compute-optimal needs to match best-of-N weighted at its largest, with its range."""
    from eval.compute_optimal import headline

    top, match, times = headline(a.efficiency)
    if match is None:
        return f"at budget {top} no budget of the grid matches it {a.spread.spread()}"
    return f"at budget {top} it needs {match} ({f'{times:g}x less' if times > 1 else 'no saving'}) {a.spread.spread()}"


def flops_findings(folder: Path) -> list[Finding]:
    from eval.flops_matched import FlopsMatchedSummary

    by_ratio: dict[float, list[Row]] = {}
    for row in FlopsMatchedSummary.load(folder / "flops_matched.json").rows:
        by_ratio.setdefault(row.ratio, []).append(row)
    parts = [f"at R={num(ratio)} (budget {group[0].budget}): " + ", ".join(f"bin {r.bin} {r.paired.brief()}" for r in group)
             for ratio, group in sorted(by_ratio.items())]
    return [Finding(f"With FLOPs matched, test-time compute (compute-optimal) against the larger model's greedy "
                    f"answer, by bin: {'; '.join(parts)} (paper: test-time compute ahead on easy and medium bins at R << 1, "
                    "the larger model ahead on the hardest bins and at R >> 1).", "flops_matched.png")]


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
    path.write_text("\n".join(head + body + others(run_dir) + timings(run_dir)).rstrip() + "\n")
    log.info("report: %s (%d of %d parts)", path, sum(found), len(PARTS))
    return path


def cli(argv: list[str]) -> None:
    """`ttc report RUN_DIR`."""
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.exit("usage: ttc report RUN_DIR   (writes RUN_DIR/report.md)")
    print(write(argv[0]))

