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
lines the paper compares.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.records import RecordError, read_records
from eval.plots import figure, plot_curves
from eval.summary import Summary
from ttc.policy import STRATEGIES
from ttc.search import SearchResult

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
    # name -> budget -> seed -> problem -> correct
    correct: dict[str, dict[int, dict[int, dict[str, float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    methods: dict[str, tuple[str, dict[str, Any]]] = {}
    for r in results:
        m = method(r)
        if methods.setdefault(r.name, m) != m:
            raise RecordError(f"{r.name}: records of two methods, {methods[r.name]} and {m}")
        by_problem = correct[r.name][r.generations][r.seed]
        if r.problem_id in by_problem:  # e.g. a run resumed with another batch_problems
            raise RecordError(f"two results for problem {r.problem_id}, {r.name}, budget {r.generations}, "
                              f"seed {r.seed}")
        by_problem[r.problem_id] = r.correct
    lines = {}
    for name, by_budget in correct.items():
        cells = {}
        for budget, by_seed in sorted(by_budget.items()):
            problems = {frozenset(v) for v in by_seed.values()}
            if len(problems) != 1:
                raise RecordError(f"{name} at budget {budget}: seeds cover different problems "
                                  f"({sorted(len(p) for p in problems)} of them): an incomplete merge?")
            means = [sum(v.values()) / len(v) for v in by_seed.values()]
            per_question = {q: sum(v[q] for v in by_seed.values()) / len(by_seed) for q in sorted(problems.pop())}
            cells[budget] = Cell(sum(means) / len(means), stderr(means), len(per_question), len(means), per_question)
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
    spread = (f"+- standard error over {first.seeds} seeds" if first.seeds > 1
              else "one seed: no standard error")
    lines = [f"Accuracy by generation budget: mean over {first.problems} problems; {spread}. "
             "'-': not run at that budget (eval/search.py says why).", "",
             "| strategy | " + " | ".join(map(str, budgets)) + " |", "|---" * (len(budgets) + 1) + "|"]
    for name, line in summary.lines.items():
        lines.append(f"| {name} | " + " | ".join(_cell(line.cells.get(b)) for b in budgets) + " |")
    return "\n".join(lines) + "\n"


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    return f"{cell.accuracy:.3f}" + ("" if cell.stderr is None else f" +- {cell.stderr:.3f}")


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
    errors = {name: {b: c.stderr for b, c in line.cells.items() if c.stderr is not None}
              for name, line in summary.lines.items()}
    with figure(out / FIGURE) as (_, ax):
        plot_curves(ax, summary.curves(), xlabel="generation budget", errors=errors)
    log.info("summary: %s, %s", out / TABLE, out / FIGURE)
    return text
