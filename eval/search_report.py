"""The summary of `ttc eval` (eval/search.py): accuracy by strategy line and generation budget.
`ttc eval` writes it next to its merged records; rerunning `ttc eval` on a finished run writes it again.

Writes next to the records: `summary.md` (rows: the config's lines; columns: the generation
budget, N or N(k+1) with lookahead, as the paper counts it), `summary.json` (`SearchSummary`:
each line's strategy, settings and cells) and `accuracy_vs_budget.png` (the paper's Fig. 3 left:
log2 x axis, one line per strategy line, error bars when there are several seeds). A cell is the
mean over seeds of the accuracy over all problems; the +- is the standard error over seeds (the
spread between reruns of the whole evaluation, not over problems). With one seed there is none,
and the table says so. Each cell also keeps `per_question` (problem id -> its mean over seeds),
from which `ttc report` computes paired intervals over problems (eval/paired.py); a line's
settings (its records' method, as eval/compute_optimal.py reads them) tell the report which
lines the paper compares: its part (`PART`, below) matches them against the published methods
held as data (`PAPER_LINES`, `MENU_CLAIMS`); a line of any other strategy is in the table and the
figure without a sentence.

A line that may stop short of its budget (adaptive: records with `spent`) also has, per cell, the
mean generations it spent (`Cell.spent`, the same means as its accuracy): a row "<line>:
generations spent" under it in the table, and in the figure its points sit at the generations
spent rather than at the budget.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, cast

from data.records import RecordError, read_records
from eval.paired import Comparison, Paired, paired
from eval.plots import figure, plot_curves
from eval.summary import Summary
from eval.wording import listing, num, preferred, tally
from ttc.policy import STRATEGIES
from ttc.search import SearchResult
from ttc.stages.spec import Finding, ReportPart

log = logging.getLogger(__name__)
TABLE, FIGURE, NUMBERS = "summary.md", "accuracy_vs_budget.png", "summary.json"


@dataclass(frozen=True)
class EvalResult(SearchResult):
    name: str  # the config's line: several lines may share a strategy


@dataclass(frozen=True)
class Cell:
    accuracy: float  # mean over seeds of the mean over problems
    stderr: float | None  # over seeds; None with one seed
    problems: int
    seeds: int
    per_question: dict[str, float]  # problem id -> its mean over seeds: what paired intervals need
    spent: float | None = None  # mean generations spent, as accuracy is averaged; None: = the budget


@dataclass(frozen=True)
class Line:
    """One line of the grid: its method (a strategy of ttc.policy.STRATEGIES and its settings, as
    `SearchConfig.method_of` reads them off the records) and its cells."""

    strategy: str
    settings: dict[str, Any]
    cells: dict[int, Cell]  # generation budget -> cell


@dataclass(frozen=True)
class SearchSummary(Summary):
    """summary.json: line name (the config's) -> its line, in the order the lines first appear."""

    FORMAT = "ttc.search_summary"
    lines: dict[str, Line]

    def curves(self) -> dict[str, dict[int, float]]:
        """Line name -> budget -> accuracy."""
        return {name: {b: c.accuracy for b, c in line.cells.items()} for name, line in self.lines.items()}


def method(r: EvalResult) -> tuple[str, dict[str, Any]]:
    """The record's strategy and the settings that make its method (no budget, seed or derived value)."""
    if r.strategy not in STRATEGIES:
        raise RecordError(f"{r.name}: strategy {r.strategy!r} is not one of {', '.join(STRATEGIES)}")
    return r.strategy, STRATEGIES[r.strategy].config.method_of(r.params)


def summarize(results: list[EvalResult]) -> SearchSummary:
    """The lines of `results`, in the order they first appear; a line's records must share a method."""
    # name -> budget -> seed -> problem -> correct; the same for the generations spent
    correct: dict[str, dict[int, dict[int, dict[str, float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(dict))
    )
    spent: dict[str, dict[int, dict[int, dict[str, float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(dict))
    )
    stopping: set[tuple[str, int]] = set()  # (line, budget) cells whose records carry `spent`
    methods: dict[str, tuple[str, dict[str, Any]]] = {}
    for r in results:
        m = method(r)
        if methods.setdefault(r.name, m) != m:
            raise RecordError(f"{r.name}: records of two methods, {methods[r.name]} and {m}")
        by_problem = correct[r.name][r.generations][r.seed]
        if r.problem_id in by_problem:  # e.g. a run resumed with another batch_problems
            raise RecordError(
                f"two results for problem {r.problem_id}, {r.name}, budget {r.generations}, seed {r.seed}"
            )
        by_problem[r.problem_id] = r.correct
        spent[r.name][r.generations][r.seed][r.problem_id] = r.generations if r.spent is None else r.spent
        if r.spent is not None:
            stopping.add((r.name, r.generations))
    lines = {}
    for name, by_budget in correct.items():
        cells = {}
        for budget, by_seed in sorted(by_budget.items()):
            problems = {frozenset(v) for v in by_seed.values()}
            if len(problems) != 1:
                raise RecordError(
                    f"{name} at budget {budget}: seeds cover different problems "
                    f"({sorted(len(p) for p in problems)} of them): an incomplete merge?"
                )
            means = [sum(v.values()) / len(v) for v in by_seed.values()]
            per_question = {q: sum(v[q] for v in by_seed.values()) / len(by_seed) for q in sorted(problems.pop())}
            spent_means = [sum(v.values()) / len(v) for v in spent[name][budget].values()]
            cells[budget] = Cell(
                sum(means) / len(means),
                stderr(means),
                len(per_question),
                len(means),
                per_question,
                sum(spent_means) / len(spent_means) if (name, budget) in stopping else None,
            )
        lines[name] = Line(*methods[name], cells)
    return SearchSummary(lines)


def stderr(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return math.sqrt(variance / len(values))


def markdown(summary: SearchSummary) -> str:
    budgets = sorted({b for line in summary.lines.values() for b in line.cells})
    first = next(iter(next(iter(summary.lines.values())).cells.values()))
    spread = f"+- standard error over {first.seeds} seeds" if first.seeds > 1 else "one seed: no standard error"
    lines = [
        f"Accuracy by generation budget: mean over {first.problems} problems; {spread}. "
        "'-': not run at that budget (eval/search.py says why).",
        "",
        "| strategy | " + " | ".join(map(str, budgets)) + " |",
        "|---" * (len(budgets) + 1) + "|",
    ]
    for name, line in summary.lines.items():
        lines.append(f"| {name} | " + " | ".join(_cell(line.cells.get(b)) for b in budgets) + " |")
        if any(c.spent is not None for c in line.cells.values()):
            lines.append(
                f"| {name}: generations spent | " + " | ".join(_spent(line.cells.get(b), b) for b in budgets) + " |"
            )
    return "\n".join(lines) + "\n"


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    return f"{cell.accuracy:.3f}" + ("" if cell.stderr is None else f" +- {cell.stderr:.3f}")


def _spent(cell: Cell | None, budget: int) -> str:
    return "-" if cell is None else f"{budget if cell.spent is None else cell.spent:.1f}"


def plotted(summary: SearchSummary) -> tuple[dict[str, dict[float, float]], dict[str, dict[float, float]]]:
    """The figure's curves and error bars: each cell at the generations it spent (its budget
    unless it records less)."""
    curves: dict[str, dict[float, float]] = {}
    errors: dict[str, dict[float, float]] = {}
    for name, line in summary.lines.items():
        at = {b: b if c.spent is None else c.spent for b, c in line.cells.items()}
        curves[name] = {at[b]: c.accuracy for b, c in line.cells.items()}
        errors[name] = {at[b]: c.stderr for b, c in line.cells.items() if c.stderr is not None}
    return curves, errors


def write(records: Path | str) -> str:
    """The table, its numbers and the figure, next to the records; returns the table."""
    records = Path(records)
    summary = summarize(read_records(records, EvalResult))
    if not summary.lines:
        raise RecordError(f"{records}: no results to summarize")
    out = records.parent
    text = markdown(summary)
    (out / TABLE).write_text(text)
    summary.save(out / NUMBERS)
    curves, errors = plotted(summary)
    with figure(out / FIGURE) as (_, ax):
        plot_curves(ax, curves, xlabel="generation budget (adaptive lines: generations spent)", errors=errors)
    log.info("summary: %s, %s", out / TABLE, out / FIGURE)
    return text


# --- its part of the run's report (ttc/pipeline/report.py) and its headline comparisons ---
@dataclass(frozen=True)
class Method:
    """A published method as data: a line is it when its strategy is `strategy` and each of
    `settings` is as given there (0: off, so a line without that setting is it too)."""

    strategy: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, line: Line) -> bool:
        return line.strategy == self.strategy and all(
            (line.settings.get(k) or 0) == (v or 0) for k, v in self.settings.items()
        )

    def lines(self, summary: SearchSummary) -> list[str]:
        """The names of the summary's lines that are this method, in its order."""
        return [name for name, line in summary.lines.items() if self.matches(line)]


# The lines the paper's sentences compare. Claims about named published methods are content, not
# dispatch: a strategy named in none of these still shows in the table, the figure, compute-optimal
# and `ttc solve`; it just gets no sentence from the literature.
PAPER_LINES = {
    "best-of-N weighted": Method("best_of_n", {"selection": "weighted"}),
    "beam": Method("beam", {"lookahead": 0}),  # each width; the README's headline is M = sqrt(N)
    "beam sqrt": Method("beam", {"beam_width": "sqrt", "lookahead": 0}),
    "revisions": Method("revision", {"selection": "weighted"}),  # at sequential/parallel ratios
}


def lines_paired(summary: SearchSummary, a: str, b: str, budget: int) -> Paired:
    """Line a against line b at `budget`, paired over the questions (each averaged over its seeds)."""
    cell_a, cell_b = summary.lines[a].cells[budget], summary.lines[b].cells[budget]
    return paired(cell_a.per_question, cell_b.per_question, cell_a.seeds)


def search_findings(folder: Path) -> list[Finding]:
    summary = SearchSummary.load(folder / "summary.json")
    lines = summary.lines
    weighted, beams = PAPER_LINES["best-of-N weighted"].lines(summary), PAPER_LINES["beam"].lines(summary)
    revisions = sorted((float(lines[n].settings["ratio"]), n) for n in PAPER_LINES["revisions"].lines(summary))
    figure = "accuracy_vs_budget.png"
    if weighted and beams:  # each beam line on its own: picking the best after the fact would bias the interval
        return [
            *(
                Finding(search_sentence(summary, weighted[0], beam), figure if i == 0 else None)
                for i, beam in enumerate(beams)
            ),
            *menu_findings(summary, weighted[0], beams[0]),
        ]
    if len(revisions) > 1:
        return [Finding(revision_grid_sentence(summary, revisions[-1][1], revisions[0][1]), figure)]
    return [
        Finding(
            f"Accuracy by generation budget of {listing(sorted(lines))}; no lines the paper compares "
            "(best-of-N weighted and beam search, or revisions at two ratios).",
            figure,
        )
    ]


def search_sentence(summary: SearchSummary, weighted: str, beam: str) -> str:
    """A beam line against best-of-N weighted at the low budget (4 when run) and the highest."""
    shared = sorted(set(summary.lines[weighted].cells) & set(summary.lines[beam].cells))
    if not shared:
        return f"{beam} and {weighted} ran at no common budget."
    budgets = sorted({4 if 4 in shared else shared[0], shared[-1]})
    parts = [
        f"{lines_paired(summary, beam, weighted, b).words(weighted if i == 0 else 'it')} at budget {num(b)}"
        for i, b in enumerate(budgets)
    ]
    return f"{beam} is {' and '.join(parts)} (paper: ahead at low budgets, level or behind at high budgets)."


def menu_findings(summary: SearchSummary, weighted: str, beam: str) -> list[Finding]:
    """The field's additions to the menu against the paper's strategies at equal generations: each
    line that is a method of MENU_CLAIMS, with its claim's sentence."""
    return [
        finding
        for name, line in summary.lines.items()
        for method, claim in MENU_CLAIMS
        if method.matches(line)
        for finding in claim(summary, name, weighted, beam)
    ]


def particles_claim(summary: SearchSummary, name: str, weighted: str, beam: str) -> list[Finding]:
    """Particle filtering against best-of-N weighted and beam search at each budget both ran."""
    line = summary.lines[name]
    parts = []
    for other in (weighted, beam):
        shared = sorted(set(line.cells) & set(summary.lines[other].cells))
        if shared:
            at = {b: lines_paired(summary, name, other, b) for b in shared}
            parts.append(
                f"against {other} {tally(list(at.values()))} budgets (at {num(shared[-1])}: {at[shared[-1]].brief()})"
            )
    return [
        Finding(
            f"{name} (resampling by PRM step scores, Puri et al. 2025) is {'; '.join(parts)} "
            "(reported on MATH: 4-16x better scaling than beam search)."
        )
    ]


def adaptive_claim(summary: SearchSummary, name: str, weighted: str, beam: str) -> list[Finding]:
    """An adaptive line against best-of-N weighted at its cap and at the first budget that covers
    what it spent on average (`Cell.spent`); none when it ran at no budget best-of-N did."""
    line = summary.lines[name]
    ours = summary.lines[weighted].cells
    caps = sorted(b for b in line.cells if b in ours and line.cells[b].spent is not None)
    if not caps:
        return []
    top = caps[-1]
    cell = line.cells[top]
    cover = min((b for b in ours if b >= cast(float, cell.spent)), default=None)  # caps: spent known
    same = lines_paired(summary, name, weighted, top)
    covered = (
        ""
        if cover is None or cover == top
        else f"; against {weighted} at {num(cover)}, the first budget that covers what it spent: "
        f"{paired(cell.per_question, ours[cover].per_question, cell.seeds).brief()}"
    )
    return [
        Finding(
            f"{name} (waves until the answers agree) spends {cell.spent:.1f} generations on average "
            f"at a cap of {num(top)}; against {weighted} at the cap: {same.brief()}{covered} "
            "(reported: up to 6x fewer samples at equal accuracy)."
        )
    ]


# The literature's claims about the field's additions to the menu: each such line, with its sentence.
MENU_CLAIMS: tuple[tuple[Method, Callable[[SearchSummary, str, str, str], list[Finding]]], ...] = (
    (Method("particles"), particles_claim),
    (Method("adaptive"), adaptive_claim),
)


def revision_grid_sentence(summary: SearchSummary, sequential: str, parallel: str) -> str:
    """The most sequential revision line against the most parallel one at their largest common budget."""
    shared = sorted(set(summary.lines[sequential].cells) & set(summary.lines[parallel].cells))
    if not shared:
        return f"{sequential} and {parallel} ran at no common budget."
    n = shared[-1]
    return (
        f"{sequential} is {lines_paired(summary, sequential, parallel, n).words(parallel)} at budget {num(n)} (paper: "
        "sequential revisions narrowly ahead of parallel at equal budget)."
    )


def beam_vs_weighted(path: Path, largest: bool) -> list[Comparison]:
    """Each beam line with M=sqrt(N) (no lookahead) vs best-of-N weighted, at N=4 (else their
    smallest common budget, as search_sentence) or at the largest budget both ran."""
    summary = SearchSummary.load(path)
    lines = summary.lines
    weighted, beams = PAPER_LINES["best-of-N weighted"].lines(summary), PAPER_LINES["beam sqrt"].lines(summary)
    found = []
    for beam in beams if weighted else []:
        shared = set(lines[beam].cells) & set(lines[weighted[0]].cells)
        if shared:
            n = max(shared) if largest else preferred(shared, 4, min)
            found.append(
                Comparison(
                    beam if len(beams) > 1 else "",
                    f"{beam}, N={num(n)}",
                    f"{weighted[0]}, N={num(n)}",
                    lines_paired(summary, beam, weighted[0], n),
                )
            )
    return found


def grid_sequential_vs_parallel(path: Path) -> list[Comparison]:
    """The revision grid's most sequential vs most parallel weighted line at budget 4 (else their largest common)."""
    summary = SearchSummary.load(path)
    ratios = sorted((float(summary.lines[n].settings["ratio"]), n) for n in PAPER_LINES["revisions"].lines(summary))
    if len(ratios) < 2:
        return []
    (_, parallel), (_, sequential) = ratios[0], ratios[-1]
    shared = set(summary.lines[sequential].cells) & set(summary.lines[parallel].cells)
    if not shared:
        return []
    n = preferred(shared, 4, max)
    return [
        Comparison(
            "", f"{sequential}, N={num(n)}", f"{parallel}, N={num(n)}", lines_paired(summary, sequential, parallel, n)
        )
    ]


PART = ReportPart(
    "Search against the PRM (paper Fig. 3)",
    40,
    "search eval (ttc eval)",
    "summary.json",
    ("summary.md",),
    search_findings,
)
