"""The summary of `ttc eval` (eval/search.py): accuracy by strategy line and generation budget.

    python -m eval.search_report --records runs/toy/eval/search/results.jsonl

Writes next to the records: `summary.md` (rows: the config's lines; columns: the generation
budget, N or N(k+1) with lookahead, as the paper counts it), `summary.json` (the same cells)
and `accuracy_vs_budget.png` (the paper's Fig. 3 left: log2 x axis, one line per strategy line,
error bars when there are several seeds). A cell is the mean over seeds of the accuracy over
all problems; the +- is the standard error over seeds (the spread between reruns of the whole
evaluation, not over problems). With one seed there is none, and the table says so. Each cell of
`summary.json` also keeps `per_question` (problem id -> its mean over seeds), from which
`ttc report` computes paired intervals over problems (eval/paired.py).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from data.config import parse_config
from data.records import RecordError, read_records
from eval.plots import figure, plot_curves
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


def summarize(results: list[EvalResult]) -> dict[str, dict[int, Cell]]:
    """line name -> generation budget -> cell, lines in the order they first appear."""
    # name -> budget -> seed -> problem -> correct
    correct: dict[str, dict[int, dict[int, dict[str, float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for r in results:
        by_problem = correct[r.name][r.generations][r.seed]
        if r.problem_id in by_problem:  # e.g. a run resumed with another batch_problems
            raise RecordError(f"two results for problem {r.problem_id}, {r.name}, budget {r.generations}, "
                              f"seed {r.seed}")
        by_problem[r.problem_id] = r.correct
    table: dict[str, dict[int, Cell]] = {}
    for name, by_budget in correct.items():
        table[name] = {}
        for budget, by_seed in sorted(by_budget.items()):
            problems = {frozenset(v) for v in by_seed.values()}
            if len(problems) != 1:
                raise RecordError(f"{name} at budget {budget}: seeds cover different problems "
                                  f"({sorted(len(p) for p in problems)} of them): an incomplete merge?")
            means = [sum(v.values()) / len(v) for v in by_seed.values()]
            per_question = {q: sum(v[q] for v in by_seed.values()) / len(by_seed) for q in sorted(problems.pop())}
            table[name][budget] = Cell(sum(means) / len(means), stderr(means), len(per_question), len(means),
                                       per_question)
    return table


def stderr(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return math.sqrt(variance / len(values))


def markdown(table: dict[str, dict[int, Cell]]) -> str:
    budgets = sorted({b for cells in table.values() for b in cells})
    first = next(iter(next(iter(table.values())).values()))
    spread = (f"+- standard error over {first.seeds} seeds" if first.seeds > 1
              else "one seed: no standard error")
    lines = [f"Accuracy by generation budget: mean over {first.problems} problems; {spread}. "
             "'-': not run at that budget (eval/search.py says why).", "",
             "| strategy | " + " | ".join(map(str, budgets)) + " |", "|---" * (len(budgets) + 1) + "|"]
    for name, cells in table.items():
        lines.append(f"| {name} | " + " | ".join(_cell(cells.get(b)) for b in budgets) + " |")
    return "\n".join(lines) + "\n"


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    return f"{cell.accuracy:.3f}" + ("" if cell.stderr is None else f" +- {cell.stderr:.3f}")


def write(records: Path | str) -> str:
    """The table, its numbers and the figure, next to the records; returns the table."""
    records = Path(records)
    table = summarize(read_records(records, EvalResult))
    if not table:
        raise RecordError(f"{records}: no results to summarize")
    out = records.parent
    text = markdown(table)
    (out / TABLE).write_text(text)
    numbers = {name: {str(b): asdict(c) for b, c in cells.items()} for name, cells in table.items()}
    (out / NUMBERS).write_text(json.dumps(numbers, indent=2) + "\n")
    errors = {name: {b: c.stderr for b, c in cells.items() if c.stderr is not None} for name, cells in table.items()}
    with figure(out / FIGURE) as (_, ax):
        plot_curves(ax, {name: {b: c.accuracy for b, c in cells.items()} for name, cells in table.items()},
                    xlabel="generation budget", errors=errors)
    log.info("summary: %s, %s", out / TABLE, out / FIGURE)
    return text


@dataclass
class ReportConfig:
    records: str  # results.jsonl of `ttc eval`, merged


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    print(write(parse_config(ReportConfig, sys.argv[1:]).records))
