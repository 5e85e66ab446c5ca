"""A fitted policy (ttc/policy/__init__.py) run on new questions at a budget of N generations, with N
counted honestly: the library under `ttc solve` and its evaluation (eval/policy.py).

The paper's predicted difficulty costs thousands of uncounted samples per question. Here it is
estimated from the first few samples, and they are part of the budget:
1. Probe (`draw_probes`): n samples of each question, drawn as the policy's probe samples and
   seeded by (seed, problem id), scored by the PRM (`sample_pools`: best-of-N's sampling).
2. Bin (`Policy.bin_of`): the probe's mean final-step ("last") score against the edges of the
   predicted bins the policy was fit on. Those were cut from the mean over many samples per
   question; the probe's mean estimates the same from fewer, so the same edges apply (the probe
   is noisier, not biased).
3. Plan (`plan`): the bin's entry at the largest grid budget not above the remaining budget
   R = N - probe, run at the largest n whose generations fit in R (`fit_config`: best-of-N takes
   any n; beam search needs its width to divide n; lookahead k costs n(k+1)), so a method chosen
   at grid budget 8 runs at 14 when 14 remain. Below the bin's smallest grid budget (R = 0
   included) it is best-of-N weighted over the probe plus R new samples (`FALLBACK`).
   With an `allocated` policy (ttc/policy/__init__.py) the entry is the bin's at the largest table budget
   <= N (an average budget) and the question's own budget is the entry's generations at its n
   (at least the probe): R = that - probe, fit as above, and the fallback where no n fits.
   The fallback is the probe's own strategy (`Policy.probe_config`: best-of-N).
   Easy bins then spend less than N and hard ones more: `unspent` < 0 is an overdraw, and the
   mean over questions is what the allocation keeps near N.
4. Spend (`spend`): questions with equal plans run as ONE strategy call, on the models of its
   roles (`Strategy.models`). A strategy that continues drawn pools (`Strategy.extend`: best-of-N)
   reuses the probe: its pool is the probe plus R new samples, i.e. exactly the best-of-N of N
   samples. Generations that no valid n can use are `unspent` (probe + spent + unspent == N).
N below the probe is an error: the probe alone is over budget.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from data.prompts import PromptFormat
from data.records import Problem
from ttc.lm import LM
from ttc.policy import STRATEGIES, Entry, Policy
from ttc.search import Pool, Roles, SearchConfig, SearchResult, sample_pools
from ttc.verifiers import Verifier, aggregate

FALLBACK = "best_of_n(probe fallback)"
Models = Callable[[Roles], tuple[LM, Verifier]]  # a strategy's roles -> (policy LM, verifier) to run it on


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
    prompt_tokens: int  # the ledger, probe included (Costs.record)
    generated_tokens: int
    prm_tokens: int | None
    flops_policy: int
    flops_prm: int | None


# --- probe and plan -----------------------------------------------------------------------------
def draw_probes(
    problems: Sequence[Problem], lm: LM, prm: Verifier, policy: Policy, n: int, seed: int, prompt: PromptFormat
) -> list[Pool]:
    """n scored samples of every question, drawn as best-of-N's (reusable across budgets)."""
    return sample_pools(problems, lm, prm, policy.probe_config(n, seed, prompt))


def probe_score(pool: Pool) -> float:
    """Predicted difficulty from the probe: the mean final-step score (the predicted bins' value)."""
    return float(np.mean([aggregate(v, "last") for v in pool.values]))


@dataclass(frozen=True)
class Plan:
    """One question's decision: its bin and what spends the rest of its budget."""

    bin: int
    method: str
    strategy: str
    config: SearchConfig
    budget: int  # the question's own budget, the probe's included: N, or an allocated entry's

    def key(self) -> str:
        """Questions with equal keys run together, in one strategy call."""
        return json.dumps(
            {"strategy": self.strategy, "budget": self.budget, **self.config.params()}, sort_keys=True, default=str
        )


def fit_config(entry: Entry, remaining: int, seed: int, prompt: PromptFormat, where: str) -> SearchConfig:
    """The entry's config at the largest n whose generations fit in `remaining` (>= 1)."""
    errors = []
    for n in range(remaining, 0, -1):
        try:
            cfg = entry.config(where, n)
        except ValueError as e:
            errors.append(str(e))
            continue
        if cfg.generations <= remaining:
            return dataclasses.replace(cfg, seed=seed, prompt=prompt)
    raise ValueError(
        f"{where}: {entry.method} runs at no n with at most {remaining} generations "
        f"({errors[-1] if errors else 'its generations exceed the budget'})"
    )


def plan(pool: Pool, policy: Policy, budget: int, seed: int, prompt: PromptFormat) -> Plan:
    """Bin the probe, look the method up, fit it to the remaining budget."""
    remaining = budget - len(pool.samples)
    if remaining < 0:
        raise ValueError(f"budget {budget} is below the probe's {len(pool.samples)} samples: give a budget >= probe.n")
    bin_ = policy.bin_of(probe_score(pool))
    if policy.allocated:
        return allocated_plan(pool, policy, bin_, budget, seed, prompt)
    entry = policy.entry(bin_, remaining)
    if entry is None:  # n is not used: a pooled plan draws budget - probe new samples
        return fallback(policy, bin_, remaining, seed, prompt, budget)
    where = f"policy bin {bin_} at budget {remaining}"
    return Plan(bin_, entry.method, entry.strategy, fit_config(entry, remaining, seed, prompt, where), budget)


def allocated_plan(pool: Pool, policy: Policy, bin_: int, budget: int, seed: int, prompt: PromptFormat) -> Plan:
    """The bin's entry at average budget N, run within its own budget (its n's generations)."""
    entry = policy.entry(bin_, budget)
    where = f"allocated policy bin {bin_} at budget {budget}"
    own = budget if entry is None else max(entry.config(where).generations, len(pool.samples))
    remaining = own - len(pool.samples)
    config = None
    if entry is not None and remaining > 0:
        try:
            config = fit_config(entry, remaining, seed, prompt, where)
        except ValueError:  # no n of the method fits what the probe left of its budget
            config = None
    if entry is None or config is None:
        return fallback(policy, bin_, remaining, seed, prompt, own)
    return Plan(bin_, entry.method, entry.strategy, config, own)


def fallback(policy: Policy, bin_: int, remaining: int, seed: int, prompt: PromptFormat, budget: int) -> Plan:
    """Where the policy has no entry that fits: the probe's strategy over the probe and `remaining`
    new samples (n is not used: the probe's pool is extended to `budget`)."""
    cfg = policy.probe_config(max(remaining, 1), seed, prompt)
    return Plan(bin_, FALLBACK, cfg.STRATEGY, cfg, budget)


# --- spend, batched over questions --------------------------------------------------------------
def spend(
    problems: Sequence[Problem], probes: Sequence[Pool], plans: Sequence[Plan], budget: int, models: Models
) -> list[SolveResult]:
    """Run every group of equal plans once; one SolveResult per question, in input order."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(plans):
        groups.setdefault(p.key(), []).append(i)
    out: dict[int, SolveResult] = {}
    for members in groups.values():
        first = plans[members[0]]
        strategy = STRATEGIES[first.strategy]
        lm, verifier = models(strategy.models)
        group = [problems[i] for i in members]
        if strategy.extend is not None:  # the probe joins its pools
            runs = strategy.checked(
                group, strategy.extend(group, [probes[i] for i in members], first.config, first.budget, lm, verifier)
            )
        else:
            runs = strategy(group, lm, verifier, first.config)
        for i, problem, run in zip(members, group, runs, strict=True):
            out[i] = record(problem, probes[i], plans[i], budget, run, lm, verifier)
    return [out[i] for i in range(len(problems))]


def record(
    problem: Problem, probe: Pool, plan_: Plan, budget: int, run: SearchResult, lm: LM, verifier: Verifier
) -> SolveResult:
    """The run's answer with the whole ledger, the probe's included. FLOPs count every token at
    `lm`'s size (a reviser is fine-tuned from the base: the same size)."""
    generations = len(probe.samples) + (run.generations if run.spent is None else round(run.spent))  # adaptive: drawn
    if probe.costs is None:  # a probe drawn by sample_pools knows its costs
        raise ValueError(f"{problem.id}: the probe's costs are unknown")
    costs = probe.costs + run.costs
    return SolveResult(
        problem_id=problem.id,
        budget=budget,
        seed=plan_.config.seed,
        probe=len(probe.samples),
        probe_score=probe_score(probe),
        bin=plan_.bin,
        method=plan_.method,
        strategy=run.strategy,
        params=run.params,
        answer=run.answer,
        correct=run.correct if problem.answer else None,
        solution=run.solution,
        candidates=run.candidates,
        generations=generations,
        unspent=budget - generations,
        **costs.record(lm.num_parameters, verifier.num_parameters),
    )


def solve(
    problems: Sequence[Problem],
    probes: Sequence[Pool],
    policy: Policy,
    budget: int,
    seed: int,
    prompt: PromptFormat,
    models: Models,
) -> list[SolveResult]:
    """Every question at `budget`, from its probe."""
    plans = [plan(pool, policy, budget, seed, prompt) for pool in probes]
    return spend(problems, probes, plans, budget, models)
