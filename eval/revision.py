"""Evaluate revision chains: pass@1 by revision step, sequential vs parallel, the
sequential/parallel ratio at a fixed budget, and how often a revision breaks a correct answer.

    python -m eval.revision --config configs/toy/eval_revision.yaml

One set of chains per test problem, `chains` K x `length` T attempts of the reviser, each
scored by the revision ORM with its previous attempts in context (ttc.revise.sample_chains),
gives every number: a split of C chains x L attempts is read off it as the mean over subsets of
C of the K chains, each cut to its first L attempts (ttc.revise.accuracy), which is exact because
an attempt depends only on its chain's earlier ones. Selection: hierarchical best-of-N weighted
with the ORM ("ORM weighted") and flat majority (ttc/revise/selection.py).
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
Writes `chains.jsonl` (every attempt, one record each: resumable, a rerun samples only the
problems not there yet, and rerenders the report without loading a model when all are),
`revision_eval.json` (the curves, and under `per_question` each problem's values of the
all-problems curves, for the report's paired intervals; a NaN is null), `revision_eval.md` and
three PNGs.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from data.config import parse_config, save_config
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem, RecordError, read_records, to_dict
from data.revision_format import MAX_ATTEMPTS
from data.shards import Shard, merge, run_shard
from eval.paired import curve_of, json_safe
from eval.plots import Section, figure, plot_curves
from eval.tracking import Figures, Tracking, log_figures
from ttc.backends import LMConfig, load_lm
from ttc.revise import Attempt, ChainSet, RevisionConfig, accuracy, sample_chains
from ttc.search.best_of_n import NUM_SUBSETS
from ttc.verifiers import Aggregation

log = logging.getLogger(__name__)
NAME = "chains"
SELECTIONS = {"weighted": "ORM weighted", "majority": "majority"}  # rule -> how the report names it
FIGURES = ("revision_steps.png", "sequential_parallel.png", "ratio.png")


@dataclass
class RevisionEvalConfig:
    reviser: LMConfig
    orm: str  # the revision ORM: our PRM format, trained in outcome mode on the reviser's outputs
    output_dir: str
    data: DataConfig = field(default_factory=DataConfig)
    prompt: PromptFormat = field(default_factory=PromptFormat)
    chains: int = 16  # K parallel chains per problem
    length: int = 16  # T attempts per chain
    budget: int = 16  # the fixed budget of the ratio sweep (Fig. 7; the paper: 128)
    max_attempts: int = MAX_ATTEMPTS  # previous attempts in context (paper: 4)
    temperature: float = 0.8
    top_p: float = 1.0
    max_tokens: int = 256  # per attempt
    stop: list[str] = field(default_factory=list)
    aggregation: Aggregation = "last"  # the ORM's step values -> one score
    seed: int = 0
    num_subsets: int = NUM_SUBSETS  # subsets of chains per estimate (all of them when fewer)
    batch_problems: int = 16  # problems per chain set sampled together (one LM call per step)
    orm_batch_size: int = 64
    threads: int = 1
    tracking: Tracking = field(default_factory=Tracking)

    def __post_init__(self) -> None:
        if min(self.chains, self.length, self.budget, self.batch_problems, self.num_subsets) < 1:
            raise ValueError("chains, length, budget, batch_problems and num_subsets must be >= 1")
        self.revision_config()  # validates the sampling settings
        if not splits(self.budget, self.chains, self.length):
            raise ValueError(f"budget {self.budget} has no split C x L with C <= chains={self.chains} "
                             f"and L <= length={self.length}")

    def revision_config(self) -> RevisionConfig:
        """The chain set as one revision run: N = K x T generations at ratio T / K."""
        cfg = RevisionConfig(n=self.chains * self.length, ratio=self.length / self.chains, temperature=self.temperature,
                             top_p=self.top_p, aggregation=self.aggregation, seed=self.seed, prompt=self.prompt,
                             max_tokens=self.max_tokens, stop=list(self.stop), max_attempts=self.max_attempts)
        assert cfg.split == (self.chains, self.length), cfg.split
        return cfg


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


def evaluate(chain_sets: Sequence[ChainSet], levels: dict[str, int | None], cfg: RevisionEvalConfig) -> dict:
    """Every number of the report, from one chain set per problem (`levels`: problem id -> level);
    `per_question` holds the per-problem values of the curves over all problems."""
    if not chain_sets:
        raise ValueError("no chains to evaluate")
    args = (cfg.num_subsets, cfg.seed)
    by_level: dict[int | None, list[ChainSet]] = defaultdict(list)
    for cs in chain_sets:
        by_level[levels[cs.problem_id]].append(cs)
    groups = [("all", chain_sets)] + [(f"level {level}", group) for level, group in sorted(
        by_level.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)) if level is not None]
    ratios = {name: {group: ratio_sweep(sets, cfg.budget, cfg.chains, cfg.length, how, *args) for group, sets in groups}
              for how, name in SELECTIONS.items()}
    steps = pass_at_1_per_problem(chain_sets)
    sp = sequential_vs_parallel(chain_sets, cfg.chains, cfg.length, *args)
    return {
        "problems": len(chain_sets), "chains": cfg.chains, "length": cfg.length, "budget": cfg.budget,
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
def sample(cfg: RevisionEvalConfig, problems: Sequence[Problem]) -> Path:
    """`chains.jsonl`: the chain set of every problem, sampled in batches, resumable; models are
    loaded only if some problem is not done yet."""
    out, engines = Path(cfg.output_dir), {}

    def process(batch: list[Problem]) -> list[list[dict]]:
        if not engines:
            from ttc.verifiers.hf_prm import HFPRM

            engines["lm"] = load_lm(cfg.reviser)
            engines["orm"] = HFPRM(cfg.orm, cfg.prompt, cfg.orm_batch_size, cfg.threads)
        chain_sets = sample_chains(batch, engines["lm"], engines["orm"], cfg.revision_config())
        return [[to_dict(a) for chain in cs.chains for a in chain] for cs in chain_sets]

    try:
        run_shard(out, NAME, Shard(), problems, lambda p: p.id, process, cfg.batch_problems)
    finally:
        if "lm" in engines:
            log.info("reviser: %s", engines["lm"].ledger)
            getattr(engines["lm"], "close", lambda: None)()
    return merge(out, NAME, 1)


def load_chain_sets(path: Path, problems: Sequence[Problem], chains: int, length: int) -> list[ChainSet]:
    """The chain set of each problem, in problem order; one error if a problem's chains are not
    the config's K x T (chains.jsonl of another config in the same output_dir)."""
    grouped: dict[str, dict[int, list[Attempt]]] = defaultdict(lambda: defaultdict(list))
    for a in read_records(path, Attempt):
        grouped[a.problem_id][a.chain].append(a)
    chain_sets = []
    for p in problems:
        found = grouped.get(p.id, {})
        shape = (len(found), min((len(c) for c in found.values()), default=0))
        if shape != (chains, length) or sorted(found) != list(range(chains)):
            raise RecordError(f"{path}: problem {p.id} has {shape[0]} chains of {shape[1]} attempts, the config "
                              f"asks for {chains} x {length}: use a fresh output_dir")
        chain_sets.append(ChainSet(p.id, [sorted(found[c], key=lambda a: a.index) for c in range(chains)]))
    return chain_sets


def section(cfg: RevisionEvalConfig) -> Section:
    problems = load_problems(cfg.data)
    path = sample(cfg, problems)
    chain_sets = load_chain_sets(path, problems, cfg.chains, cfg.length)
    numbers = evaluate(chain_sets, {p.id: p.level for p in problems}, cfg)
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
