"""Any verifier measured the way the field measures PRMs: ProcessBench and PRMBench.

    ttc bench-prm --config recipe.yaml    # benchmark, data, verifiers: {name: {kind, path, ...}}, compare: [a, b]

Every verifier kind (ours, math-shepherd, rlhflow, qwen2.5-math-prm, likelihood) scores each
step of each solution with a value in [0, 1] (ttc/verifiers); this module turns those values into
the published metrics. Items come from local files in the published layouts (data/prm_bench.py),
or (`benchmark: toy`) from the policy's own toy samples, labelled step-exactly by the toy world
(data/toy_bench.py, written beside the results as toy_processbench.jsonl): `score_processbench`
is the one scorer both use. Writes `prm_bench.json` (`BenchSummary`: the aggregate numbers only),
`predictions.jsonl` (records, one line an item: `ItemRecord`, or `StepsRecord` on PRMBench, its
label and every verifier's prediction by name; `ttc report --export` leaves them out of the
evidence), `prm_bench.md` and `prm_bench.png`. A verifier's predictions follow from its step values
and its result's threshold; the comparisons pair them in memory.

ProcessBench (arXiv 2412.06559 §4.1; QwenLM/ProcessBench code/run_eval.py, run_eval_prm_trl.py):
- A solution's prediction is the index of its earliest wrong step, -1 for none. The threshold
  rule here: the first step whose value is < `threshold` (default 0.5). The published protocol:
  PRMs that predict each step's correctness (Math-Shepherd, RLHFlow, the Qwen PRMs; the TRL
  script takes the argmax of the two labels, i.e. P(correct) against 0.5; the RLHFlow script
  the greedy '+'/'-' token) use that prediction, which is this rule at 0.5 on P(correct) (an
  exact tie of 0.5 counts as correct here, as an error under argmax: immaterial); PRMs with a
  scalar score (Skywork) are thresholded at "the one giving the highest F1 on the GSM8K subset"
  (the paper §4.1; maintainers in QwenLM/ProcessBench issue #3). `threshold: gsm8k` (any split
  name) does that, per verifier: of the values seen on that split, the one maximizing its F1
  (ties: the lowest), then applied to every split; the tuned split's own F1 is then optimistic.
- Per split: accuracy on the erroneous solutions (prediction == label exactly), on the correct
  ones (prediction == -1), F1 = their harmonic mean (0 when either is 0; None when a split has
  no solution of one kind); the headline is the mean of the splits' F1s.
- Where `error_class` is set (the toy set): the accuracy on the erroneous items of each class.

PRMBench (arXiv 2501.03124; ssmisya/PRMBench mr_eval/tasks/prmtest_classified/task.py
evaluate_function, mr_visualize/eval_res_view/draw_tabs/form_latex_strs.ipynb):
- A step is predicted valid when its value is > `threshold` (the toolkit's models:
  `validity_threshold = 0.5`, `item > threshold`, mr_eval/models/qwen_prm.py, math_shepherd.py).
- Over all steps of the scored items (pooled, not averaged per item): the F1 of the correct steps
  (positive class: TP a correct step judged valid, FP an erroneous one judged valid, FN a correct
  one judged invalid) and the F1 of the erroneous steps (TN over TN + FN and TN + FP);
  PRMScore = 0.5 F1(correct) + 0.5 F1(erroneous). Overall: every class but `correct` (the
  original processes are scored only as their own class, as the published evaluator does).
  Per class: the same on its items; a class without erroneous steps (multi_solutions, correct)
  scores its F1(correct) alone (the notebook's `get_prmscore_from_current_res_dict`). The
  published groups, each the mean of its classes' PRMScores: simplicity (redundency, circular),
  soundness (counterfactual, step_contradiction, domain_inconsistency, confidence), sensitivity
  (missing_condition, deception, multi_solutions).
- Choice: an F1 is 2 TP / (2 TP + FP + FN): 0 when a class's steps exist but none is found (a
  verifier that flags no step gets F1(erroneous) 0, so PRMScore 0.5 F1(correct)), None only when
  the class is neither present nor predicted; the published code writes -1 where precision or
  recall is undefined and floors a PRMScore below 0 at 0 (printed as "-"), which differs only
  for a verifier that gets none of a class's steps right.
- The published evaluator also reads a model's redundancy labels for redundency/circular items
  where a model gives them (ReasonEval); every verifier here gives validity values only.

Intervals (the project's conventions, eval/paired.py): a seeded percentile bootstrap (2.5-97.5)
over groups, `resamples` draws of `resample` (BenchSolution.group, the question; the item when
empty; PRMBench: its idx, shared by the classes made from one question). Each split is drawn
with seed + its index in sorted order; the headline's draws are the mean of the splits' draws.
A comparison of two verifiers on the same items resamples the same groups for both and reports
the difference as a `Paired` (its interval the bootstrap's; "level" when it includes 0).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence, cast

import numpy as np

from data.config import ConfigError, build_dataclass, save_config
from data.prm_bench import (
    CORRECT,
    PRMBENCH,
    PROCESSBENCH,
    PROCESSBENCH_SPLITS,
    BenchSolution,
    BenchSteps,
    read_prmbench,
    read_processbench,
)
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import RecordError, Sample, read_records, to_json, write_atomic
from data.toy_bench import toy_processbench
from eval.paired import RESAMPLES, Paired, resample
from eval.plots import figure
from eval.summary import Summary, fmt
from ttc.stages.spec import Finding, ReportPart, StageSpec
from ttc.verifiers.spec import VerifierConfig, load_verifier, resolve_path

log = logging.getLogger(__name__)
TOY_SET = "toy_processbench.jsonl"  # benchmark toy: the set built from the samples (BenchSolution records)
PREDICTIONS = "predictions.jsonl"  # each item's label and every verifier's prediction (ItemRecord / StepsRecord)
Values = list[list[float]]  # one value per step of each item, in the items' order
GROUPS = {
    "simplicity": ("redundency", "circular"),
    "soundness": ("counterfactual", "step_contradiction", "domain_inconsistency", "confidence"),
    "sensitivity": ("missing_condition", "deception", "multi_solutions"),
}


@dataclass
class BenchPRMConfig:
    verifiers: dict[str, VerifierConfig]  # name -> its spec (ttc/verifiers/spec.py), each section a VerifierConfig
    output_dir: str
    benchmark: Literal["processbench", "prmbench", "toy"] = "processbench"
    data: str | None = None  # a file, a folder or a dataset hub id in the HF cache; None: the benchmark's hub id
    samples: str | None = None  # toy: the policy's samples the toy world labels (data/toy_bench.py); read only then
    problems: DataConfig = field(default_factory=DataConfig)  # toy: the problems they were sampled for
    per_question: int | None = None  # toy: a question's first samples kept (None: all)
    min_per_kind: int = 20  # toy: a level with fewer erroneous or correct solutions is left out (data/toy_bench.py)
    splits: list[str] = field(default_factory=list)  # ProcessBench splits / PRMBench classes; empty: all
    compare: list[str] = field(default_factory=list)  # [a, b]: a paired comparison of two verifiers
    threshold: float | str = 0.5  # a value, or (ProcessBench) a split name: the F1-maximizing one there
    prompt: PromptFormat = field(default_factory=PromptFormat)  # the policy's, for the likelihood baseline
    seed: int = 0
    resamples: int = RESAMPLES
    max_items: int | None = None  # at most this many items a split (PRMBench: a class), for quick runs

    def __post_init__(self) -> None:
        self.verifiers = {
            name: spec
            if isinstance(spec, VerifierConfig)
            else build_dataclass(VerifierConfig, spec, f"verifiers.{name}", {})
            for name, spec in self.verifiers.items()
        }
        if not self.verifiers:
            raise ValueError("verifiers: name at least one verifier")
        if self.compare and (len(self.compare) != 2 or not set(self.compare) <= set(self.verifiers)):
            raise ValueError(
                f"compare: expected two of the verifiers ({', '.join(self.verifiers)}), got {self.compare}"
            )
        if self.benchmark == "toy" and self.samples is None:
            raise ValueError("samples: the toy benchmark's input (benchmark: toy)")
        if (self.per_question is not None and self.per_question < 1) or self.min_per_kind < 1:
            raise ValueError(
                f"per_question must be >= 1 or null and min_per_kind >= 1, got {self.per_question} "
                f"and {self.min_per_kind}"
            )
        if isinstance(self.threshold, str) and self.benchmark == "prmbench":
            raise ValueError("threshold: PRMBench takes a number (no published tuning split)")
        if self.resamples < 0 or (self.max_items is not None and self.max_items < 1):
            raise ValueError("resamples must be >= 0 and max_items >= 1 or None")


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A number and its bootstrap interval (None: < 2 groups, or undefined)."""

    value: float | None
    low: float | None = None
    high: float | None = None

    def text(self, scale: float = 100.0) -> str:
        if self.value is None:
            return "-"
        spread = "" if self.low is None else f" [{self.low * scale:.1f}, {cast(float, self.high) * scale:.1f}]"
        return f"{self.value * scale:.1f}{spread}"


@dataclass(frozen=True)
class ItemPrediction:
    """One ProcessBench-shaped item: its label and one verifier's predicted earliest-error index
    (in memory: predictions.jsonl holds every verifier's as an ItemRecord)."""

    id: str
    split: str
    group: str  # the resampling unit (the item's id when the set gives none)
    label: int
    predicted: int
    error_class: str | None = None


@dataclass(frozen=True)
class SplitScore:
    n_erroneous: int
    n_correct: int
    acc_erroneous: float | None
    acc_correct: float | None
    f1: Estimate


@dataclass(frozen=True)
class ClassScore:
    """The accuracy on the erroneous items of one error class (the earliest error found exactly)."""

    n: int
    accuracy: Estimate


@dataclass(frozen=True)
class ProcessBenchResult:
    threshold: float
    threshold_from: str  # "given", or the split it maximizes F1 on
    splits: dict[str, SplitScore]
    average_f1: Estimate  # the headline: the mean over splits
    classes: dict[str, ClassScore]  # by error_class, where the set has them


@dataclass(frozen=True)
class StepCounts:
    """One PRMBench item's confusion counts under one verifier (positive: a correct step judged valid)."""

    id: str
    classification: str
    group: str
    tp: int
    fp: int
    tn: int
    fn: int


@dataclass(frozen=True)
class PRMBenchResult:
    threshold: float
    prmscore: Estimate  # overall: every class but `correct`
    f1_correct: float | None
    f1_erroneous: float | None
    classes: dict[str, Estimate]  # PRMScore per classification
    groups: dict[str, float | None]  # simplicity / soundness / sensitivity: the mean of their classes'


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    metric: str  # "average F1", a split's name, or "PRMScore"
    paired: Paired  # mean_a / mean_b: the two numbers; diff and its paired bootstrap interval


@dataclass(frozen=True)
class ItemRecord:
    """predictions.jsonl, ProcessBench-shaped items: one item's label and each verifier's prediction."""

    id: str
    split: str
    group: str  # the resampling unit (the item's id when the set gives none)
    label: int  # the earliest wrong step, -1 for none
    error_class: str | None
    predicted: dict[str, int]  # verifier name -> its predicted earliest wrong step, -1 for none


@dataclass(frozen=True)
class StepsRecord:
    """predictions.jsonl, PRMBench: one item's erroneous steps and each verifier's step counts."""

    id: str
    classification: str
    group: str
    errors: list[int]  # the indices of the erroneous steps
    counts: dict[str, list[int]]  # verifier name -> [tp, fp, tn, fn] over the item's steps


@dataclass(frozen=True)
class BenchSummary(Summary):
    """prm_bench.json: per verifier the benchmark's numbers (each item's predictions: predictions.jsonl)."""

    FORMAT = "ttc.prm_bench"
    VERSION = 2  # 2: the per-item predictions moved to predictions.jsonl
    benchmark: str
    data: str
    processbench: dict[str, ProcessBenchResult] = field(default_factory=dict)
    prmbench: dict[str, PRMBenchResult] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    resamples: int = RESAMPLES
    seed: int = 0


Evaluated = tuple[BenchSummary, list[ItemRecord] | list[StepsRecord]]  # prm_bench.json and predictions.jsonl


# --- the bootstrap -------------------------------------------------------------------------------


def by_group(groups: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """The rows summed per group, groups in sorted order: [groups, columns]."""
    order = {g: i for i, g in enumerate(sorted(set(groups)))}
    out = np.zeros((len(order), rows.shape[1]))
    np.add.at(out, [order[g] for g in groups], rows)
    return out


def draws(counts: np.ndarray, metric: Callable[[np.ndarray], np.ndarray], resamples: int, seed: int) -> np.ndarray:
    """`metric` of the summed counts of `resamples` bootstrap resamples of the groups: [resamples]."""
    if len(counts) < 2 or not resamples:
        return np.full(0, np.nan)
    return metric(counts[resample(len(counts), resamples, seed)].sum(axis=1))


def interval(sampled: np.ndarray) -> tuple[float | None, float | None]:
    finite = sampled[np.isfinite(sampled)]
    if len(finite) < 2:
        return None, None
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def number(x: float | np.ndarray) -> float | None:
    return None if not np.isfinite(x) else float(x)


def estimate(counts: np.ndarray, metric: Callable[[np.ndarray], np.ndarray], resamples: int, seed: int) -> Estimate:
    return Estimate(number(metric(counts.sum(axis=0))), *interval(draws(counts, metric, resamples, seed)))


def ratio(hit: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hit / np.where(n > 0, n, 1), np.nan)


def harmonic(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """2ab / (a + b); 0 when a + b is 0; NaN where either is undefined."""
    s = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s == 0, 0.0, 2 * a * b / np.where(s == 0, 1, s))


# --- ProcessBench --------------------------------------------------------------------------------


def first_error(values: Sequence[float], threshold: float) -> int:
    """The index of the first step valued below `threshold`; -1 when none is."""
    return next((i for i, v in enumerate(values) if v < threshold), -1)


def processbench_f1(c: np.ndarray) -> np.ndarray:
    """F1 from [..., 4] counts: erroneous items, their hits, correct items, their hits."""
    return harmonic(ratio(c[..., 1], c[..., 0]), ratio(c[..., 3], c[..., 2]))


def rows(items: Sequence[ItemPrediction]) -> np.ndarray:
    return np.array(
        [
            [
                i.label != -1,
                i.label != -1 and i.predicted == i.label,
                i.label == -1,
                i.label == -1 and i.predicted == -1,
            ]
            for i in items
        ],
        dtype=float,
    ).reshape(-1, 4)


def tuned_threshold(solutions: Sequence[BenchSolution], values: Values, split: str) -> float:
    """Of the values on `split` (and one above them all), the threshold maximizing that split's
    F1; ties: the lowest. A solution's prediction at t is the count of its leading steps whose
    running minimum is >= t (the running minimum falls below t exactly at the first error)."""
    chosen = [(s, v) for s, v in zip(solutions, values) if s.split == split]
    if not chosen:
        raise ConfigError(f"threshold: no item of split {split!r} to tune it on")
    width = max(1, max(len(v) for _, v in chosen))
    running = np.full((len(chosen), width), -np.inf)
    for i, (_, v) in enumerate(chosen):
        running[i, : len(v)] = np.minimum.accumulate(v) if v else []
    lengths = np.array([len(v) for _, v in chosen])
    labels = np.array([s.label for s, _ in chosen])
    seen = np.unique(running[np.isfinite(running)])
    candidates = np.append(seen, np.nextafter(seen.max(), np.inf)) if len(seen) else np.array([0.5])
    best, best_f1 = float(candidates[0]), -1.0
    for chunk in np.array_split(candidates, max(1, len(candidates) // 256)):
        count = (running[None] >= chunk[:, None, None]).sum(axis=2)  # [candidates, items]
        predicted = np.where(count < lengths, count, -1)
        hit = predicted == labels
        err, cor = labels != -1, labels == -1
        f1 = processbench_f1(
            np.stack(
                [
                    np.broadcast_to(err, hit.shape).sum(1),
                    (hit & err).sum(1),
                    np.broadcast_to(cor, hit.shape).sum(1),
                    (hit & cor).sum(1),
                ],
                axis=1,
            )
        )
        f1 = np.nan_to_num(f1, nan=-1.0)
        if f1.max() > best_f1:
            best, best_f1 = float(chunk[int(f1.argmax())]), float(f1.max())
    return best


def predictions(solutions: Sequence[BenchSolution], values: Values, threshold: float) -> list[ItemPrediction]:
    if len(solutions) != len(values):
        raise ValueError(f"{len(solutions)} solutions but {len(values)} lists of step values")
    return [
        ItemPrediction(s.id, s.split, s.group or s.id, s.label, first_error(v, threshold), s.error_class)
        for s, v in zip(solutions, values)
    ]


def score_processbench(
    solutions: Sequence[BenchSolution],
    values: Values,
    threshold: float | str = 0.5,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> ProcessBenchResult:
    """The published metrics of one verifier's step values on ProcessBench-shaped items (the
    toy set's too); `threshold` a value or a split to tune it on (module docstring)."""
    t, source = resolved_threshold(solutions, values, threshold)
    return processbench_result(predictions(solutions, values, t), t, source, resamples, seed)


def resolved_threshold(solutions: Sequence[BenchSolution], values: Values, threshold: float | str) -> tuple[float, str]:
    """The threshold a value or a split names, and where it came from ("given" or the split)."""
    if isinstance(threshold, str):
        return tuned_threshold(solutions, values, threshold), threshold
    return float(threshold), "given"


def processbench_result(
    items: list[ItemPrediction], threshold: float, source: str, resamples: int, seed: int
) -> ProcessBenchResult:
    splits, sampled = {}, []
    for k, split in enumerate(sorted({i.split for i in items})):
        mine = [i for i in items if i.split == split]
        r = rows(mine)
        counts = by_group([i.group for i in mine], r)
        total = r.sum(axis=0)
        split_draws = draws(counts, processbench_f1, resamples, seed + k)
        sampled.append(split_draws)
        splits[split] = SplitScore(
            int(total[0]),
            int(total[2]),
            number(ratio(total[1], total[0])),
            number(ratio(total[3], total[2])),
            Estimate(number(processbench_f1(total)), *interval(split_draws)),
        )
    f1s = [s.f1.value for s in splits.values()]
    average = None if None in f1s else float(np.mean(f1s))
    spread = interval(np.mean(sampled, axis=0)) if all(len(d) for d in sampled) and sampled else (None, None)
    return ProcessBenchResult(
        threshold, source, splits, Estimate(average, *spread), class_scores(items, resamples, seed)
    )


def class_scores(items: Sequence[ItemPrediction], resamples: int, seed: int) -> dict[str, ClassScore]:
    """The accuracy on the erroneous items of each error class."""
    out = {}
    for name in sorted({i.error_class for i in items if i.error_class and i.label != -1}):
        mine = [i for i in items if i.error_class == name and i.label != -1]
        counts = by_group([i.group for i in mine], np.array([[1.0, i.predicted == i.label] for i in mine]))
        out[name] = ClassScore(len(mine), estimate(counts, lambda c: ratio(c[..., 1], c[..., 0]), resamples, seed))
    return out


def compare_processbench(
    a: Sequence[ItemPrediction], b: Sequence[ItemPrediction], names: tuple[str, str], resamples: int, seed: int
) -> list[Comparison]:
    """a's predictions vs b's on the items both scored: each split's F1 and the average, the same groups
    drawn for both; a split without an F1 is left out, and then the average too (fewer splits' is no headline)."""
    mine = {i.id: i for i in b}
    shared = [(i, mine[i.id]) for i in a if i.id in mine]
    if not shared:
        raise ValueError(f"compare: {names[0]} and {names[1]} share no item")
    out, sampled, means, complete = [], [], [], True
    for k, split in enumerate(sorted({i.split for i, _ in shared})):
        pairs = [(x, y) for x, y in shared if x.split == split]
        groups = [x.group for x, _ in pairs]
        ca, cb = (by_group(groups, rows([p[side] for p in pairs])) for side in (0, 1))
        f1a, f1b = float(processbench_f1(ca.sum(0))), float(processbench_f1(cb.sum(0)))
        if not np.isfinite([f1a, f1b]).all():  # a split without both kinds of solution has no F1
            complete = False
            continue
        means.append((f1a, f1b))
        # the same seed and groups: the same resamples for both (none with < 2 groups)
        diff = draws(ca, processbench_f1, resamples, seed + k) - draws(cb, processbench_f1, resamples, seed + k)
        sampled.append(diff)
        out.append(Comparison(*names, split, paired_of(f1a, f1b, diff, len(ca))))
    if not complete:
        return out
    average = np.mean(sampled, axis=0) if all(len(d) for d in sampled) else np.full(0, np.nan)
    mean_a, mean_b = (float(np.mean([m[j] for m in means])) for j in (0, 1))
    out.append(Comparison(*names, "average F1", paired_of(mean_a, mean_b, average, len({x.group for x, _ in shared}))))
    return out


def paired_of(mean_a: float, mean_b: float, sampled: np.ndarray, n: int) -> Paired:
    """a vs b as a Paired: its interval the percentiles of the paired draws of a - b."""
    return Paired(mean_a, mean_b, mean_a - mean_b, *interval(sampled), n)


# --- PRMBench -----------------------------------------------------------------------------------


def step_counts(items: Sequence[BenchSteps], values: Values, threshold: float) -> list[StepCounts]:
    """Each item's confusion counts: a step is judged valid when its value is > threshold."""
    if len(items) != len(values):
        raise ValueError(f"{len(items)} items but {len(values)} lists of step values")
    out = []
    for item, v in zip(items, values):
        valid = [x > threshold for x in v]
        wrong = [i in item.errors for i in range(len(v))]
        out.append(
            StepCounts(
                item.id,
                item.classification,
                item.group or item.id,
                sum(ok and not w for ok, w in zip(valid, wrong)),
                sum(ok and w for ok, w in zip(valid, wrong)),
                sum(not ok and w for ok, w in zip(valid, wrong)),
                sum(not ok and not w for ok, w in zip(valid, wrong)),
            )
        )
    return out


def f1_pair(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 of the correct steps and of the erroneous steps from [..., 4] counts tp, fp, tn, fn:
    2 hits / (2 hits + misses + false alarms), 0 with no hit, undefined with none of the class
    either present or predicted. (For the erroneous steps the hits are tn, the false alarms fn.)"""
    tp, fp, tn, fn = (c[..., j] for j in range(4))
    return ratio(2 * tp, 2 * tp + fp + fn), ratio(2 * tn, 2 * tn + fn + fp)


def prmscore(c: np.ndarray) -> np.ndarray:
    positive, negative = f1_pair(c)
    return 0.5 * positive + 0.5 * negative


def positive_f1(c: np.ndarray) -> np.ndarray:
    return f1_pair(c)[0]


def score_prmbench(
    items: Sequence[BenchSteps], values: Values, threshold: float = 0.5, resamples: int = RESAMPLES, seed: int = 0
) -> PRMBenchResult:
    """PRMScore overall, per classification and per published group (module docstring)."""
    return prmbench_result(step_counts(items, values, threshold), threshold, resamples, seed)


def prmbench_result(counts: list[StepCounts], threshold: float, resamples: int, seed: int) -> PRMBenchResult:
    def table(chosen: list[StepCounts]) -> np.ndarray:
        return by_group([c.group for c in chosen], np.array([[c.tp, c.fp, c.tn, c.fn] for c in chosen], dtype=float))

    scored = [c for c in counts if c.classification != CORRECT]
    overall = table(scored) if scored else np.zeros((0, 4))
    classes = {}
    for name in sorted({c.classification for c in counts}):
        t = table([c for c in counts if c.classification == name])
        metric = prmscore if t[:, 1:3].sum() else positive_f1  # no erroneous step: F1(correct) alone
        classes[name] = estimate(t, metric, resamples, seed)
    groups = {g: mean_defined([classes[c].value for c in members if c in classes]) for g, members in GROUPS.items()}
    f1s = f1_pair(overall.sum(axis=0))
    return PRMBenchResult(
        threshold, estimate(overall, prmscore, resamples, seed), number(f1s[0]), number(f1s[1]), classes, groups
    )


def mean_defined(xs: list[float | None]) -> float | None:
    kept = [x for x in xs if x is not None]
    return float(np.mean(kept)) if kept else None


def compare_prmbench(
    a: Sequence[StepCounts], b: Sequence[StepCounts], names: tuple[str, str], resamples: int, seed: int
) -> list[Comparison]:
    """a's step counts vs b's: the overall PRMScore on the items both scored, the same groups drawn for both."""
    mine = {c.id: c for c in b}
    shared = [(x, mine[x.id]) for x in a if x.id in mine and x.classification != CORRECT]
    if not shared:
        raise ValueError(f"compare: {names[0]} and {names[1]} share no item")
    groups = [x.group for x, _ in shared]
    ca, cb = (
        by_group(groups, np.array([[c.tp, c.fp, c.tn, c.fn] for c in (p[side] for p in shared)], dtype=float))
        for side in (0, 1)
    )
    means = float(prmscore(ca.sum(0))), float(prmscore(cb.sum(0)))
    if not np.isfinite(means).all():
        return []  # no PRMScore to compare
    sampled = draws(ca, prmscore, resamples, seed) - draws(cb, prmscore, resamples, seed)  # the same groups drawn
    return [Comparison(*names, "PRMScore", paired_of(means[0], means[1], sampled, len(ca)))]


# --- running verifiers ---------------------------------------------------------------------------


def score_with(spec: VerifierConfig, prompt: PromptFormat, questions: list[str], steps: list[list[str]]) -> Values:
    """The step values of one verifier, loaded for this and closed after (its engine freed)."""
    verifier = load_verifier(spec, prompt)
    try:
        return verifier.score(questions, steps)
    finally:
        verifier.close()


def capped(items: list, key: Callable, limit: int | None) -> list:
    """The first `limit` items of each key (split, class), in order; all with None."""
    if limit is None:
        return items
    seen: dict[str, int] = {}
    kept = []
    for item in items:
        seen[key(item)] = seen.get(key(item), 0) + 1
        if seen[key(item)] <= limit:
            kept.append(item)
    return kept


def load_items(cfg: BenchPRMConfig) -> list[BenchSolution] | list[BenchSteps]:
    if cfg.benchmark == "toy":
        assert cfg.samples is not None  # BenchPRMConfig checked
        built = toy_processbench(
            read_records(cfg.samples, Sample), load_problems(cfg.problems), cfg.per_question, cfg.min_per_kind
        )
        return capped(built, lambda s: s.split, cfg.max_items)
    if cfg.benchmark == "processbench":
        solutions = read_processbench(cfg.data or PROCESSBENCH, cfg.splits or PROCESSBENCH_SPLITS)
        if isinstance(cfg.threshold, str) and cfg.threshold not in {s.split for s in solutions}:
            raise ConfigError(
                f"threshold: {cfg.threshold!r} is neither a number nor a split read "
                f"({', '.join(sorted({s.split for s in solutions}))})"
            )
        return capped(solutions, lambda s: s.split, cfg.max_items)
    return capped(read_prmbench(cfg.data or PRMBENCH, cfg.splits), lambda s: s.classification, cfg.max_items)


def evaluate_processbench(
    solutions: Sequence[BenchSolution],
    values: dict[str, Values],
    threshold: float | str,
    compare: Sequence[str] = (),
    resamples: int = RESAMPLES,
    seed: int = 0,
    data: str = "",
) -> Evaluated:
    """Every verifier's results on the same items, the comparison `compare` names, and each item's record."""
    thresholds = {name: resolved_threshold(solutions, v, threshold) for name, v in values.items()}
    predicted = {name: predictions(solutions, values[name], t) for name, (t, _) in thresholds.items()}
    results = {
        name: processbench_result(predicted[name], t, source, resamples, seed)
        for name, (t, source) in thresholds.items()
    }
    pair = cast(tuple[str, str], tuple(compare))  # `compare`: two names or none (the config checks)
    comparisons = compare_processbench(predicted[pair[0]], predicted[pair[1]], pair, resamples, seed) if pair else []
    summary = BenchSummary(
        "processbench", data, processbench=results, comparisons=comparisons, resamples=resamples, seed=seed
    )
    return summary, item_records(solutions, predicted)


def item_records(solutions: Sequence[BenchSolution], predicted: dict[str, list[ItemPrediction]]) -> list[ItemRecord]:
    """Each item once, with every verifier's prediction by name (the lists are in the items' order)."""
    return [
        ItemRecord(
            s.id,
            s.split,
            s.group or s.id,
            s.label,
            s.error_class,
            {name: p[k].predicted for name, p in predicted.items()},
        )
        for k, s in enumerate(solutions)
    ]


def evaluate_prmbench(
    items: Sequence[BenchSteps],
    values: dict[str, Values],
    threshold: float,
    compare: Sequence[str] = (),
    resamples: int = RESAMPLES,
    seed: int = 0,
    data: str = "",
) -> Evaluated:
    counted = {name: step_counts(items, v, threshold) for name, v in values.items()}
    results = {name: prmbench_result(c, threshold, resamples, seed) for name, c in counted.items()}
    pair = cast(tuple[str, str], tuple(compare))  # `compare`: two names or none (the config checks)
    comparisons = compare_prmbench(counted[pair[0]], counted[pair[1]], pair, resamples, seed) if pair else []
    summary = BenchSummary("prmbench", data, prmbench=results, comparisons=comparisons, resamples=resamples, seed=seed)
    return summary, steps_records(items, counted)


def steps_records(items: Sequence[BenchSteps], counted: dict[str, list[StepCounts]]) -> list[StepsRecord]:
    """Each item once, with every verifier's step counts by name (the lists are in the items' order)."""
    return [
        StepsRecord(
            i.id,
            i.classification,
            i.group or i.id,
            sorted(i.errors),
            {name: [c[k].tp, c[k].fp, c[k].tn, c[k].fn] for name, c in counted.items()},
        )
        for k, i in enumerate(items)
    ]


# --- outputs -------------------------------------------------------------------------------------


def markdown(summary: BenchSummary) -> str:
    """Tables in percent, each number with its bootstrap 95% interval in brackets."""
    lines = [
        f"# {summary.benchmark} ({summary.data or 'items given'}); 95% bootstrap intervals over questions, "
        f"{summary.resamples} resamples",
        "",
    ]
    for name, r in summary.processbench.items():
        tuned = f" (the F1-maximizing one on {r.threshold_from})" if r.threshold_from != "given" else ""
        lines += [
            f"## {name}: threshold {r.threshold:.4g}{tuned}",
            "",
            "| split | erroneous | correct | acc erroneous | acc correct | F1 |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {split} | {s.n_erroneous} | {s.n_correct} | {fmt(pct(s.acc_erroneous), '.1f')} | "
            f"{fmt(pct(s.acc_correct), '.1f')} | {s.f1.text()} |"
            for split, s in r.splits.items()
        ]
        lines += [f"| average | | | | | {r.average_f1.text()} |", ""]
        if r.classes:
            lines += ["| error class | erroneous items | accuracy |", "|---|---|---|"]
            lines += [f"| {c} | {s.n} | {s.accuracy.text()} |" for c, s in r.classes.items()] + [""]
    for name, r in summary.prmbench.items():
        lines += [
            f"## {name}: threshold {r.threshold:.4g}",
            "",
            f"PRMScore {r.prmscore.text()} (F1 correct steps {fmt(pct(r.f1_correct), '.1f')}, "
            f"F1 erroneous steps {fmt(pct(r.f1_erroneous), '.1f')})",
            "",
            "| classification | PRMScore |",
            "|---|---|",
        ]
        lines += [f"| {c} | {e.text()} |" for c, e in r.classes.items()]
        lines += [f"| **{g}** | {fmt(pct(v), '.1f')} |" for g, v in r.groups.items()] + [""]
    if summary.comparisons:
        lines += ["## comparisons (paired bootstrap, same questions)", ""]
        lines += [f"- {c.metric}: {c.a} {c.paired.words(c.b)}" for c in summary.comparisons]
    return "\n".join(lines) + "\n"


def findings(summary: BenchSummary) -> list[str]:
    """The report's sentences: each verifier's headline number, its error classes, and the comparisons."""
    said = []
    for name, r in summary.processbench.items():
        classes = (
            "; by the first error's class, "
            + ", ".join(f"{c} {s.accuracy.text()} (n={s.n})" for c, s in r.classes.items())
            if r.classes
            else ""
        )
        said.append(
            f"{name}: average F1 {r.average_f1.text()} (percent, 95% interval) over the splits "
            f"{', '.join(r.splits)} of {summary.data} (first step below {r.threshold:.4g}){classes}."
        )
    said += [f"{name}: PRMScore {r.prmscore.text()} (random: 50)." for name, r in summary.prmbench.items()]
    said += [
        f"{c.metric}: {c.a} {c.paired.words(c.b)}."
        for c in summary.comparisons
        if c.metric in ("average F1", "PRMScore")
    ]
    return said


def pct(x: float | None) -> float | None:
    return None if x is None else 100 * x


def plot(summary: BenchSummary, path: Path) -> None:
    """Bars: each verifier's F1 per split and average (ProcessBench) or PRMScore per class, with intervals."""
    panels = {
        n: {**{s: v.f1 for s, v in r.splits.items()}, "average": r.average_f1} for n, r in summary.processbench.items()
    } or {n: {"overall": r.prmscore, **r.classes} for n, r in summary.prmbench.items()}
    keys = list(next(iter(panels.values())))
    with figure(path, size=(max(6, 1.2 * len(keys)), 4)) as (_, ax):
        width = 0.8 / len(panels)
        for j, (name, bars) in enumerate(panels.items()):
            x = np.arange(len(keys)) + j * width
            value = np.array([bars[k].value if bars[k].value is not None else np.nan for k in keys])
            errs = np.array(
                [
                    [v - bars[k].low if bars[k].low is not None else 0 for k, v in zip(keys, value)],
                    [bars[k].high - v if bars[k].high is not None else 0 for k, v in zip(keys, value)],
                ]
            )
            ax.bar(x, 100 * value, width, yerr=100 * np.nan_to_num(errs), capsize=3, label=name)
        ax.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, keys, rotation=30, ha="right")
        ax.set_ylabel("F1" if summary.processbench else "PRMScore")
        ax.legend()


def write(summary: BenchSummary, records: list[ItemRecord] | list[StepsRecord], out: Path) -> str:
    summary.save(out / "prm_bench.json")
    write_atomic(out / PREDICTIONS, [to_json(r) for r in records])
    plot(summary, out / "prm_bench.png")
    text = markdown(summary)
    (out / "prm_bench.md").write_text(text)
    return text


def source(cfg: BenchPRMConfig) -> str:
    """What the items were read from, as the summary names it."""
    if cfg.benchmark == "toy":
        return "toy-ProcessBench"  # its samples: config.yaml beside the results
    return cfg.data or (PRMBENCH if cfg.benchmark == "prmbench" else PROCESSBENCH)


def main(cfg: BenchPRMConfig) -> str:
    for name, spec in cfg.verifiers.items():  # every model here before any loads
        try:
            resolve_path(spec.path, spec.kind == "likelihood")
        except ConfigError as e:
            raise ConfigError(f"verifiers.{name}.{e}") from None
    items = load_items(cfg)
    if not items:
        raise RecordError(f"{cfg.data}: no item of the splits asked for ({cfg.splits})")
    out = Path(cfg.output_dir)
    save_config(cfg, out / "config.yaml")
    questions = [i.problem if isinstance(i, BenchSolution) else i.question for i in items]
    values = {}
    for name, spec in cfg.verifiers.items():
        log.info("bench-prm: scoring %d items with %s (%s)", len(items), name, spec.kind)
        values[name] = score_with(spec, cfg.prompt, questions, [i.steps for i in items])
    if cfg.benchmark == "toy":  # the set as built, beside its scores
        write_atomic(out / TOY_SET, [to_json(item) for item in items])
    if cfg.benchmark == "prmbench":  # BenchPRMConfig checked: PRMBench's steps, a number for its threshold
        steps, threshold = cast(list[BenchSteps], items), cast(float, cfg.threshold)
        summary, records = evaluate_prmbench(
            steps, values, threshold, cfg.compare, cfg.resamples, cfg.seed, source(cfg)
        )
    else:
        solutions = cast(list[BenchSolution], items)
        summary, records = evaluate_processbench(
            solutions, values, cfg.threshold, cfg.compare, cfg.resamples, cfg.seed, source(cfg)
        )
    return write(summary, records, out)


# --- its part of the run's report (ttc/pipeline/report.py) and its headline comparisons ---
def bench_findings(folder: Path) -> list[Finding]:
    said = findings(BenchSummary.load(folder / "prm_bench.json"))
    return [Finding(sentence, "prm_bench.png" if i == 0 else None) for i, sentence in enumerate(said)]


PART = ReportPart(
    "PRM on a step-level benchmark (ProcessBench's metric)",
    30,
    "PRM benchmark (ttc bench-prm)",
    "prm_bench.json",
    ("prm_bench.md",),
    bench_findings,
)


STAGE = StageSpec(config=BenchPRMConfig, main=main, report=PART)
