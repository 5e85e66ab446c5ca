"""`ttc report RUN_DIR`: `RUN_DIR/report.md`, every table and figure the run has.

    ttc report runs/demo
    ttc report runs/full --export eval/results/toy-full   # the evidence to commit, and its report

`--export DEST` copies what the report and a reader recomputing its numbers need (every stage's
summaries with their per-question outcomes, tables, figures, configs and DONE markers, and the
run's plan; not its records, samples or models) and writes DEST/report.md from that copy alone.

This module only assembles. Each part is declared by the stages that make it: a stage's spec
(`STAGE.report`, ttc/stages/spec.py's ReportPart) names the part its evaluation module holds,
with the title, its place (`order`), the file that marks it and the `findings` that read its
numbers; stages declaring one part share it, each a folder of it (sorted by name), so a stage
added to the graph with a part is a section with no edit here. The findings read the folders of
the stages (the stage graph's run layout, ttc/pipeline/graph.py), through the typed summary each
stage owns (eval/summary.py), never through the display strings of its tables: `prm_eval.json`
(eval/prm.py's PRMEvalSummary; eval_prm), `summary.json` (eval/search_report.py's SearchSummary;
eval_search, eval_revision_grid), `revision_eval.json` (eval/revision.py's RevisionSummary),
`bins_oracle.json` and `difficulty.json` (data/bins.py, DifficultySummary; difficulty),
`compute_optimal.json` and `flops_matched.json` (ComputeOptimalSummary, FlopsMatchedSummary;
with their revision grids' twins) and `policy.json` (eval/policy.py's PolicySummary). A part
shows the stage's own markdown tables and its PNG figures (linked relative to RUN_DIR), each
figure with one sentence computed from the numbers: what it shows and how that compares with
the paper's finding. A part whose stages have not run is one line, `missing: <stage>`, or,
when the run's recipe skips that stage (its `run.json`), why it did; several stages give one
subsection each. A stage of the graph that declares no part but writes markdown is shown under
"Other stages". Stage wall times come from the
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
function of that summary's module that reads its paired comparisons there) tested as one family, Holm-Bonferroni at
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
from typing import Any, Callable

from data.records import RecordError
from eval.compute_optimal import allocated_vs_weighted, co_vs_fixed, co_vs_weighted
from eval.flops_matched import flops_rows
from eval.paired import Comparison, Corrected, holm_corrected
from eval.prm import prm_auc, prm_vs
from eval.revision import attempt_vs_first, reviser_sequential_vs_parallel
from eval.search_report import beam_vs_weighted, grid_sequential_vs_parallel
from ttc.pipeline import graph
from ttc.pipeline.run import DONE, PLAN
from ttc.stages.spec import ReportPart

log = logging.getLogger(__name__)
REPORT = "report.md"


# --- reading the numbers ------------------------------------------------------------------------
def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RecordError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from e
    except OSError as e:
        raise RecordError(f"{path}: cannot read ({e.strerror})") from e


# --- the parts ----------------------------------------------------------------------------------
def parts() -> dict[ReportPart, tuple[str, ...]]:
    """The report's parts, in their order: each part a stage of the graph declares (its spec's
    `report`), with the stages that declare it, whose folders hold it (their names, sorted)."""
    found: dict[ReportPart, list[str]] = {}
    for s in graph.GRAPH:
        part = s.spec().report
        if part is not None:
            found.setdefault(part, []).append(s.name)
    return {part: tuple(sorted(found[part])) for part in sorted(found, key=lambda part: part.order)}


# --- the headline comparisons: one family, Holm-corrected -----------------------------------------
ALPHA = 0.05  # the family-wise error rate of the headline comparisons


@dataclass(frozen=True)
class Headline:
    """A claim of the README's findings table: the summary it is read from (relative to the run
    directory) and what reads its comparisons from that file (none: the run has no such comparison)."""

    claim: str
    numbers: str
    build: Callable[[Path], list[Comparison]]


CO_JSON, CO_REVISIONS_JSON = "compute_optimal/compute_optimal.json", "compute_optimal_revisions/compute_optimal.json"
HEADLINES: tuple[Headline, ...] = (  # the README findings table's comparisons, in its order: one line each
    Headline(
        "PRM: best-of-N weighted vs majority, N=16", "eval_prm/prm_eval.json", partial(prm_vs, baseline="majority")
    ),
    Headline(
        "PRM: best-of-N weighted vs likelihood-weighted, N=16",
        "eval_prm/prm_eval.json",
        partial(prm_vs, baseline="likelihood"),
    ),
    Headline("PRM: within-question AUC vs the likelihood's", "eval_prm/prm_eval.json", prm_auc),
    Headline(
        "beam M=sqrt(N) vs best-of-N weighted, N=4",
        "eval_search/summary.json",
        partial(beam_vs_weighted, largest=False),
    ),
    Headline(
        "beam M=sqrt(N) vs best-of-N weighted, the largest budget beam ran",
        "eval_search/summary.json",
        partial(beam_vs_weighted, largest=True),
    ),
    Headline(
        "compute-optimal vs best-of-N weighted, the largest budget",
        CO_JSON,
        partial(co_vs_weighted, quarter=False, baseline="best-of-N weighted"),
    ),
    Headline(
        "compute-optimal at a quarter of the largest budget vs best-of-N weighted at it",
        CO_JSON,
        partial(co_vs_weighted, quarter=True, baseline="best-of-N weighted"),
    ),
    Headline(
        "compute-optimal vs the best fixed method of its menu (same folds), every budget",
        CO_JSON,
        partial(co_vs_fixed, kind="predicted"),
    ),
    Headline(
        "budget allocated across bins at a quarter of the largest budget vs best-of-N weighted at it",
        CO_JSON,
        allocated_vs_weighted,
    ),
    Headline(
        "compute-optimal revisions at a quarter of the largest budget vs parallel at it",
        CO_REVISIONS_JSON,
        partial(co_vs_weighted, quarter=True, baseline="parallel revisions"),
    ),
    Headline("reviser: attempt 4 vs attempt 1", "eval_revision/revision_eval.json", attempt_vs_first),
    Headline(
        "revisions: sequential vs parallel, N=4", "eval_revision/revision_eval.json", reviser_sequential_vs_parallel
    ),
    Headline(
        "revision grid: most sequential vs most parallel, N=4",
        "eval_revision_grid/summary.json",
        grid_sequential_vs_parallel,
    ),
    Headline("FLOPs-matched: test-time compute vs the larger model", "flops_matched/flops_matched.json", flops_rows),
)


def p_text(p: float | None) -> str:
    return "n/a" if p is None else "<0.0001" if p < 1e-4 else f"{p:.4f}"


def headline_row(claim: str, c: Comparison, holm: Corrected) -> str:
    p = c.paired
    raw = "no interval" if p.low is None else f"{p.low:+.3f} to {p.high:+.3f}"
    verdict = holm.verdict or "unjudged (no interval)"
    changed = f" (uncorrected: {p.verdict})" if holm.verdict != p.verdict and p.verdict else ""
    return (
        f"| {claim}{f' ({c.where})' if c.where else ''} | {c.a}: {p.mean_a:.3f} | {c.b}: {p.mean_b:.3f} | "
        f"{p.diff:+.3f} | {raw} | {p_text(holm.p)} | {p_text(holm.p_adjusted)} | {holm.interval()} | "
        f"{verdict}{changed} |"
    )


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
    lines = [
        "## Headline comparisons (Holm-corrected)",
        "",
        f"The README findings table's comparisons, tested as one family of {m}: each two-sided p from its paired "
        "interval's standard error (normal approximation), Holm-Bonferroni at a family-wise alpha of "
        f"{alpha:g}. The Holm CI is the interval at the level of the step that decides the comparison (its own "
        "step when rejected, else the step where Holm stopped), so it excludes zero exactly when the Holm p is "
        f"below {alpha:g}; the verdict is the Holm CI's. A run without the README's budget is compared where its "
        "part's sentence compares (the a and b columns name the budgets). The sections below state uncorrected 95% "
        "intervals; their other comparisons (per bin, per level, every other budget) are exploratory and not "
        "corrected.",
        "",
    ]
    if rows:
        lines += [
            "| claim | a | b | difference | raw 95% CI | p | Holm p | Holm CI | verdict after correction |",
            "|---|---|---|---|---|---|---|---|---|",
            *(headline_row(claim, c, x) for (claim, c), x in zip(rows, corrected)),
            "",
        ]
    return lines + untested + ([""] if untested else [])


# --- assembling ---------------------------------------------------------------------------------
def demote(markdown: str, levels: int = 2) -> str:
    """A stage's own markdown inside a report section: its headings two levels down."""
    return "\n".join("#" * levels + line if line.startswith("#") else line for line in markdown.splitlines())


def render_folder(part: ReportPart, folder: Path, run_dir: Path) -> list[str]:
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


def render_part(
    part: ReportPart, stages: tuple[str, ...], run_dir: Path, gone: dict[str, str]
) -> tuple[list[str], bool]:
    """The part's section from its stages' folders, and whether its inputs were found (a stage the
    recipe skipped says why)."""
    folders = [run_dir / name for name in stages if (run_dir / name / part.numbers).is_file()]
    skips = [f"{name}: {gone[name]}" for name in stages if name in gone]
    if not folders:
        why = (
            "; ".join(skips)
            if len(skips) == len(stages)
            else (f"missing: {part.missing} (no {part.numbers} in {run_dir}/{{{','.join(stages)}}})")
        )
        return [f"## {part.title}", "", why, ""], False
    lines = [f"## {part.title}", ""]
    for folder in folders:
        if len(folders) > 1:
            lines += [f"### {folder.relative_to(run_dir).as_posix()}", ""]
        lines += render_folder(part, folder, run_dir) + [""]
    return lines + [*(f"- {skip}" for skip in skips), ""], True


def others(run_dir: Path) -> list[str]:
    """The markdown of every stage no part reads (a stage added to the graph without one shows up here)."""
    read = {name for stages in parts().values() for name in stages}
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
    return [
        "## Stage wall times (ttc demo)",
        "",
        "| stage | seconds |",
        "|---|---|",
        *rows,
        f"| total | {total:.1f} |",
        "",
    ]


def write(run_dir: Path | str) -> Path:
    """`run_dir/report.md` from what the run holds; returns its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    body, found, gone, sections = [], [], skipped(run_dir), parts()
    for part, stages in sections.items():
        lines, present = render_part(part, stages, run_dir, gone)
        body += lines
        found.append(present)
    skipped_parts = [
        p.missing for (p, stages), ok in zip(sections.items(), found) if not ok and set(stages) <= set(gone)
    ]
    missing = [p.missing for p, ok in zip(sections, found) if not ok and p.missing not in skipped_parts]
    head = [
        f"# Report: {run_dir.name}",
        "",
        f"{sum(found)} of {len(sections)} parts found"
        + (f"; skipped by the recipe: {', '.join(skipped_parts)}" if skipped_parts else "")
        + (f"; missing: {', '.join(missing)}" if missing else "")
        + ".",
        "",
    ]
    path = run_dir / REPORT
    path.write_text("\n".join(head + headlines(run_dir) + body + others(run_dir) + timings(run_dir)).rstrip() + "\n")
    log.info("report: %s (%d of %d parts)", path, sum(found), len(sections))
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
    copy gives the same bytes: tests/ttc/pipeline/test_evidence.py). Returns the report's path."""
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
    usage = (
        "usage: ttc report RUN_DIR                (writes RUN_DIR/report.md)\n"
        "       ttc report RUN_DIR --export DEST  (copies the run's summaries, tables and figures to DEST "
        "and writes DEST/report.md from them)"
    )
    if len(argv) == 3 and argv[1] == "--export" and not argv[0].startswith("-"):
        print(export(argv[0], argv[2]))
        return
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.exit(usage)
    print(write(argv[0]))
