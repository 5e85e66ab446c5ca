"""The summary of `ttc eval` (eval/search.py): accuracy by strategy line and generation budget.

    python -m eval.search_report --records runs/toy/eval/search/results.jsonl

Writes next to the records: `summary.md` (rows: the config's lines; columns: the generation
budget, N or N(k+1) with lookahead, as the paper counts it), `summary.json` (the same cells)
and `accuracy_vs_budget.png` (the paper's Fig. 3 left: log2 x axis, one line per strategy line,
error bars when there are several seeds). A cell is the mean over seeds of the accuracy over
all problems; the +- is the standard error over seeds (the spread between reruns of the whole
evaluation, not over problems). With one seed there is none, and the table says so.
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


def summarize(results: list[EvalResult]) -> dict[str, dict[int, Cell]]:
    """line name -> generation budget -> cell, lines in the order they first appear."""
    correct: dict[str, dict[int, dict[int, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    seen: set[tuple[str, str, int, int]] = set()
    for r in results:
        key = (r.problem_id, r.name, r.generations, r.seed)
        if key in seen:  # e.g. a run resumed with another batch_problems
            raise RecordError(f"two results for problem {key[0]}, {key[1]}, budget {key[2]}, seed {key[3]}")
        seen.add(key)
        correct[r.name][r.generations][r.seed].append(r.correct)
    table: dict[str, dict[int, Cell]] = {}
    for name, by_budget in correct.items():
        table[name] = {}
        for budget, by_seed in sorted(by_budget.items()):
            counts = {len(v) for v in by_seed.values()}
            if len(counts) != 1:
                raise RecordError(f"{name} at budget {budget}: seeds cover different numbers of problems "
                                  f"({sorted(counts)}): an incomplete merge?")
            means = [sum(v) / len(v) for v in by_seed.values()]
            table[name][budget] = Cell(sum(means) / len(means), stderr(means), counts.pop(), len(means))
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
