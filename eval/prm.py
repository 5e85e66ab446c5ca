"""Evaluate a PRM: step-level AUC against MC labels, and best-of-N weighted vs majority vs pass@1.

    ttc eval-prm --config configs/toy/eval_prm.yaml

Inputs are records of earlier stages: step labels of test solutions (`ttc label`) for the AUC,
and many samples per test problem (`ttc sample`, e.g. 64) for the best-of-N curves. For each N
in 1, 2, 4, ..., a problem's accuracy is the expectation over subsets of N of its samples
(ttc.search.best_of_n.accuracy: every subset when there are few, else 1000 seeded random ones);
problems with fewer than N samples are left out at N. With `baseline` (the policy's folder) the
same samples are also scored by the policy's own likelihood (ttc/verifiers/likelihood.py), the
training-free verifier a trained PRM has to beat. Writes `prm_eval.json` (`PRMEvalSummary`: the
curves, and each problem's values for the report's paired intervals), `prm_eval.md` and
`best_of_n.png`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from data.codec import Label
from data.config import save_config
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.ranking import auc, within_question_aucs
from data.records import RecordError, Sample, StepLabels, read_records
from eval.paired import Comparison, Paired, curve_of, paired
from eval.plots import figure, plot_curves
from eval.summary import Summary, defined, fmt
from eval.tracking import Figures, Tracking, log_figures
from eval.wording import num, preferred
from ttc.search.best_of_n import Pool, accuracy
from ttc.search.config import Selection
from ttc.stages.spec import Finding, ReportPart, StageSpec
from ttc.verifiers import Aggregation, Verifier, aggregate
from ttc.verifiers.spec import VerifierConfig, load_verifier

log = logging.getLogger(__name__)


@dataclass
class PRMEvalConfig:
    prm: VerifierConfig
    samples: str  # samples.jsonl with many samples per test problem
    output_dir: str
    labels: str | None = None  # labels.jsonl of test solutions, for the step-level AUC
    baseline: VerifierConfig | None = None  # e.g. the policy's likelihood (kind: likelihood), training-free
    data: DataConfig = field(default_factory=DataConfig)
    prompt: PromptFormat = field(
        default_factory=PromptFormat
    )  # the policy's, for the likelihood; our PRM reads its own
    max_n: int = 64
    seed: int = 0
    tracking: Tracking = field(default_factory=Tracking)

    def __post_init__(self) -> None:
        if self.max_n < 1:
            raise ValueError(f"max_n must be >= 1, got {self.max_n}")


ByProblem = dict[str, list[tuple[Sample, list[float]]]]  # each problem's samples and their step values
PerQuestionCurve = dict[int, dict[str, float]]  # N -> problem id -> its accuracy at N
PRM, LIKELIHOOD = "PRM", "base likelihood"  # the verifiers' names (the baseline's in its curves' names too)
TRACKED = {PRM: "PRM", LIKELIHOOD: "likelihood"}  # their names in tracker tags


class Curve(Label):
    """A curve of prm_eval.json, its value the curve's name there, in the markdown and the report:
    the two without a verifier, then best-of-N by selection and the PRM's aggregation or the
    baseline verifier's name."""

    PASS1 = "pass@1"
    MAJORITY = "majority"
    WEIGHTED_LAST = "best-of-N weighted (last)"  # the paper's: the PRM's last-step score, weighted vote
    WEIGHTED_MIN = "best-of-N weighted (min)"
    WEIGHTED_PROD = "best-of-N weighted (prod)"
    NAIVE_LAST = "best-of-N naive (last)"
    LIKELIHOOD_WEIGHTED = "best-of-N weighted (base likelihood)"
    LIKELIHOOD_NAIVE = "best-of-N naive (base likelihood)"


# the PRM's aggregations the curves weigh votes by, each with its curve
WEIGHTED_BY: dict[Aggregation, Curve] = {
    "last": Curve.WEIGHTED_LAST,
    "min": Curve.WEIGHTED_MIN,
    "prod": Curve.WEIGHTED_PROD,
}
LIKELY: dict[Selection, Curve] = {
    "weighted": Curve.LIKELIHOOD_WEIGHTED,
    "naive": Curve.LIKELIHOOD_NAIVE,
}  # the baseline's, by selection


@dataclass(frozen=True)
class FinalAUC:
    """AUCs of the last step's value against the solution's correctness (`final_score_auc`);
    None where undefined (no solution of one outcome, no question with both)."""

    all_solutions: float | None
    within_question: float | None


@dataclass(frozen=True)
class PRMEvalSummary(Summary):
    """prm_eval.json: what the markdown shows, and the per-problem values the report pairs."""

    FORMAT = "ttc.prm_eval"
    curves: dict[Curve, dict[int, float]]  # each curve -> N -> accuracy
    per_question: dict[Curve, PerQuestionCurve]  # the same -> N -> problem id -> its accuracy
    final_auc: dict[str, FinalAUC]  # PRM (and LIKELIHOOD with a baseline) -> its last-step AUCs
    within_question_auc: dict[str, dict[str, float]]  # the same -> problem id (with both outcomes) -> AUC
    step_auc: float | None = None  # against hard MC labels; None: undefined, or no labels
    labelled_steps: int = 0  # the labelled steps it is measured on; 0: no labels given


def pools(by_problem: ByProblem) -> list[Pool]:
    return [Pool(pid, [s for s, _ in items], [v for _, v in items]) for pid, items in sorted(by_problem.items())]


def per_question(pools: list[Pool], ns: list[int], pick: Callable[[Pool, int], float]) -> PerQuestionCurve:
    """`pick(pool, n)` of each problem at each N; problems with fewer than N samples are left out at N."""
    picked = {n: {pool.problem_id: pick(pool, n) for pool in pools if n <= len(pool.samples)} for n in ns}
    return {n: values for n, values in picked.items() if values}


def best_of_n(by_problem: ByProblem, ns: list[int], seed: int) -> dict[Curve, PerQuestionCurve]:
    """Each problem's accuracy of each selection method at each N, from its pool of samples."""
    each = pools(by_problem)
    curves = {
        Curve.PASS1: per_question(each, ns, lambda pool, n: float(np.mean([s.correct for s in pool.samples]))),
        Curve.MAJORITY: per_question(each, ns, lambda pool, n: accuracy(pool, n, "majority", seed=seed)),
    }
    for how, curve in WEIGHTED_BY.items():
        curves[curve] = per_question(each, ns, lambda pool, n, how=how: accuracy(pool, n, "weighted", how, seed=seed))
    curves[Curve.NAIVE_LAST] = per_question(each, ns, lambda pool, n: accuracy(pool, n, "naive", seed=seed))
    return curves


def baseline_curves(by_problem: ByProblem, ns: list[int], seed: int) -> dict[Curve, PerQuestionCurve]:
    """Best-of-N weighted and naive (the highest score wins) with the likelihood verifier, per problem."""
    each = pools(by_problem)
    baselines: tuple[tuple[Selection, Curve], ...] = (
        ("weighted", Curve.LIKELIHOOD_WEIGHTED),
        ("naive", Curve.LIKELIHOOD_NAIVE),
    )
    return {
        curve: per_question(each, ns, lambda pool, n, selection=selection: accuracy(pool, n, selection, seed=seed))
        for selection, curve in baselines
    }


def within_question_auc(by_problem: ByProblem, how: Aggregation = "last") -> dict[str, float]:
    """Each question's AUC of its solutions' scores (`how`: the last step's value) against
    correctness, for the questions with both correct and incorrect samples (the others rank nothing)."""
    flat = [(pid, aggregate(v, how), s.correct) for pid, items in by_problem.items() for s, v in items]
    return within_question_aucs(*zip(*flat)) if flat else {}


def final_score_auc(by_problem: ByProblem) -> FinalAUC:
    """AUC of the last step's value against the solution's correctness: over all solutions
    (which rewards ranking questions by difficulty) and within a question, averaged over the
    questions with both correct and incorrect samples (what best-of-N selection needs)."""
    scored = [(s.correct, aggregate(v, "last")) for items in by_problem.values() for s, v in items]
    within = list(within_question_auc(by_problem).values())
    return FinalAUC(
        defined(auc([v for _, v in scored], [c for c, _ in scored])), float(np.mean(within)) if within else None
    )


def evaluate(by_verifier: dict[str, ByProblem], ns: list[int], seed: int) -> PRMEvalSummary:
    """The summary but the step-level AUC, from the samples scored by the PRM (PRM) and optionally
    by the likelihood (LIKELIHOOD)."""
    outcomes = best_of_n(by_verifier[PRM], ns, seed)
    if LIKELIHOOD in by_verifier:
        outcomes |= baseline_curves(by_verifier[LIKELIHOOD], ns, seed)
    return PRMEvalSummary(
        {name: curve_of(per_n) for name, per_n in outcomes.items()},
        outcomes,
        {who: final_score_auc(b) for who, b in by_verifier.items()},
        {who: within_question_auc(b) for who, b in by_verifier.items()},
    )


def step_auc(prm: Verifier, labels: list[StepLabels]) -> float:
    predicted = prm.score([r.question for r in labels], [r.steps for r in labels])
    scores = [v for values in predicted for v in values]
    hard = [v > 0 for r in labels for v in r.values]
    return auc(scores, hard)


def markdown(summary: PRMEvalSummary) -> str:
    ns = sorted(next(iter(summary.curves.values())))
    lines = [f"step-level AUC vs hard MC labels: {fmt(summary.step_auc, '.3f')}"] if summary.labelled_steps else []
    lines += [
        f"last-step AUC vs correctness ({who}): {fmt(f.all_solutions, '.3f')} over all solutions, "
        f"{fmt(f.within_question, '.3f')} within a question"
        for who, f in summary.final_auc.items()
    ]
    lines.append("")
    lines += ["| method | " + " | ".join(f"N={n}" for n in ns) + " |", "|---" * (len(ns) + 1) + "|"]
    lines += [f"| {m} | " + " | ".join(f"{c[n]:.3f}" for n in ns) + " |" for m, c in summary.curves.items()]
    return "\n".join(lines) + "\n"


def tracked_figures(summary: PRMEvalSummary) -> Figures:
    """For the tracker: the step-level AUC, each verifier's within-question AUC, and every
    best-of-N curve against N."""
    return {
        "prm/step_auc": summary.step_auc,
        **{f"prm/{TRACKED[who]}/within_question_auc": f.within_question for who, f in summary.final_auc.items()},
        **{f"prm/{name}/accuracy": curve for name, curve in summary.curves.items()},
    }


def scored(verifier: Verifier, samples: list[Sample], question: dict[str, str]) -> ByProblem:
    values = verifier.score([question[s.problem_id] for s in samples], [s.steps for s in samples])
    by_problem: ByProblem = defaultdict(list)
    for s, v in zip(samples, values):
        by_problem[s.problem_id].append((s, v))
    return by_problem


def main(cfg: PRMEvalConfig) -> str:
    out = Path(cfg.output_dir)
    question = {p.id: p.question for p in load_problems(cfg.data)}
    samples = [s for s in read_records(cfg.samples, Sample) if s.problem_id in question]
    if not samples:  # an empty input is an error, not a table of NaN
        raise RecordError(f"{cfg.samples}: no sample of the configured problems (empty, or samples of other questions)")
    save_config(cfg, out / "config.yaml")
    prm = load_verifier(cfg.prm, cfg.prompt)
    by_verifier = {PRM: scored(prm, samples, question)}
    if cfg.baseline:
        by_verifier[LIKELIHOOD] = scored(load_verifier(cfg.baseline, cfg.prompt), samples, question)
    ns = [2**i for i in range(cfg.max_n.bit_length()) if 2**i <= cfg.max_n]
    summary = evaluate(by_verifier, ns, cfg.seed)
    if cfg.labels:
        labels = read_records(cfg.labels, StepLabels)
        summary = dataclasses.replace(
            summary, step_auc=defined(step_auc(prm, labels)), labelled_steps=sum(len(r.values) for r in labels)
        )
    summary.save(out / "prm_eval.json")
    with figure(out / "best_of_n.png") as (_, ax):
        plot_curves(ax, summary.curves)
    text = markdown(summary)
    (out / "prm_eval.md").write_text(text)
    log_figures(cfg.tracking, out, "prm", tracked_figures(summary))
    return text


# --- its part of the run's report (ttc/pipeline/report.py) and its headline comparisons ---
def prm_findings(folder: Path) -> list[Finding]:
    summary = PRMEvalSummary.load(folder / "prm_eval.json")
    curves, per = summary.curves, summary.per_question
    shared = set(curves[Curve.WEIGHTED_LAST]) & set(curves[Curve.MAJORITY])
    n = 16 if 16 in shared else max(shared)  # the paper's usual comparison point

    def vs(a: Curve, b: Curve) -> Paired:
        return paired(per[a][n], per[b][n])

    likely = LIKELY
    baseline = (
        f" Against the policy's own likelihood as the verifier (untrained), it is "
        f"{vs(Curve.WEIGHTED_LAST, likely['weighted']).words('likelihood-weighted voting')}; likelihood-weighted "
        f"voting is {vs(likely['weighted'], Curve.MAJORITY).words('majority')}, and picking its most likely "
        f"solution is {vs(likely['naive'], Curve.MAJORITY).words('majority')}."
        if all(n in curves.get(c, {}) for c in likely.values())
        else ""
    )
    return [
        Finding(
            f"Best-of-N weighted with the PRM (last-step score) is "
            f"{vs(Curve.WEIGHTED_LAST, Curve.MAJORITY).words('majority')} at N={num(n)}; pass@1 "
            f"{curves[Curve.PASS1][n]:.3f} (paper: ahead, the gap growing with N).{baseline}{ranking(summary)}",
            "best_of_n.png",
        )
    ]


def ranking(summary: PRMEvalSummary) -> str:
    """The last-step AUCs of the PRM (and the likelihood), and the within-question ones paired."""
    final, base = summary.final_auc[PRM], summary.final_auc.get(LIKELIHOOD)
    auc = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731 (None: no question with both outcomes)
    text = (
        f" Its last-step score ranks solutions with AUC {auc(final.within_question)} within a question "
        f"({auc(final.all_solutions)} over all solutions; 0.5 within a question is no help in picking one)"
    )
    if base is None:
        return text + "."
    text += (
        f"; the likelihood's: {auc(base.within_question)} within a question, {auc(base.all_solutions)} "
        "over all solutions"
    )
    if final.within_question is None or base.within_question is None:
        return text + "."
    per = summary.within_question_auc
    within = paired(per[PRM], per[LIKELIHOOD]).words("the likelihood's")
    return f"{text}; within a question the PRM's AUC is {within}."


def prm_vs(path: Path, baseline: str) -> list[Comparison]:
    """Best-of-N weighted (the PRM's last step) vs `baseline` ("majority", or "likelihood"-weighted
    voting) at N=16, else their largest common N (as prm_findings)."""
    per = PRMEvalSummary.load(path).per_question
    other = Curve.MAJORITY if baseline == "majority" else Curve.LIKELIHOOD_WEIGHTED
    shared = set(per[Curve.WEIGHTED_LAST]) & set(per.get(other, {}))
    if not shared:
        return []
    n = preferred(shared, 16, max)
    return [
        Comparison(
            "",
            f"{Curve.WEIGHTED_LAST}, N={num(n)}",
            f"{other}, N={num(n)}",
            paired(per[Curve.WEIGHTED_LAST][n], per[other][n]),
        )
    ]


def prm_auc(path: Path) -> list[Comparison]:
    """The PRM's last-step AUC within a question vs the policy likelihood's, over the questions with both."""
    per = PRMEvalSummary.load(path).within_question_auc
    if not set(per.get(PRM, {})) & set(per.get(LIKELIHOOD, {})):
        return []
    return [Comparison("", "PRM within-question AUC", "likelihood's", paired(per[PRM], per[LIKELIHOOD]))]


PART = ReportPart(
    "PRM: best-of-N weighted vs majority",
    20,
    "PRM eval (ttc eval-prm)",
    "prm_eval.json",
    ("prm_eval.md",),
    prm_findings,
)


STAGE = StageSpec(config=PRMEvalConfig, main=main, report=PART)
