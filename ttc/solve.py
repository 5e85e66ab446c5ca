"""`ttc solve`: the deployable compute-optimal policy. New questions and a budget of N
generations in; one answer per question out, with N counted honestly.

    ttc solve --config configs/toy/solve.yaml --budget 16
    ttc solve --config configs/toy/solve.yaml --budget 64 --data.split heldout --probe.n 4

The paper's predicted difficulty costs thousands of uncounted samples per question. Here the
difficulty is estimated from the first few samples, and they are part of the budget:
1. Probe: draw `probe.n` samples of each question (best-of-N's sampling, seeded by (seed,
   problem id)) and score them with the PRM (one LM call and one PRM call for all questions).
2. Bin: the mean final-step ("last") score of the probe, against the score thresholds of the
   predicted bins the policy was fit on (`thresholds`). eval/difficulty cuts predicted bins from
   the mean over many samples per question; the probe's mean estimates the same quantity from
   fewer, so the same cut points apply (the probe is noisier, not biased).
3. Method: the policy's entry (eval/compute_optimal.py's `policy_predicted.json`) for that bin
   at the largest budget of its grid not above the remaining budget R = N - probe.n.
4. Spend R with that method, at the largest n whose generations fit in R (`fit_config`: best-of-N
   takes any n; beam search needs its width to divide n; lookahead k costs n(k+1)), so a method
   chosen at grid budget 8 runs at 14 when 14 remain. Best-of-N reuses the probe: its pool is the
   probe plus R new samples, i.e. exactly the best-of-N of N samples. Generations that no valid
   n can use are recorded as `unspent` (probe + spent + unspent == N exactly).
Rules at the edges: N < probe.n is an error (the probe alone is over budget). When R is below
the policy's smallest grid budget (R = 0 included), the answer is best-of-N weighted over the
probe plus R new samples (`FALLBACK`).

Batched: questions are grouped by (strategy, settings) after binning, and each group is ONE
strategy run. The revision strategy runs on `reviser` and `orm` (loaded only when a group needs
them); every other strategy on `lm` and `prm`.

Thresholds (`thresholds`): eval/difficulty's bins JSON holds each question's value (mean PRM
score) and bin but no cut points; bins are equal-count by rank, 1 = highest score. The edge
between bins b and b+1 is the midpoint of the lowest value in b and the highest in b+1; a
score at or above the edge goes to the easier bin b.

Writes `<output_dir>/solve_N<budget>.jsonl`: one `SolveResult` per question, whose ledger
(generations, tokens, FLOPs) includes the probe.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from data.config import ConfigError, build_dataclass, save_config
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem, Sample, to_json, write_atomic
from data.shards import derive_seed
from ttc.backends import LMConfig, load_lm
from ttc.lm import LM
from ttc.revise import STRATEGIES as REVISE_STRATEGIES
from ttc.search import STRATEGIES as SEARCH_STRATEGIES
from ttc.search import BestOfNConfig, Pool, SearchConfig, SearchResult, sample_pools, select
from ttc.search.common import Costs
from ttc.verifiers import Verifier, aggregate
from ttc.verifiers.load import PRMConfig, load_prm

log = logging.getLogger(__name__)
STRATEGIES = {**SEARCH_STRATEGIES, **REVISE_STRATEGIES}
REVISION = "revision"  # runs on the reviser and the ORM
DERIVED_PARAMS = ("width", "pool", "chains", "length")  # recorded by strategies, not config fields
FALLBACK = "best_of_n(probe fallback)"


# --- the policy ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """What the policy runs in one bin at one grid budget."""

    method: str
    strategy: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Policy:
    table: dict[int, dict[int, Entry]]  # bin -> grid budget (generations) -> entry
    edges: list[float]  # edges[b-1]: lowest mean score of bin b (descending); len = bins - 1
    source: str  # the policy file, for errors

    def bin_of(self, score: float) -> int:
        """1 = easiest: the number of edges the score falls below, plus one."""
        return 1 + sum(score < e for e in self.edges)

    def entry(self, bin_: int, remaining: int) -> Entry | None:
        """The bin's entry at the largest grid budget <= remaining; None below its grid."""
        fitting = [b for b in self.table[bin_] if b <= remaining]
        return self.table[bin_][max(fitting)] if fitting else None


def thresholds(bins: Mapping[str, int], values: Mapping[str, float], where: str = "bins") -> list[float]:
    """Score edges between consecutive bins (module docstring): edge b = midpoint of bin b's
    lowest value and bin b+1's highest. Bins must be 1..K, each non-empty, higher bins lower."""
    missing = [q for q in bins if q not in values]
    if missing:
        raise ConfigError(f"{where}: no value for question {missing[0]}")
    num_bins = max(bins.values())
    by_bin = {b: [values[q] for q, x in bins.items() if x == b] for b in range(1, num_bins + 1)}
    empty = [b for b, v in by_bin.items() if not v]
    if empty:
        raise ConfigError(f"{where}: bin {empty[0]} has no question")
    edges = []
    for b in range(1, num_bins):
        low, high = min(by_bin[b]), max(by_bin[b + 1])
        if high > low:
            raise ConfigError(f"{where}: bin {b + 1} has a value {high} above bin {b}'s lowest {low}; "
                             "predicted bins are cut by rank, 1 = highest score")
        edges.append((low + high) / 2)
    return edges


def _read_json(path: str, what: str) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the {what} ({e})") from e
    if not isinstance(record, dict):
        raise ConfigError(f"{path}: the {what} is a JSON object")
    return record


def _entry(raw: Any, where: str) -> Entry:
    if not isinstance(raw, dict) or not isinstance(raw.get("params"), dict):
        raise ConfigError(f"{where}: expected an object with 'method', 'strategy' and 'params'")
    if raw.get("strategy") not in STRATEGIES:
        raise ConfigError(f"{where}.strategy: {raw.get('strategy')!r} is not one of {', '.join(STRATEGIES)}")
    return Entry(str(raw.get("method", raw["strategy"])), raw["strategy"], raw["params"])


def load_policy(policy_path: str, bins_path: str) -> Policy:
    """The policy of eval/compute_optimal.py fit on predicted bins, with the score thresholds of
    those bins (eval/difficulty.py's bins_predicted.json)."""
    policy, bins = _read_json(policy_path, "policy"), _read_json(bins_path, "bins")
    if policy.get("bins") != "predicted" or bins.get("kind") != "predicted":
        raise ConfigError(f"{policy_path} (bins: {policy.get('bins')!r}) and {bins_path} (kind: {bins.get('kind')!r}): "
                         "solve needs a policy fit on predicted bins and those bins; oracle bins need the answer")
    if policy.get("budget_field", "generations") != "generations":
        raise ConfigError(f"{policy_path}: budget_field: solve counts generations, got {policy['budget_field']!r}")
    if not isinstance(policy.get("policy"), dict) or not isinstance(bins.get("bins"), dict) \
            or not isinstance(bins.get("values"), dict):
        raise ConfigError(f"{policy_path} / {bins_path}: expected 'policy' and 'bins'/'values' mappings")
    table: dict[int, dict[int, Entry]] = {}
    for b, per_budget in policy["policy"].items():
        if not str(b).isdigit() or not isinstance(per_budget, dict) or not per_budget:
            raise ConfigError(f"{policy_path}: policy.{b}: expected a bin number mapping budgets to entries")
        try:
            table[int(b)] = {int(n): _entry(e, f"{policy_path}: policy.{b}.{n}") for n, e in per_budget.items()}
        except ValueError as e:
            raise ConfigError(str(e) if str(e).startswith(policy_path) else f"{policy_path}: policy.{b}: {e}") from e
    edges = thresholds(bins["bins"], bins["values"], bins_path)
    if sorted(table) != list(range(1, len(edges) + 2)):
        raise ConfigError(f"{policy_path}: bins {sorted(table)} but {bins_path} has {len(edges) + 1}")
    return Policy(table, edges, policy_path)


def fit_config(entry: Entry, remaining: int, seed: int, prompt: PromptFormat, where: str) -> SearchConfig:
    """The entry's config at the largest n whose generations fit in `remaining` (>= 1)."""
    cls = STRATEGIES[entry.strategy].config
    settings = {k: v for k, v in entry.params.items() if k not in ("n", "seed", *DERIVED_PARAMS)}
    if entry.strategy == REVISION:
        settings["also_select"] = []  # one result per question
    errors = []
    for n in range(remaining, 0, -1):
        try:
            cfg = build_dataclass(cls, {**settings, "n": n}, where, {})
        except ValueError as e:
            errors.append(str(e))
            continue
        if cfg.generations <= remaining:
            return dataclasses.replace(cfg, seed=seed, prompt=prompt)
    raise ValueError(f"{where}: {entry.method} runs at no n with at most {remaining} generations "
                     f"({errors[-1] if errors else 'its generations exceed the budget'})")


# --- the record ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SolveResult:
    problem_id: str
    budget: int  # N: generations allowed, the probe's included
    seed: int
    probe: int  # probe samples (counted in the budget)
    probe_score: float  # their mean final-step PRM score
    bin: int  # estimated difficulty, 1 = easiest
    method: str  # the policy's label, or FALLBACK
    strategy: str
    params: dict[str, Any]  # of the run that spent the rest
    answer: str | None
    correct: float | None  # None when the question has no gold answer
    solution: str | None
    candidates: int
    generations: int  # spent: probe + rest
    unspent: int  # budget - generations
    prompt_tokens: int
    generated_tokens: int
    prm_tokens: int | None
    flops_policy: int
    flops_prm: int | None


# --- the three steps ----------------------------------------------------------------------------
@dataclass
class ProbeConfig:
    """The first samples of every question; their settings should be those of the policy's
    best-of-N runs, whose pools they join."""

    n: int = 2
    temperature: float = 0.8
    top_p: float = 1.0
    max_tokens: int = 1024
    stop: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"probe.n must be >= 1, got {self.n}")

    def sampling(self, n: int, seed: int, prompt: PromptFormat) -> BestOfNConfig:
        return BestOfNConfig(n=n, temperature=self.temperature, top_p=self.top_p, seed=seed, prompt=prompt,
                             max_tokens=self.max_tokens, stop=list(self.stop))


def draw_probes(problems: Sequence[Problem], lm: LM, prm: Verifier, probe: ProbeConfig, seed: int,
                prompt: PromptFormat) -> list[Pool]:
    """probe.n scored samples of every question, in one LM and one PRM call."""
    return sample_pools(problems, lm, prm, probe.sampling(probe.n, seed, prompt))


def probe_score(pool: Pool) -> float:
    """Predicted difficulty from the probe: the mean final-step score (eval/difficulty's value)."""
    return float(np.mean([aggregate(v, "last") for v in pool.values]))


@dataclass(frozen=True)
class Plan:
    """One question's decision: its bin and what spends the rest of its budget."""

    bin: int
    method: str
    strategy: str
    config: SearchConfig

    def key(self) -> str:
        """Questions with equal keys run together, in one strategy call."""
        return json.dumps({"strategy": self.strategy, **self.config.params()}, sort_keys=True, default=str)


def plan(pool: Pool, policy: Policy, budget: int, probe: ProbeConfig, seed: int, prompt: PromptFormat) -> Plan:
    """Bin the probe, look the method up, fit it to the remaining budget."""
    remaining = budget - len(pool.samples)
    if remaining < 0:
        raise ValueError(f"budget {budget} is below the probe's {len(pool.samples)} samples: "
                         "give a budget >= probe.n")
    bin_ = policy.bin_of(probe_score(pool))
    entry = policy.entry(bin_, remaining) if remaining else None
    if entry is None:  # n is not used: a best-of-N plan draws budget - probe new samples
        return Plan(bin_, FALLBACK, "best_of_n", probe.sampling(max(remaining, 1), seed, prompt))
    where = f"{policy.source}: policy.{bin_} at budget {remaining}"
    return Plan(bin_, entry.method, entry.strategy, fit_config(entry, remaining, seed, prompt, where))


def pooled_best_of_n(probe: Pool, rest: Pool | None, cfg: BestOfNConfig) -> tuple[Sample | None, int, Costs]:
    """Best-of-N over the probe and the new samples: the chosen sample, the pool size, the costs."""
    samples = list(probe.samples) + ([] if rest is None else list(rest.samples))
    values = list(probe.values) + ([] if rest is None else list(rest.values))
    chosen = select([s.answer for s in samples], [aggregate(v, cfg.aggregation) for v in values], cfg.selection)
    costs = add_costs(probe.costs, None if rest is None else rest.costs)
    return (None if chosen is None else samples[chosen]), len(samples), costs


def add_costs(a: Costs, b: Costs | None) -> Costs:
    if b is None:
        return a
    prm = None if a.prm_tokens is None or b.prm_tokens is None else a.prm_tokens + b.prm_tokens
    return Costs(a.prompt_tokens + b.prompt_tokens, a.generated_tokens + b.generated_tokens, prm)


# --- batched over questions ---------------------------------------------------------------------
Models = Callable[[str], tuple[LM, Verifier]]  # strategy name -> (policy LM, verifier) to run it on


def spend(problems: Sequence[Problem], probes: Sequence[Pool], plans: Sequence[Plan], budget: int, seed: int,
          models: Models) -> list[SolveResult]:
    """Run every group of equal plans once; one SolveResult per question, in input order."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(plans):
        groups.setdefault(p.key(), []).append(i)
    out: dict[int, SolveResult] = {}
    for members in groups.values():
        first = plans[members[0]]
        lm, verifier = models(first.strategy)
        group = [problems[i] for i in members]
        if first.strategy == "best_of_n":
            out.update(_best_of_n_group(members, group, probes, plans, budget, seed, lm, verifier))
            continue
        results = STRATEGIES[first.strategy].run(group, lm, verifier, first.config)
        wanted = first.config.selection  # a revision run may add results of other selection rules
        by_id = {r.problem_id: r for r in results if r.params.get("selection", wanted) == wanted}
        for i, problem in zip(members, group):
            run = by_id[problem.id]
            costs = add_costs(probes[i].costs, Costs(run.prompt_tokens, run.generated_tokens, run.prm_tokens))
            out[i] = _record(problem, probes[i], plans[i], budget, seed, run, costs,
                             len(probes[i].samples) + run.generations, lm, verifier)
    return [out[i] for i in range(len(problems))]


def _best_of_n_group(members: list[int], group: list[Problem], probes: Sequence[Pool], plans: Sequence[Plan],
                     budget: int, seed: int, lm: LM, prm: Verifier) -> dict[int, SolveResult]:
    """Draw the rest of the budget as new samples (one call for the group) and select over the
    probe and them: the best-of-N of `budget` samples."""
    cfg = plans[members[0]].config
    assert isinstance(cfg, BestOfNConfig)
    extra = budget - len(probes[members[0]].samples)
    # a seed apart from the probe's: the new samples must not repeat it
    rest = sample_pools(group, lm, prm, dataclasses.replace(cfg, n=extra, seed=derive_seed(seed, "solve-rest"))) \
        if extra else [None] * len(group)
    out = {}
    for i, problem, more in zip(members, group, rest):
        chosen, size, costs = pooled_best_of_n(probes[i], more, cfg)
        run = SearchResult(problem.id, "best_of_n", {**cfg.params(), "n": size, "seed": seed}, size, seed,
                           None if chosen is None else chosen.answer, float(chosen is not None and chosen.correct),
                           None if chosen is None else chosen.text, size, size, 0, 0, 0, 0, None)
        out[i] = _record(problem, probes[i], plans[i], budget, seed, run, costs, size, lm, prm)
    return out


def _record(problem: Problem, probe: Pool, plan_: Plan, budget: int, seed: int, run: SearchResult, costs: Costs,
            generations: int, lm: LM, verifier: Verifier) -> SolveResult:
    """The run's answer with the whole ledger: `costs` and `generations` include the probe. FLOPs
    count every token at `lm`'s size (a reviser is fine-tuned from the base: the same size)."""
    prm_params = getattr(verifier, "num_parameters", None)
    return SolveResult(
        problem_id=problem.id, budget=budget, seed=seed, probe=len(probe.samples), probe_score=probe_score(probe),
        bin=plan_.bin, method=plan_.method, strategy=run.strategy, params=run.params, answer=run.answer,
        correct=run.correct if problem.answer else None, solution=run.solution, candidates=run.candidates,
        generations=generations, unspent=budget - generations, prompt_tokens=costs.prompt_tokens,
        generated_tokens=costs.generated_tokens, prm_tokens=costs.prm_tokens,
        flops_policy=2 * lm.num_parameters * (costs.prompt_tokens + costs.generated_tokens),
        flops_prm=None if costs.prm_tokens is None or prm_params is None else 2 * prm_params * costs.prm_tokens,
    )


def solve(problems: Sequence[Problem], probes: Sequence[Pool], policy: Policy, budget: int, probe: ProbeConfig,
          seed: int, prompt: PromptFormat, models: Models) -> list[SolveResult]:
    """Every question at `budget`, from its probe (drawn once, reusable across budgets)."""
    plans = [plan(pool, policy, budget, probe, seed, prompt) for pool in probes]
    return spend(problems, probes, plans, budget, seed, models)


# --- the command --------------------------------------------------------------------------------
@dataclass
class Setup:
    """The models, the policy and the questions (what `ttc solve` and its evaluation share)."""

    output_dir: str
    lm: LMConfig
    prm: PRMConfig
    policy: str  # policy_predicted.json of eval/compute_optimal.py
    bins: str  # bins_predicted.json of eval/difficulty.py the policy was fit on (its thresholds)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    data: DataConfig = field(default_factory=DataConfig)  # the new questions
    prompt: PromptFormat = field(default_factory=PromptFormat)
    seed: int = 0
    reviser: LMConfig | None = None  # for a policy that picks revisions
    orm: PRMConfig | None = None


@dataclass
class Config(Setup):
    budget: int = 16  # N generations per question, the probe's included

    def __post_init__(self) -> None:
        if self.budget < self.probe.n:
            raise ValueError(f"budget {self.budget} is below probe.n={self.probe.n}: the probe alone is over budget")


class ModelCache:
    """The models a solve needs: `lm` and `prm` (loaded now) for search; the reviser and its
    ORM for revisions, loaded on first use. A context manager that closes them all."""

    def __init__(self, cfg: Setup):
        self.cfg = cfg
        self.loaded = {"search": (load_lm(cfg.lm), load_prm(cfg.prm, cfg.prompt))}

    def __call__(self, strategy: str) -> tuple[LM, Verifier]:
        kind = "revision" if strategy == REVISION else "search"
        if kind not in self.loaded:
            if self.cfg.reviser is None or self.cfg.orm is None:
                raise ValueError("the policy picks revisions for some questions: set `reviser` and `orm`")
            self.loaded[kind] = load_lm(self.cfg.reviser), load_prm(self.cfg.orm, self.cfg.prompt)
        return self.loaded[kind]

    def __enter__(self) -> "ModelCache":
        return self

    def __exit__(self, *_: object) -> None:
        for lm, verifier in self.loaded.values():
            for model in (verifier, lm):
                if hasattr(model, "close"):
                    model.close()


def main(cfg: Config) -> Path:
    out = Path(cfg.output_dir)
    save_config(cfg, out / "solve_config.yaml")
    policy = load_policy(cfg.policy, cfg.bins)
    problems = load_problems(cfg.data)
    with ModelCache(cfg) as models:
        lm, prm = models("best_of_n")
        probes = draw_probes(problems, lm, prm, cfg.probe, cfg.seed, cfg.prompt)
        results = solve(problems, probes, policy, cfg.budget, cfg.probe, cfg.seed, cfg.prompt, models)
    path = out / f"solve_N{cfg.budget}.jsonl"
    write_atomic(path, [to_json(r) for r in results])
    graded = [r.correct for r in results if r.correct is not None]
    log.info("%d question(s) at N=%d: %s; accuracy %s", len(results), cfg.budget,
             summary(results), f"{np.mean(graded):.3f}" if graded else "n/a (no gold answers)")
    return path


def summary(results: Sequence[SolveResult]) -> str:
    """How many questions each method got."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.method] = counts.get(r.method, 0) + 1
    return ", ".join(f"{m}: {c}" for m, c in sorted(counts.items()))
