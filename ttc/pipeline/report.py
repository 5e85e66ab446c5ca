"""`ttc report RUN_DIR`: `RUN_DIR/report.md`, every table and figure the run has.

    ttc report runs/demo

Each part of the evaluation is read from the folders of the stages that make it (the stage
graph's run layout, ttc/pipeline/graph.py): `prm_eval.json` (eval_prm), `summary.json` (eval_search,
eval_revision_grid), `revision_eval.json` (eval_revision), `bins_oracle.json` (difficulty),
`compute_optimal.json` and `flops_matched.json` (with their revision grids' twins). A part shows the
stage's own markdown tables and its PNG figures (linked relative to RUN_DIR), each figure with one
sentence computed from the numbers: what it shows and how that compares with the paper's
finding. A part whose stages have not run is one line, `missing: <stage>`; several stages give
one subsection each. A stage of the graph that no part reads but that writes markdown is shown
under "Other stages". Stage wall times come from the runs' `DONE` markers. A malformed file is
one error naming it.

Every comparison a sentence states carries a paired 95% interval over questions
(eval/paired.py: mean +- 1.96 SE of the per-question differences, each question averaged over
its seeds first), computed from the per-question outcomes the stages keep in their numbers
files: "level" when the interval includes zero, "ahead"/"behind" only when it excludes it.
Efficiency ratios carry the bootstrap range the stage computed, "interval wide" when it spans 1.
A run written before outcomes were kept gets the means and "no interval", never a verdict.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import yaml

from data.bins import Bins
from data.records import RecordError
from eval.paired import Paired, PerQuestion, Ratio, means_only, paired
from ttc.pipeline import graph
from ttc.pipeline.run import DONE

log = logging.getLogger(__name__)
REPORT = "report.md"
T = TypeVar("T", Paired, Ratio)


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


# --- comparisons (see the module docstring) ----------------------------------------------------
def question_values(obj: Any, path: Path, what: str) -> dict[str, float] | None:
    """A JSON mapping of question ids to numbers; None where the file has none."""
    if obj is None:
        return None
    try:
        return {str(q): float(v) for q, v in obj.items()}
    except (AttributeError, TypeError, ValueError) as e:
        raise RecordError(f"{path}: field '{what}' is not a mapping of question ids to numbers ({e})") from e


def outcomes(obj: Any, path: Path, at: float, *keys: str) -> dict[str, float] | None:
    """The per-question values at budget (step, ratio) `at` of obj[k1][k2]... (JSON keys are
    strings); None where the file has none."""
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    found = next((v for k, v in obj.items() if float(k) == at), None) if isinstance(obj, dict) else None
    return question_values(found, path, f"{'.'.join(keys)}.{num(at)}")


def compared(a: PerQuestion | None, b: PerQuestion | None, mean_a: float, mean_b: float, seeds: int = 1) -> Paired:
    """a vs b paired over their questions; the means alone (no interval) without outcomes."""
    return means_only(mean_a, mean_b) if a is None or b is None else paired(a, b, seeds)


def stored(obj: Any, path: Path, cls: type[T], *keys: str) -> T | None:
    """A Paired or Ratio a stage wrote (obj[k1][k2]...), or None where the file has none."""
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    try:
        return cls(**obj)
    except TypeError as e:
        raise RecordError(f"{path}: field '{'.'.join(keys)}' is not a {cls.__name__} ({e})") from e


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
    from eval.prm import LIKELIHOOD

    path = folder / "prm_eval.json"
    numbers = load_json(path)
    curves = {name: curve(c, path, f"curves.{name}") for name, c in field(numbers, path, "curves").items()}
    weighted, majority = "best-of-N weighted (last)", "majority"
    shared = set(field(curves, path, weighted)) & set(field(curves, path, majority))
    n = 16.0 if 16.0 in shared else max(shared)  # the paper's usual comparison point

    def vs(a: str, b: str) -> Paired:
        return compared(*(outcomes(numbers, path, n, "per_question", x) for x in (a, b)), curves[a][n], curves[b][n])

    pass1 = curves.get("pass@1", {}).get(n)
    tail = f"; pass@1 {pass1:.3f}" if pass1 is not None else ""
    likely = {s: f"best-of-N {s} ({LIKELIHOOD})" for s in ("weighted", "naive")}
    baseline = (f" Against the policy's own likelihood as the verifier (untrained), it is "
                f"{vs(weighted, likely['weighted']).words('likelihood-weighted voting')}; likelihood-weighted voting "
                f"is {vs(likely['weighted'], majority).words('majority')}, and picking its most likely solution is "
                f"{vs(likely['naive'], majority).words('majority')}."
                if all(n in curves.get(c, {}) for c in likely.values()) else "")
    return [Finding(f"Best-of-N weighted with the PRM (last-step score) is {vs(weighted, majority).words('majority')} "
                    f"at N={num(n)}{tail} (paper: ahead, the gap growing with N).{baseline}{ranking(numbers, path)}",
                    "best_of_n.png")]


def ranking(numbers: dict, path: Path) -> str:
    """The last-step AUCs of the PRM (and the likelihood), and the within-question ones paired."""
    from eval.prm import LIKELIHOOD

    final, base = numbers.get("final_auc") or {}, numbers.get("baseline_final_auc") or {}
    if not {"within_question", "all_solutions"} <= set(final):
        return ""
    auc = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731 (null: no question with both outcomes)
    text = (f" Its last-step score ranks solutions with AUC {auc(final['within_question'])} within a question "
            f"({auc(final['all_solutions'])} over all solutions; 0.5 within a question is no help in picking one)")
    if not {"within_question", "all_solutions"} <= set(base):
        return text + "."
    text += (f"; the likelihood's: {auc(base['within_question'])} within a question, {auc(base['all_solutions'])} "
             "over all solutions")
    if final["within_question"] is None or base["within_question"] is None:
        return text + "."
    per = numbers.get("within_question_auc") or {}
    p = compared(*(question_values(per.get(who), path, f"within_question_auc.{who}") for who in ("PRM", LIKELIHOOD)),
                 final["within_question"], base["within_question"])
    return text + "; within a question the PRM's AUC is " + p.words("the likelihood's") + "."


def search_lines(folder: Path) -> dict[str, dict[str, Any]]:
    """Line name -> its settings, from the resolved config `ttc eval` wrote beside its results."""
    configs = sorted(folder.glob("config*.yaml"))
    if not configs:
        return {}
    try:
        return (yaml.safe_load(configs[0].read_text()) or {}).get("strategies", {}) or {}
    except yaml.YAMLError as e:
        raise RecordError(f"{configs[0]}: invalid YAML ({e})") from e


@dataclass(frozen=True)
class Summary:
    """summary.json of `ttc eval`: accuracy by line and budget, and the cells' per-question outcomes."""

    path: Path
    cells: dict[str, Any]
    table: dict[str, dict[float, float]]

    def vs(self, a: str, b: str, budget: float) -> Paired:
        cells = {name: next(c for k, c in self.cells[name].items() if float(k) == budget) for name in (a, b)}
        pq = [question_values(c.get("per_question"), self.path, f"{name}.{num(budget)}.per_question")
              for name, c in cells.items()]
        return compared(*pq, self.table[a][budget], self.table[b][budget], int(cells[a].get("seeds", 1)))


def search_findings(folder: Path) -> list[Finding]:
    path = folder / "summary.json"
    numbers = load_json(path)
    table = {name: curve({b: field(numbers, path, name, b, "accuracy") for b in cells}, path, name)
             for name, cells in numbers.items()}
    summary = Summary(path, numbers, table)
    lines = {name: settings for name, settings in search_lines(folder).items() if name in table}
    weighted = [n for n, s in lines.items() if s.get("strategy") == "best_of_n" and s.get("selection", "weighted") == "weighted"]
    beams = [n for n, s in lines.items() if s.get("strategy") == "beam" and not s.get("lookahead")]
    revisions = sorted((float(s.get("ratio", 1)), n) for n, s in lines.items()
                       if s.get("strategy") == "revision" and s.get("selection", "weighted") == "weighted")
    figure = "accuracy_vs_budget.png"
    if weighted and beams:  # each beam line on its own: picking the best after the fact would bias the interval
        return [Finding(search_sentence(summary, weighted[0], beam), figure if i == 0 else None)
                for i, beam in enumerate(beams)]
    if len(revisions) > 1:
        return [Finding(revision_grid_sentence(summary, revisions[-1][1], revisions[0][1]), figure)]
    return [Finding(f"Accuracy by generation budget of {listing(sorted(table))}; no lines the paper compares "
                    "(best-of-N weighted and beam search, or revisions at two ratios).", figure)]


def search_sentence(summary: Summary, weighted: str, beam: str) -> str:
    """A beam line against best-of-N weighted at the low budget (4 when run) and the highest."""
    shared = sorted(set(summary.table[weighted]) & set(summary.table[beam]))
    if not shared:
        return f"{beam} and {weighted} ran at no common budget."
    budgets = sorted({4.0 if 4.0 in shared else shared[0], shared[-1]})
    parts = [f"{summary.vs(beam, weighted, b).words(weighted if i == 0 else 'it')} at budget {num(b)}"
             for i, b in enumerate(budgets)]
    return f"{beam} is {' and '.join(parts)} (paper: ahead at low budgets, level or behind at high budgets)."


def revision_grid_sentence(summary: Summary, sequential: str, parallel: str) -> str:
    """The most sequential revision line against the most parallel one at their largest common budget."""
    shared = sorted(set(summary.table[sequential]) & set(summary.table[parallel]))
    if not shared:
        return f"{sequential} and {parallel} ran at no common budget."
    n = shared[-1]
    return (f"{sequential} is {summary.vs(sequential, parallel, n).words(parallel)} at budget {num(n)} (paper: "
            "sequential revisions narrowly ahead of parallel at equal budget).")


def revision_findings(folder: Path) -> list[Finding]:
    from eval.revision import ratio_label as ratio_name

    path = folder / "revision_eval.json"
    numbers = load_json(path)

    steps = curve(field(numbers, path, "pass@1 by step"), path, "pass@1 by step")
    first, last = min(steps), max(steps)
    peak = max(steps, key=steps.__getitem__)
    fourth, change = max(t for t in steps if t <= 4), ""  # the last attempt within the 4 seen in training
    if fourth != first:
        pq = (outcomes(numbers, path, t, "per_question", "pass@1 by step") for t in (fourth, first))
        change = f" Attempt {num(fourth)} is {compared(*pq, steps[fourth], steps[first]).words('attempt 1')}."
    findings = [Finding(f"pass@1 of the reviser goes from {steps[first]:.3f} at attempt 1 to {steps[last]:.3f} at "
                        f"attempt {num(last)}, peaking at {steps[peak]:.3f} at attempt {num(peak)} (paper: rises over "
                        f"the revision steps, also beyond the 4 seen in training).{change}", "revision_steps.png")]
    sp = field(numbers, path, "sequential vs parallel")
    parts = []
    for selection in ("ORM weighted", "majority"):
        names = (f"sequential, {selection}", f"parallel, {selection}")
        seq, par = (curve(field(sp, path, name), path, name) for name in names)
        n = max(set(seq) & set(par))
        pq = (outcomes(numbers, path, n, "per_question", "sequential vs parallel", name) for name in names)
        parts.append(f"{compared(*pq, seq[n], par[n]).words('parallel')} at N={num(n)} with {selection} selection")
    findings.append(Finding(f"Sequential revisions are {' and '.join(parts)} (paper: sequential narrowly ahead with "
                            "both).", "sequential_parallel.png"))
    findings.append(Finding(split_sentence(numbers, path, ratio_name), "ratio.png"))
    t = field(numbers, path, "transitions")
    rate = field(t, path, "correct->incorrect")
    findings.append(Finding(f"{'no' if rate is None else f'{rate:.0%} of the'} {field(t, path, 'correct')} correct "
                            "attempts with a next attempt turn incorrect at that revision (paper: ~38%)."))
    return findings


def split_sentence(numbers: dict, path: Path, ratio_name: Callable[[float], str]) -> str:
    """The best sequential/parallel ratio with ORM weighted selection, against the two extremes."""
    groups = field(numbers, path, "ratio", "ORM weighted")
    overall = curve(field(groups, path, "all"), path, "ratio.ORM weighted.all")
    best = max(overall, key=overall.__getitem__)
    against = []
    for end, name in ((min(overall), "most parallel"), (max(overall), "most sequential")):
        if end != best:
            pq = (outcomes(numbers, path, x, "per_question", "ratio", "ORM weighted") for x in (best, end))
            against.append(compared(*pq, overall[best], overall[end]).words(f"the {name} ({ratio_name(end)})"))
    levels = [g for g in groups if g != "all"]
    per_level = ""
    if levels:
        easy, hard = (curve(groups[g], path, g) for g in (levels[0], levels[-1]))
        per_level = (f"; the best ratio is {ratio_name(max(easy, key=easy.__getitem__))} on {levels[0]} and "
                     f"{ratio_name(max(hard, key=hard.__getitem__))} on {levels[-1]}")
    versus = f": {' and '.join(against)}" if against else " (the only ratio)"
    return (f"At budget {field(numbers, path, 'budget')} the best sequential/parallel ratio with ORM weighted "
            f"selection is {ratio_name(best)} ({overall[best]:.3f}){versus}{per_level} (paper: an intermediate ratio is "
            "best overall, fully sequential on easy questions).")


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
    from eval.compute_optimal import CO, WEIGHTED

    path = folder / "compute_optimal.json"
    kinds = load_json(path)
    overall, matched, per_bin = [], [], []
    for kind, numbers in kinds.items():
        co, bon = (curve(field(numbers, path, "overall", name), path, f"{kind}.overall.{name}")
                   for name in (CO, WEIGHTED))
        budgets = sorted(set(co) & set(bon))
        seeds = int(numbers.get("seeds", 1))

        def vs(a: float, b: float) -> Paired:
            pq = (outcomes(numbers, path, x, "per_question", name) for x, name in ((a, CO), (b, WEIGHTED)))
            return compared(*pq, co[a], bon[b], seeds)

        top = budgets[-1]
        overall.append(f"with {kind} bins it is {tally([vs(b, b) for b in budgets])} budgets, and at budget {num(top)} "
                       f"{vs(top, top).words('best-of-N weighted')}")
        quarter = [b for b in budgets if 4 * b in budgets]
        four = (f"; at a quarter of the budget, compute-optimal at {num(quarter[-1])} is "
                f"{vs(quarter[-1], 4 * quarter[-1]).words(f'best-of-N weighted at {num(4 * quarter[-1])}')}"
                if quarter else "")
        matched.append(f"with {kind} bins, {efficiency_words(numbers, path)}{four}")
        per = [f"bin {b} {p.brief()}" for b, p in bin_comparisons(numbers, path, kind, top, seeds).items()]
        per_bin.append(Finding(f"Per {kind} bin at budget {num(top)}, compute-optimal against best-of-N weighted: "
                               f"{'; '.join(per)} (paper: the best method differs by bin: beam search on harder bins "
                               "and best-of-N on easy ones; more sequential revisions on easy ones).",
                               f"compute_optimal_bins_{kind}.png"))
    return [Finding(f"Compute-optimal (method per bin and budget by 2-fold CV) against best-of-N weighted: "
                    f"{'; '.join(overall)} (paper: at or above at every budget).", "compute_optimal.png"),
            Finding(f"Matching best-of-N weighted: {'; '.join(matched)} (paper: 4x less, 16 vs 64).", "efficiency.png"),
            *per_bin]


def bin_comparisons(numbers: dict, path: Path, kind: str, budget: float, seeds: int) -> dict[str, Paired]:
    """Compute-optimal vs best-of-N weighted within each bin at `budget`, paired over its questions."""
    from eval.compute_optimal import CO, WEIGHTED

    bins = numbers.get("bins") or {}
    found = {}
    for b, curves in field(numbers, path, "per_bin").items():
        means = [curve(field(curves, path, name), path, f"{kind}.per_bin.{b}.{name}")[budget]
                 for name in (CO, WEIGHTED)]
        pq = [outcomes(numbers, path, budget, "per_question", name) for name in (CO, WEIGHTED)]
        within = [None if v is None or not bins else {q: x for q, x in v.items() if str(bins.get(q)) == b} for v in pq]
        found[b] = compared(*within, *means, seeds)
    return found


def efficiency_words(numbers: dict, path: Path) -> str:
    """The budget compute-optimal needs to match best-of-N weighted at its largest, with its range."""
    from eval.compute_optimal import headline

    eff = {int(float(b)): m for b, m in field(numbers, path, "efficiency").items()}
    top, match, times = headline(eff)
    spread = stored(numbers, path, Ratio, "efficiency_interval")
    bounds = "(no interval)" if spread is None else spread.spread()
    if match is None:
        return f"at budget {top} no budget of the grid matches it {bounds}"
    return f"at budget {top} it needs {match} ({f'{times:g}x less' if times > 1 else 'no saving'}) {bounds}"


def flops_findings(folder: Path) -> list[Finding]:
    path = folder / "flops_matched.json"
    rows = load_json(path)
    if not isinstance(rows, list) or not rows:
        raise RecordError(f"{path}: expected a non-empty list of rows")
    by_ratio: dict[float, list[dict]] = {}
    for row in rows:
        by_ratio.setdefault(float(field(row, path, "ratio")), []).append(row)
    parts = []
    for ratio, group in sorted(by_ratio.items()):
        bins = [f"bin {field(r, path, 'bin')} " + (stored(r, path, Paired, "paired") or means_only(
            float(field(r, path, "small")), float(field(r, path, "large")))).brief() for r in group]
        parts.append(f"at R={num(ratio)} (budget {field(group[0], path, 'budget')}): {', '.join(bins)}")
    return [Finding(f"With FLOPs matched, test-time compute (compute-optimal) against the larger model's greedy "
                    f"answer, by bin: {'; '.join(parts)} (paper: test-time compute ahead on easy and medium bins at R << 1, "
                    "the larger model ahead on the hardest bins and at R >> 1).", "flops_matched.png")]


def policy_findings(folder: Path) -> list[Finding]:
    from eval.policy import ratio_sentence as policy_ratio

    path = folder / "policy.json"
    summary = load_json(path)
    eff = {int(b): m for b, m in field(summary, path, "efficiency").items()}
    spread = stored(summary, path, Ratio, "efficiency_interval")
    return [Finding(policy_ratio(eff, "`ttc solve`", "best-of-N weighted", spread) + " (paper: compute-optimal needs "
                    "4x less than best-of-N, with a difficulty estimate it does not count; solve counts its probe).",
                    "policy.png")]


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


def render_part(part: Part, run_dir: Path) -> tuple[list[str], bool]:
    """The part's section, and whether its inputs were found."""
    folders = [run_dir / name for name in part.stages if (run_dir / name / part.numbers).is_file()]
    if not folders:
        return [f"## {part.title}", "", f"missing: {part.stage} (no {part.numbers} in {run_dir}/"
                f"{{{','.join(part.stages)}}})", ""], False
    lines = [f"## {part.title}", ""]
    for folder in folders:
        if len(folders) > 1:
            lines += [f"### {folder.relative_to(run_dir).as_posix()}", ""]
        lines += render_folder(part, folder, run_dir) + [""]
    return lines, True


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
    path.write_text("\n".join(head + body + others(run_dir) + timings(run_dir)).rstrip() + "\n")
    log.info("report: %s (%d of %d parts)", path, sum(found), len(PARTS))
    return path


def cli(argv: list[str]) -> None:
    """`ttc report RUN_DIR`."""
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.exit("usage: ttc report RUN_DIR   (writes RUN_DIR/report.md)")
    print(write(argv[0]))

