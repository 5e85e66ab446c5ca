"""Evaluate revision chains: pass@1 by revision step, sequential vs parallel, the
sequential/parallel ratio at a fixed budget, and how often a revision breaks a correct answer.

    ttc chains --config configs/toy/chains_eval.yaml             # the reviser's chains first
    python -m eval.revision --config configs/toy/eval_revision.yaml

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
`revision_eval.json` (the curves, and under `per_question` each problem's values of the
all-problems curves, for the report's paired intervals; a NaN is null), `revision_eval.md` and
three PNGs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import typing
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from data.config import parse_config, save_config
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem, RecordError
from data.revision_format import MAX_ATTEMPTS
from data.shards import Shard, merge, run_shard
from eval.paired import curve_of, json_safe
from eval.plots import Section, figure, plot_curves
from eval.tracking import Figures, Tracking, log_figures
from ttc.revise import ChainSet, accuracy, chain_records, read_chain_sets, score_chains
from ttc.search.best_of_n import NUM_SUBSETS
from ttc.verifiers import Aggregation
from ttc.verifiers.spec import VerifierConfig, load_verifier

log = logging.getLogger(__name__)
SCORED = "scored_chains"
SELECTIONS = {"weighted": "ORM weighted", "majority": "majority"}  # rule -> how the report names it
FIGURES = ("revision_steps.png", "sequential_parallel.png", "ratio.png")


@dataclass
class RevisionEvalConfig:
    output_dir: str
    chains: str  # chains.jsonl of `ttc chains` on these problems: K chains x T attempts each
    orm: VerifierConfig  # the revision ORM: our PRM format, trained in outcome mode on the reviser's outputs
    data: DataConfig = field(default_factory=DataConfig)  # the problems the chains were sampled on
    prompt: PromptFormat = field(default_factory=PromptFormat)  # the reviser's: the ORM reads what it was trained on
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


def pass_at_1_per_problem(chain_sets: Sequence[ChainSet]) -> dict[int, PerProblem]:
    """Step t (from 1) -> each problem's fraction of correct t-th attempts over its chains (every
    problem has the same K chains: the mean over problems is the fraction over all attempts)."""
    by_step: dict[int, PerProblem] = defaultdict(dict)
    for cs in chain_sets:
        for t in range(max(map(len, cs.chains), default=0)):
            by_step[t + 1][cs.problem_id] = float(np.mean([c[t].correct for c in cs.chains if len(c) > t]))
    return dict(sorted(by_step.items()))


def transitions(chain_sets: Sequence[ChainSet]) -> dict[str, float | int]:
    """How revisions change correctness: of the correct (incorrect) attempts with a next one, the
    fraction whose next one is incorrect (correct); NaN when there is no such attempt."""
    counts = defaultdict(int)
    for cs in chain_sets:
        for chain in cs.chains:
            for before, after in zip(chain, chain[1:]):
                counts[before.correct, after.correct] += 1
    right, wrong = counts[True, True] + counts[True, False], counts[False, False] + counts[False, True]
    return {"correct->incorrect": counts[True, False] / right if right else float("nan"), "correct": right,
            "incorrect->correct": counts[False, True] / wrong if wrong else float("nan"), "incorrect": wrong}


def per_problem_accuracy(chain_sets: Sequence[ChainSet], chains: int, length: int, how: str, num_subsets: int,
                         seed: int) -> PerProblem:
    return {cs.problem_id: accuracy(cs, chains, length, how, num_subsets, seed) for cs in chain_sets}


def sequential_vs_parallel(chain_sets: Sequence[ChainSet], chains: int, length: int, num_subsets: int,
                           seed: int) -> dict[str, dict[int, PerProblem]]:
    """'sequential, <selection>' and 'parallel, <selection>' -> {budget: per-problem accuracy}."""
    curves = {}
    for how, name in SELECTIONS.items():
        for kind, most in (("sequential", length), ("parallel", chains)):
            shape = (lambda n: (1, n)) if kind == "sequential" else (lambda n: (n, 1))
            curves[f"{kind}, {name}"] = {n: per_problem_accuracy(chain_sets, *shape(n), how, num_subsets, seed)
                                         for n in powers_of_2(most)}
    return curves


def ratio_sweep(chain_sets: Sequence[ChainSet], budget: int, chains: int, length: int, how: str,
                num_subsets: int, seed: int) -> dict[float, PerProblem]:
    """Sequential/parallel ratio L / C -> per-problem accuracy at the fixed budget."""
    return {length_ / c: per_problem_accuracy(chain_sets, c, length_, how, num_subsets, seed)
            for c, length_ in splits(budget, chains, length)}


def powers_of_2(most: int) -> list[int]:
    return [2**i for i in range(most.bit_length())]


def shape(chain_sets: Sequence[ChainSet], budget: int) -> tuple[int, int]:
    """(K chains, T attempts) of every chain set (read_chain_sets checks they are alike), which
    must hold a split of the budget."""
    if not chain_sets:
        raise ValueError("no chains to evaluate")
    chains, length = len(chain_sets[0].chains), chain_sets[0].length
    if not splits(budget, chains, length):
        raise ValueError(f"budget {budget} has no split C x L with C <= {chains} chains and L <= {length} "
                         f"attempts")
    return chains, length


def evaluate(chain_sets: Sequence[ChainSet], levels: dict[str, int | None], cfg: RevisionEvalConfig) -> dict:
    """Every number of the report, from one chain set per problem (`levels`: problem id -> level);
    `per_question` holds the per-problem values of the curves over all problems."""
    chains, length = shape(chain_sets, cfg.budget)
    args = (cfg.num_subsets, cfg.seed)
    by_level: dict[int | None, list[ChainSet]] = defaultdict(list)
    for cs in chain_sets:
        by_level[levels[cs.problem_id]].append(cs)
    groups = [("all", chain_sets)] + [(f"level {level}", group) for level, group in sorted(
        by_level.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)) if level is not None]
    ratios = {name: {group: ratio_sweep(sets, cfg.budget, chains, length, how, *args) for group, sets in groups}
              for how, name in SELECTIONS.items()}
    steps = pass_at_1_per_problem(chain_sets)
    sp = sequential_vs_parallel(chain_sets, chains, length, *args)
    return {
        "problems": len(chain_sets), "chains": chains, "length": length, "budget": cfg.budget,
        "pass@1 by step": curve_of(steps),
        "sequential vs parallel": {name: curve_of(c) for name, c in sp.items()},
        "ratio": {name: {group: curve_of(c) for group, c in per.items()} for name, per in ratios.items()},
        "transitions": transitions(chain_sets),
        "per_question": {"pass@1 by step": steps, "sequential vs parallel": sp,
                         "ratio": {name: per["all"] for name, per in ratios.items()}},
    }


# --- the report -------------------------------------------------------------------------------
def ratio_label(ratio: float) -> str:
    return str(Fraction(ratio).limit_denominator(1 << 20))


def table(curves: dict[str, dict], first: str, column=str) -> list[str]:
    xs = sorted({x for c in curves.values() for x in c})
    rows = [f"| {first} | " + " | ".join(column(x) for x in xs) + " |", "|---" * (len(xs) + 1) + "|"]
    rows += [f"| {name} | " + " | ".join(f"{c[x]:.3f}" if x in c else "" for x in xs) + " |" for name, c in curves.items()]
    return rows


def markdown(numbers: dict) -> str:
    t = numbers["transitions"]
    steps = numbers["pass@1 by step"]
    ratio_rows = {f"{name}, {group}": curve for name, groups in numbers["ratio"].items() for group, curve in groups.items()}
    lines = [
        f"# Revisions: {numbers['problems']} problems, {numbers['chains']} chains x {numbers['length']} attempts each",
        "", "## pass@1 by revision step (paper Fig. 6 left; training saw at most 4 previous attempts)", "",
        *table({"pass@1": steps}, "step"),
        "", "## Sequential vs parallel at equal budget (Fig. 6 right)", "",
        *table(numbers["sequential vs parallel"], "method", lambda n: f"N={n}"),
        "", f"## Sequential/parallel ratio (chain length / chains) at budget {numbers['budget']} (Fig. 7)", "",
        *table(ratio_rows, "selection, problems", ratio_label),
        "", "## Revisions that change correctness", "",
        f"- correct -> incorrect: {t['correct->incorrect']:.1%} of {t['correct']} correct attempts with a next "
        f"attempt (paper: ~38%)",
        f"- incorrect -> correct: {t['incorrect->correct']:.1%} of {t['incorrect']} incorrect attempts with a next attempt",
    ]
    return "\n".join(lines) + "\n"


def tracked_figures(numbers: dict) -> Figures:
    """For the tracker: pass@1 against the revision step, sequential and parallel against N, and
    how often a revision breaks a correct answer."""
    return {"revision/pass@1": numbers["pass@1 by step"],
            **{f"revision/{name}/accuracy": c for name, c in numbers["sequential vs parallel"].items()},
            "revision/correct->incorrect": numbers["transitions"]["correct->incorrect"]}


def plot(numbers: dict, out: Path) -> list[Path]:
    paths = [out / name for name in FIGURES]
    with figure(paths[0]) as (_, ax):
        plot_curves(ax, {"pass@1": numbers["pass@1 by step"]}, "revision step", "pass@1",
                    title="pass@1 by revision step")
        ax.set_xscale("linear")
    with figure(paths[1]) as (_, ax):
        styles = {name: {"linestyle": "--" if "majority" in name else "-"} for name in numbers["sequential vs parallel"]}
        plot_curves(ax, numbers["sequential vs parallel"], styles=styles, title="sequential vs parallel")
    ratio = numbers["ratio"]
    with figure(paths[2], ncols=1 + len(ratio), size=(6 * (1 + len(ratio)), 4)) as (_, grid):
        axes = grid[0]  # one row of panels
        overall = {name: groups["all"] for name, groups in ratio.items()}
        plot_curves(axes[0], overall, "sequential/parallel ratio", title=f"all problems, budget {numbers['budget']}")
        for ax, (name, groups) in zip(axes[1:], ratio.items()):
            per_level = {group: curve for group, curve in groups.items() if group != "all"}
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
    scored = read_chain_sets(merge(out, SCORED, 1), problems)
    unscored = [ChainSet(cs.problem_id, [[dataclasses.replace(a, score=None) for a in chain]
                                         for chain in cs.chains]) for cs in scored]
    if unscored != list(chain_sets):
        raise RecordError(f"{out / SCORED}.jsonl scores other chains than {cfg.chains}: use a fresh output_dir")
    return scored


def section(cfg: RevisionEvalConfig) -> Section:
    problems = load_problems(cfg.data)
    chain_sets = read_chain_sets(cfg.chains, problems)
    shape(chain_sets, cfg.budget)  # before the ORM runs
    numbers = evaluate(score(cfg, problems, chain_sets), {p.id: p.level for p in problems}, cfg)
    out = Path(cfg.output_dir)
    (out / "revision_eval.json").write_text(json.dumps(json_safe(numbers), indent=2, allow_nan=False) + "\n")
    text = markdown(numbers)
    (out / "revision_eval.md").write_text(text)
    log_figures(cfg.tracking, out, "revision", tracked_figures(numbers))
    return Section(text, plot(numbers, out))


def main(cfg: RevisionEvalConfig) -> str:
    save_config(cfg, Path(cfg.output_dir) / "config.yaml")
    return section(cfg).markdown


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    print(main(parse_config(RevisionEvalConfig, sys.argv[1:])))
