"""Evaluate a PRM: step-level AUC against MC labels, and best-of-N weighted vs majority vs pass@1.

    ttc eval-prm --config configs/toy/eval_prm.yaml

Inputs are records of earlier stages: step labels of test solutions (`ttc label`) for the AUC,
and many samples per test problem (`ttc sample`, e.g. 64) for the best-of-N curves. For each N
in 1, 2, 4, ..., a problem's accuracy is the expectation over subsets of N of its samples
(ttc.search.best_of_n.accuracy: every subset when there are few, else 1000 seeded random ones);
problems with fewer than N samples are left out at N. With `baseline` (the policy's folder) the
same samples are also scored by the policy's own likelihood (ttc/verifiers/likelihood.py), the
training-free verifier a trained PRM has to beat. Writes `prm_eval.json` (the curves, and each
problem's values under `per_question` and `within_question_auc` for the report's paired
intervals; a NaN AUC is null), `prm_eval.md` and `best_of_n.png`.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from data.config import save_config
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.ranking import auc, within_question_aucs
from data.records import Sample, StepLabels, read_records
from eval.paired import curve_of, json_safe
from eval.plots import figure, plot_curves
from eval.tracking import Figures, Tracking, log_figures
from ttc.search.best_of_n import Pool, accuracy
from ttc.verifiers import Verifier, aggregate
from ttc.verifiers.hf_prm import HFPRM
from ttc.verifiers.likelihood import LikelihoodVerifier

log = logging.getLogger(__name__)
AGGREGATIONS = ("last", "min", "prod")


@dataclass
class PRMEvalConfig:
    prm: str
    samples: str  # samples.jsonl with many samples per test problem
    output_dir: str
    labels: str | None = None  # labels.jsonl of test solutions, for the step-level AUC
    baseline: str | None = None  # an LM folder (the policy): its likelihood as a training-free verifier
    data: DataConfig = field(default_factory=DataConfig)
    prompt: PromptFormat = field(default_factory=PromptFormat)
    max_n: int = 64
    seed: int = 0
    threads: int = 1
    batch_size: int = 64
    tracking: Tracking = field(default_factory=Tracking)


ByProblem = dict[str, list[tuple[Sample, list[float]]]]  # each problem's samples and their step values
PerQuestionCurve = dict[int, dict[str, float]]  # N -> problem id -> its accuracy at N
LIKELIHOOD = "base likelihood"  # the baseline verifier's name in the curves


def pools(by_problem: ByProblem) -> list[Pool]:
    return [Pool(pid, [s for s, _ in items], [v for _, v in items]) for pid, items in sorted(by_problem.items())]


def per_question(pools: list[Pool], ns: list[int], pick: Callable[[Pool, int], float]) -> PerQuestionCurve:
    """`pick(pool, n)` of each problem at each N; problems with fewer than N samples are left out at N."""
    picked = {n: {pool.problem_id: pick(pool, n) for pool in pools if n <= len(pool.samples)} for n in ns}
    return {n: values for n, values in picked.items() if values}


def best_of_n(by_problem: ByProblem, ns: list[int], seed: int) -> dict[str, PerQuestionCurve]:
    """Each problem's accuracy of each selection method at each N, from its pool of samples."""
    each = pools(by_problem)
    curves = {"pass@1": per_question(each, ns, lambda pool, n: float(np.mean([s.correct for s in pool.samples]))),
              "majority": per_question(each, ns, lambda pool, n: accuracy(pool, n, "majority", seed=seed))}
    for how in AGGREGATIONS:
        curves[f"best-of-N weighted ({how})"] = per_question(
            each, ns, lambda pool, n, how=how: accuracy(pool, n, "weighted", how, seed=seed))
    curves["best-of-N naive (last)"] = per_question(each, ns, lambda pool, n: accuracy(pool, n, "naive", seed=seed))
    return curves


def baseline_curves(by_problem: ByProblem, ns: list[int], seed: int) -> dict[str, PerQuestionCurve]:
    """Best-of-N weighted and naive (the highest score wins) with the likelihood verifier, per problem."""
    each = pools(by_problem)
    return {f"best-of-N {selection} ({LIKELIHOOD})": per_question(
        each, ns, lambda pool, n, selection=selection: accuracy(pool, n, selection, seed=seed))
        for selection in ("weighted", "naive")}


def within_question_auc(by_problem: ByProblem) -> dict[str, float]:
    """Each question's AUC of the last step's value against correctness, for the questions with
    both correct and incorrect samples (the others rank nothing)."""
    flat = [(pid, aggregate(v, "last"), s.correct) for pid, items in by_problem.items() for s, v in items]
    return within_question_aucs(*zip(*flat)) if flat else {}


def final_score_auc(by_problem: ByProblem) -> dict[str, float]:
    """AUC of the last step's value against the solution's correctness: over all solutions
    (which rewards ranking questions by difficulty) and within a question, averaged over the
    questions with both correct and incorrect samples (what best-of-N selection needs)."""
    scored = [(s.correct, aggregate(v, "last")) for items in by_problem.values() for s, v in items]
    within = list(within_question_auc(by_problem).values())
    return {"all_solutions": auc([v for _, v in scored], [c for c, _ in scored]),
            "within_question": float(np.mean(within)) if within else float("nan")}


def evaluate(by_verifier: dict[str, ByProblem], ns: list[int], seed: int) -> dict:
    """The numbers of prm_eval.json but the step-level AUC, from the samples scored by the PRM
    ("PRM") and optionally by the likelihood (LIKELIHOOD): the curves, and under `per_question`
    and `within_question_auc` each problem's values, for the report's paired intervals."""
    outcomes = best_of_n(by_verifier["PRM"], ns, seed)
    if LIKELIHOOD in by_verifier:
        outcomes |= baseline_curves(by_verifier[LIKELIHOOD], ns, seed)
    final = {who: final_score_auc(b) for who, b in by_verifier.items()}
    return {"final_auc": final["PRM"], "baseline_final_auc": final.get(LIKELIHOOD),
            "curves": {name: curve_of(per_n) for name, per_n in outcomes.items()}, "per_question": outcomes,
            "within_question_auc": {who: within_question_auc(b) for who, b in by_verifier.items()}}


def step_auc(prm: HFPRM, labels: list[StepLabels]) -> float:
    predicted = prm.score([r.question for r in labels], [r.steps for r in labels])
    scores = [v for values in predicted for v in values]
    hard = [v > 0 for r in labels for v in r.values]
    return auc(scores, hard)


def markdown(curves: dict[str, dict[int, float]], step_level_auc: float | None, final: dict[str, dict[str, float]]) -> str:
    ns = sorted(next(iter(curves.values())))
    lines = [f"step-level AUC vs hard MC labels: {step_level_auc:.3f}"] if step_level_auc is not None else []
    lines += [f"last-step AUC vs correctness ({who}): {f['all_solutions']:.3f} over all solutions, "
              f"{f['within_question']:.3f} within a question" for who, f in final.items()]
    lines.append("")
    lines += ["| method | " + " | ".join(f"N={n}" for n in ns) + " |", "|---" * (len(ns) + 1) + "|"]
    lines += [f"| {m} | " + " | ".join(f"{c[n]:.3f}" for n in ns) + " |" for m, c in curves.items()]
    return "\n".join(lines) + "\n"


def tracked_figures(numbers: dict, step_level_auc: float | None) -> Figures:
    """For the tracker: the step-level AUC, each verifier's within-question AUC, and every
    best-of-N curve against N."""
    final = {"PRM": numbers["final_auc"], "likelihood": numbers["baseline_final_auc"]}
    return {"prm/step_auc": step_level_auc,
            **{f"prm/{who}/within_question_auc": f["within_question"] for who, f in final.items() if f},
            **{f"prm/{name}/accuracy": curve for name, curve in numbers["curves"].items()}}


def scored(verifier: Verifier, samples: list[Sample], question: dict[str, str]) -> ByProblem:
    values = verifier.score([question[s.problem_id] for s in samples], [s.steps for s in samples])
    by_problem: ByProblem = defaultdict(list)
    for s, v in zip(samples, values):
        by_problem[s.problem_id].append((s, v))
    return by_problem


def main(cfg: PRMEvalConfig) -> str:
    out = Path(cfg.output_dir)
    save_config(cfg, out / "config.yaml")
    question = {p.id: p.question for p in load_problems(cfg.data)}
    samples = [s for s in read_records(cfg.samples, Sample) if s.problem_id in question]
    prm = HFPRM(cfg.prm, cfg.prompt, cfg.batch_size, cfg.threads)
    by_verifier = {"PRM": scored(prm, samples, question)}
    if cfg.baseline:
        verifier = LikelihoodVerifier(cfg.baseline, cfg.prompt, cfg.batch_size, cfg.threads)
        by_verifier[LIKELIHOOD] = scored(verifier, samples, question)
    ns = [2**i for i in range(cfg.max_n.bit_length()) if 2**i <= cfg.max_n]
    numbers = evaluate(by_verifier, ns, cfg.seed)
    step_level_auc = step_auc(prm, read_records(cfg.labels, StepLabels)) if cfg.labels else None
    (out / "prm_eval.json").write_text(json.dumps(json_safe({"auc": step_level_auc, **numbers}), indent=2,
                                                  allow_nan=False) + "\n")
    with figure(out / "best_of_n.png") as (_, ax):
        plot_curves(ax, numbers["curves"])
    final = {"PRM": numbers["final_auc"], **({LIKELIHOOD: numbers["baseline_final_auc"]} if cfg.baseline else {})}
    text = markdown(numbers["curves"], step_level_auc, final)
    (out / "prm_eval.md").write_text(text)
    log_figures(cfg.tracking, out, "prm", tracked_figures(numbers, step_level_auc))
    return text

