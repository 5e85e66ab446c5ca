"""`ttc report RUN_DIR`: `RUN_DIR/report.md`, every table and figure the run has.

    ttc report runs/demo

Each part of the evaluation is found by the numbers file its stage writes, anywhere under
RUN_DIR (the demo's layout, a Slurm chain's or a hand-made one): `prm_eval.json` (eval/prm.py),
`summary.json` (`ttc eval`), `revision_eval.json` (eval/revision.py), `bins_oracle.json`
(eval/difficulty.py), `compute_optimal.json` and `flops_matched.json`. A part shows the stage's
own markdown tables and its PNG figures (linked relative to RUN_DIR), each figure with one
sentence computed from the numbers: what it shows and how that compares with the paper's
finding (notes/paper.md). A part whose file is absent is one line, `missing: <stage>`; a file
found in several folders gives one subsection per folder. Stage wall times are listed when the
run has the demo's `DONE` markers. A malformed file is one error naming it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from data.records import RecordError

log = logging.getLogger(__name__)
REPORT = "report.md"
LEVEL = 0.0005  # accuracies closer than this are "level"


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


def field(obj: Any, path: Path, *keys: str) -> Any:
    """obj[k1][k2]...; a missing key is an error naming the file and the dotted field."""
    for depth, key in enumerate(keys):
        if not isinstance(obj, dict) or key not in obj:
            raise RecordError(f"{path}: missing field '{'.'.join(keys[: depth + 1])}'")
        obj = obj[key]
    return obj


def curve(values: Mapping[str, Any], path: Path, what: str) -> dict[float, float]:
    """A JSON curve {"16": 0.5} as {16.0: 0.5}."""
    try:
        return {float(k): float(v) for k, v in values.items()}
    except (AttributeError, TypeError, ValueError) as e:
        raise RecordError(f"{path}: field '{what}' is not a mapping of numbers ({e})") from e


# --- words --------------------------------------------------------------------------------------
def num(x: float) -> str:
    return f"{x:g}"


def versus(a: float, b: float) -> str:
    """'ahead of' / 'behind' / 'level with': how a compares with b."""
    return "level with" if abs(a - b) < LEVEL else "ahead of" if a > b else "behind"


def gap(a: float, b: float, other: str) -> str:
    """'ahead of <other> by 0.040 (0.650 vs 0.610)', or 'level with <other> (0.650 vs 0.650)'."""
    by = "" if versus(a, b) == "level with" else f" by {abs(a - b):.3f}"
    return f"{versus(a, b)} {other}{by} ({a:.3f} vs {b:.3f})"


def listing(items: list[Any]) -> str:
    return ", ".join(map(str, items)) if items else "none"


# --- the parts ----------------------------------------------------------------------------------
def prm_findings(folder: Path) -> list[Finding]:
    from eval.prm import LIKELIHOOD

    path = folder / "prm_eval.json"
    curves = {name: curve(c, path, f"curves.{name}") for name, c in field(load_json(path), path, "curves").items()}
    weighted, majority = field(curves, path, "best-of-N weighted (last)"), field(curves, path, "majority")
    n = max(set(weighted) & set(majority))
    pass1 = curves.get("pass@1", {}).get(n)
    tail = f"; pass@1 {pass1:.3f}" if pass1 is not None else ""
    final = load_json(path).get("final_auc") or {}
    ranks = (f" Its last-step score ranks solutions with AUC {final['within_question']:.3f} within a question "
             f"({final['all_solutions']:.3f} over all solutions; 0.5 within a question is no help in picking one)."
             if {"within_question", "all_solutions"} <= set(final) else "")
    weighted_l, naive_l = (curves.get(f"best-of-N {s} ({LIKELIHOOD})", {}).get(n) for s in ("weighted", "naive"))
    baseline = (f" The policy's own likelihood as the verifier, untrained, is {gap(weighted_l, majority[n], 'majority')}"
                f" in weighted voting, and picking its most likely solution is {gap(naive_l, majority[n], 'majority')}."
                if weighted_l is not None and naive_l is not None else "")
    return [Finding(f"Best-of-N weighted with the PRM (last-step score) is "
                    f"{gap(weighted[n], majority[n], 'majority')} at N={num(n)}{tail} "
                    f"(paper: ahead, the gap growing with N).{ranks}{baseline}", "best_of_n.png")]


def search_lines(folder: Path) -> dict[str, dict[str, Any]]:
    """Line name -> its settings, from the resolved config `ttc eval` wrote beside its results."""
    configs = sorted(folder.glob("config*.yaml"))
    if not configs:
        return {}
    try:
        return (yaml.safe_load(configs[0].read_text()) or {}).get("strategies", {}) or {}
    except yaml.YAMLError as e:
        raise RecordError(f"{configs[0]}: invalid YAML ({e})") from e


def search_findings(folder: Path) -> list[Finding]:
    path = folder / "summary.json"
    numbers = load_json(path)
    table = {name: curve({b: field(numbers, path, name, b, "accuracy") for b in cells}, path, name)
             for name, cells in numbers.items()}
    lines = {name: settings for name, settings in search_lines(folder).items() if name in table}
    weighted = [n for n, s in lines.items() if s.get("strategy") == "best_of_n" and s.get("selection", "weighted") == "weighted"]
    beams = [n for n, s in lines.items() if s.get("strategy") == "beam" and not s.get("lookahead")]
    revisions = sorted((float(s.get("ratio", 1)), n) for n, s in lines.items()
                       if s.get("strategy") == "revision" and s.get("selection", "weighted") == "weighted")
    if weighted and beams:
        return [Finding(search_sentence(table, weighted[0], beams), "accuracy_vs_budget.png")]
    if len(revisions) > 1:
        return [Finding(revision_grid_sentence(table, revisions[-1][1], revisions[0][1]), "accuracy_vs_budget.png")]
    return [Finding(f"Accuracy by generation budget of {listing(sorted(table))}; no lines the paper compares "
                    "(best-of-N weighted and beam search, or revisions at two ratios).", "accuracy_vs_budget.png")]


def search_sentence(table: dict[str, dict[float, float]], weighted: str, beams: list[str]) -> str:
    """Beam search (its best line at each budget) against best-of-N weighted, lowest and highest budget."""
    bon = table[weighted]
    shared = sorted(b for b in bon if any(b in table[n] for n in beams))
    if not shared:
        return f"{weighted} and beam search ran at no common budget."

    def beam(b: float) -> float:
        return max(table[n][b] for n in beams if b in table[n])

    low, high = shared[0], shared[-1]
    return (f"Beam search (the best of {listing(beams)} at each budget) is {gap(beam(low), bon[low], weighted)} at "
            f"budget {num(low)} and {gap(beam(high), bon[high], 'it')} at budget {num(high)} (paper: ahead at low "
            "budgets, level or behind at high budgets).")


def revision_grid_sentence(table: dict[str, dict[float, float]], sequential: str, parallel: str) -> str:
    """The most sequential revision line against the most parallel one at their largest common budget."""
    shared = sorted(set(table[sequential]) & set(table[parallel]))
    if not shared:
        return f"{sequential} and {parallel} ran at no common budget."
    n = shared[-1]
    return (f"{sequential} is {gap(table[sequential][n], table[parallel][n], parallel)} at budget {num(n)} (paper: "
            "sequential revisions narrowly ahead of parallel at equal budget).")


def revision_findings(folder: Path) -> list[Finding]:
    from eval.revision import ratio_label as ratio_name

    path = folder / "revision_eval.json"
    numbers = load_json(path)
    steps = curve(field(numbers, path, "pass@1 by step"), path, "pass@1 by step")
    first, last = min(steps), max(steps)
    peak = max(steps, key=steps.__getitem__)
    findings = [Finding(f"pass@1 of the reviser goes from {steps[first]:.3f} at attempt 1 to {steps[last]:.3f} at "
                        f"attempt {num(last)}, peaking at {steps[peak]:.3f} at attempt {num(peak)} (paper: rises over "
                        "the revision steps, also beyond the 4 seen in training).", "revision_steps.png")]
    sp = field(numbers, path, "sequential vs parallel")
    parts = []
    for selection in ("ORM weighted", "majority"):
        seq = curve(field(sp, path, f"sequential, {selection}"), path, f"sequential, {selection}")
        par = curve(field(sp, path, f"parallel, {selection}"), path, f"parallel, {selection}")
        n = max(set(seq) & set(par))
        parts.append(f"{gap(seq[n], par[n], 'parallel')} at N={num(n)} with {selection} selection")
    findings.append(Finding(f"Sequential revisions are {' and '.join(parts)} (paper: sequential narrowly ahead with "
                            "both).", "sequential_parallel.png"))
    groups = field(numbers, path, "ratio", "ORM weighted")
    overall = curve(field(groups, path, "all"), path, "ratio.ORM weighted.all")
    best = max(overall, key=overall.__getitem__)
    levels = [g for g in groups if g != "all"]
    per_level = ""
    if levels:
        easy, hard = (curve(groups[g], path, g) for g in (levels[0], levels[-1]))
        per_level = (f"; the best ratio is {ratio_name(max(easy, key=easy.__getitem__))} on {levels[0]} and "
                     f"{ratio_name(max(hard, key=hard.__getitem__))} on {levels[-1]}")
    findings.append(Finding(
        f"At budget {field(numbers, path, 'budget')} the best sequential/parallel ratio with ORM weighted selection is "
        f"{ratio_name(best)} ({overall[best]:.3f}), vs {overall[min(overall)]:.3f} most parallel and "
        f"{overall[max(overall)]:.3f} most sequential{per_level} (paper: an intermediate ratio is best overall, "
        "fully sequential on easy questions).", "ratio.png"))
    t = field(numbers, path, "transitions")
    findings.append(Finding(f"{field(t, path, 'correct->incorrect'):.0%} of the {field(t, path, 'correct')} correct "
                            "attempts with a next attempt turn incorrect at that revision (paper: ~38%)."))
    return findings


def difficulty_findings(folder: Path) -> list[Finding]:
    from eval.difficulty import agreement, load_bins

    def bins(path: Path) -> dict[str, int]:
        try:
            return load_bins(path)
        except ValueError as e:  # its own message names the file
            raise RecordError(str(e)) from e

    path = folder / "bins_oracle.json"
    oracle = bins(path)
    values = field(load_json(path), path, "values")
    by_bin = {b: [values[q] for q, x in oracle.items() if x == b and q in values] for b in sorted(set(oracle.values()))}
    easy, hard = min(by_bin), max(by_bin)
    sentence = (f"Oracle bins run from a mean base pass@1 of {sum(by_bin[easy]) / len(by_bin[easy]):.3f} (bin {easy}) "
                f"to {sum(by_bin[hard]) / len(by_bin[hard]):.3f} (bin {hard})")
    predicted_path = folder / "bins_predicted.json"
    if not predicted_path.exists():
        return [Finding(sentence + "; no predicted bins (no PRM given) (paper: predicted bins close to oracle).")]
    same, near = agreement(oracle, bins(predicted_path))
    return [Finding(f"{sentence}; predicted bins (mean PRM final-step score, no ground truth) equal the oracle bin for "
                    f"{same:.0%} of questions and are within one bin for {near:.0%} (paper: close enough that "
                    "compute-optimal curves with either bins largely overlap).", "difficulty.png")]


def compute_optimal_findings(folder: Path) -> list[Finding]:
    from eval.compute_optimal import CO, WEIGHTED, headline

    path = folder / "compute_optimal.json"
    kinds = load_json(path)
    ahead, matched, per_bin = [], [], []
    for kind in kinds:
        co, bon = (curve(field(kinds, path, kind, "overall", name), path, f"{kind}.overall.{name}")
                   for name in (CO, WEIGHTED))
        budgets = sorted(set(co) & set(bon))
        top = budgets[-1]
        ahead.append(f"{sum(co[b] >= bon[b] for b in budgets)} of {len(budgets)} budgets with {kind} bins "
                     f"({co[top]:.3f} vs {bon[top]:.3f} at {num(top)})")
        eff = {int(float(b)): m for b, m in field(kinds, path, kind, "efficiency").items()}
        largest, match, ratio = headline(eff)
        matched.append(f"no budget of the grid with {kind} bins" if match is None else
                       f"budget {match} with {kind} bins ({f'{ratio:g}x less' if ratio > 1 else 'no saving'})")
        bins = field(kinds, path, kind, "per_bin")
        won = [b for b in bins if at_or_above(*(curve(field(kinds, path, kind, "per_bin", b, name), path, b)
                                                  for name in (CO, WEIGHTED)), top)]
        per_bin.append(Finding(f"Per {kind} bin at budget {num(top)}, compute-optimal is at or above best-of-N "
                               f"weighted on bins {listing(won)} of {len(bins)} (paper: the best method differs by "
                               "bin: beam search on harder bins and best-of-N on easy ones; more sequential revisions "
                               "on easy ones).",
                               f"compute_optimal_bins_{kind}.png"))
    largest = max(int(float(b)) for kind in kinds for b in field(kinds, path, kind, "efficiency"))
    return [Finding(f"Compute-optimal (method per bin and budget by 2-fold CV) is at or above best-of-N weighted at "
                    f"{' and '.join(ahead)} (paper: at or above at every budget).", "compute_optimal.png"),
            Finding(f"To match best-of-N weighted's accuracy at budget {largest}, compute-optimal needs "
                    f"{' and '.join(matched)} (paper: 4x less, 16 vs 64).", "efficiency.png"),
            *per_bin]


def at_or_above(a: Mapping[float, float], b: Mapping[float, float], at: float) -> bool:
    return at in a and at in b and a[at] >= b[at]


def flops_findings(folder: Path) -> list[Finding]:
    path = folder / "flops_matched.json"
    rows = load_json(path)
    if not isinstance(rows, list) or not rows:
        raise RecordError(f"{path}: expected a non-empty list of rows")
    by_ratio: dict[float, list[dict]] = {}
    for row in rows:
        by_ratio.setdefault(float(field(row, path, "ratio")), []).append(row)
    parts = []
    for ratio in (min(by_ratio), max(by_ratio)) if len(by_ratio) > 1 else (min(by_ratio),):
        group = by_ratio[ratio]
        wins = {w: [r["bin"] for r in group if field(r, path, "winner") == w] for w in ("test-time compute", "larger model")}
        parts.append(f"at R={num(ratio)} (budget {field(group[0], path, 'budget')}) test-time compute wins bins "
                     f"{listing(wins['test-time compute'])} and the larger model bins {listing(wins['larger model'])}")
    return [Finding(f"With FLOPs matched, {'; '.join(parts)} (paper: test-time compute ahead on easy and medium bins at "
                    "R << 1, the larger model ahead on the hardest bins and at R >> 1).", "flops_matched.png")]


def policy_findings(folder: Path) -> list[Finding]:
    from eval.policy import ratio_sentence

    path = folder / "policy.json"
    summary = load_json(path)
    eff = {int(b): m for b, m in field(summary, path, "efficiency").items()}
    return [Finding(ratio_sentence(eff, "`ttc solve`", "best-of-N weighted") + " (paper: compute-optimal needs 4x less "
                    "than best-of-N, with a difficulty estimate it does not count; solve counts its probe).",
                    "policy.png")]


PARTS = (
    Part("PRM: best-of-N weighted vs majority", "PRM eval (python -m eval.prm)", "prm_eval.json",
         ("prm_eval.md",), prm_findings),
    Part("Search against the PRM (paper Fig. 3)", "search eval (ttc eval)", "summary.json", ("summary.md",),
         search_findings),
    Part("Revisions (paper Figs. 6 and 7)", "revision eval (python -m eval.revision)", "revision_eval.json",
         ("revision_eval.md",), revision_findings),
    Part("Difficulty bins (paper Section 3.2)", "difficulty (python -m eval.difficulty)", "bins_oracle.json",
         ("difficulty.md",), difficulty_findings),
    Part("Compute-optimal scaling (paper Figs. 4 and 8)", "compute-optimal (python -m eval.compute_optimal)",
         "compute_optimal.json", ("compute_optimal.md",), compute_optimal_findings),
    Part("FLOPs-matched comparison with the larger model (paper Fig. 9)",
         "FLOPs-matched (python -m eval.flops_matched)", "flops_matched.json", ("flops_matched.md",), flops_findings),
    Part("The deployable policy: `ttc solve` vs best-of-N weighted", "policy eval (python -m eval.policy)",
         "policy.json", ("policy.md",), policy_findings),
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


def render_part(part: Part, run_dir: Path) -> tuple[list[str], bool]:
    """The part's section, and whether its inputs were found."""
    folders = sorted({p.parent for p in run_dir.rglob(part.numbers)})
    if not folders:
        return [f"## {part.title}", "", f"missing: {part.stage} (no {part.numbers} under {run_dir})", ""], False
    lines = [f"## {part.title}", ""]
    for folder in folders:
        if len(folders) > 1:
            lines += [f"### {folder.relative_to(run_dir).as_posix()}", ""]
        lines += render_folder(part, folder, run_dir) + [""]
    return lines, True


def timings(run_dir: Path) -> list[str]:
    """Stage wall times from the demo's DONE markers (ttc/demo.py), in pipeline order."""
    from ttc.demo import DONE, PIPELINE

    done = [load_json(p) | {"path": p} for p in run_dir.glob(f"*/{DONE}")]
    if not done:
        return []
    order = {stage.name: i for i, stage in enumerate(PIPELINE)}
    done.sort(key=lambda d: (order.get(d["path"].parent.name, len(order)), d.get("finished", "")))
    rows = [f"| {d['path'].parent.name} | {d.get('seconds', float('nan')):.1f} |" for d in done]
    total = sum(d.get("seconds", 0.0) for d in done)
    return ["## Stage wall times (ttc demo)", "", "| stage | seconds |", "|---|---|", *rows, f"| total | {total:.1f} |", ""]


def write(run_dir: Path | str) -> Path:
    """`run_dir/report.md` from what the run holds; returns its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    body, found = [], []
    for part in PARTS:
        lines, present = render_part(part, run_dir)
        body += lines
        found.append(present)
    head = [f"# Report: {run_dir.name}", "",
            f"{sum(found)} of {len(PARTS)} parts found"
            + (f"; missing: {', '.join(p.stage for p, ok in zip(PARTS, found) if not ok)}." if not all(found) else "."),
            ""]
    path = run_dir / REPORT
    path.write_text("\n".join(head + body + timings(run_dir)).rstrip() + "\n")
    log.info("report: %s (%d of %d parts)", path, sum(found), len(PARTS))
    return path


def cli(argv: list[str]) -> None:
    """`ttc report RUN_DIR`."""
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.exit("usage: ttc report RUN_DIR   (writes RUN_DIR/report.md)")
    print(write(argv[0]))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    cli(sys.argv[1:])
