"""Question difficulty bins (the paper's Section 3.2, Appendix C): oracle and predicted.

    ttc difficulty --config configs/toy/difficulty.yaml

- Oracle: a test question's difficulty is the base model's pass@1 over its first
  `num_samples` samples (paper: 2048; the unbiased pass@1 is the fraction correct).
- Predicted: the mean PRM final-step ("last") score over the very same samples; no ground
  truth is used. A sample with no step scores 0.0, as in search (ttc/search/session.py).
- Bins: 5 quantiles of that value over the test questions, 1 = easiest (highest pass@1 or
  score) ... 5 = hardest.

How quantiles are cut (the paper is silent): equal-count bins by rank. Questions are ordered
easiest first; ties in the value are broken by a seeded random permutation, not by id (ids
such as the toy world's carry the level), so tied questions may straddle a bin edge. The
question at rank r (0-based) of n goes to bin floor(K r / n) + 1: bin b holds the ranks with
r / n in [(b-1)/K, b/K), so bin sizes are floor or ceil of n / K, the extra ones spread evenly
(n = 7, K = 5: sizes 2, 1, 2, 1, 1). Fewer questions than bins is an error.

Agreement of predicted with oracle difficulty (`Agreement`), each beside its chance level:
- exact: the fraction of questions whose predicted bin is the oracle bin; chance 1/K (two
  independent assignments to K equal-count bins agree on 1/K of questions in expectation);
- within one bin: |predicted - oracle| <= 1; chance (K + 2 (K - 1)) / K^2, two independent
  uniform bins (0.52 at K = 5);
- Spearman's rank correlation of the two values over questions (mean PRM score against pass@1,
  average ranks for ties, then Pearson's r of the ranks); chance 0. Its 95% interval is Fisher's
  z: tanh(atanh(rho) +- 1.96 sqrt(1.06 / (n - 3))), the variance 1.06 / (n - 3) that Fieller,
  Hartley and Pearson (1957) give for Spearman's rho (Pearson's is 1 / (n - 3)); none with fewer
  than 4 questions, and no rho where either value is constant (ranks all tied).

Which samples the bins were cut from (`SamplesSource`, stated in difficulty.md): the samples
file and its sampling seed, read from the `<name>.settings.json` the sample stage saves beside
its records (data/shards.py: `sampling.seed`), else from `samples_seed` (a seed given in both
places must agree). They should be apart from the search grid's pools: the grid draws its own
with its `seeds`, and a sampling seed none of those uses keeps the two apart (the full preset
samples difficulty's set with seed 100: configs/toy/sample_eval.yaml).

Writes `bins_oracle.json` (and `bins_predicted.json` with a PRM; data/bins.py), `difficulty.json`
(`DifficultySummary`: the samples' source and the agreement, what `ttc report` reads),
`difficulty.md` and `difficulty.png` (pass@1 against mean PRM score, coloured by oracle bin).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from data.bins import Bins
from data.config import ConfigError, save_config
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Sample, read_records
from data.shards import read_settings
from eval.estimators import pass_at_k
from eval.paired import Z95
from eval.plots import Section, figure
from eval.summary import Summary
from ttc.stages.spec import Finding, ReportPart, StageSpec
from ttc.verifiers import Verifier, aggregate
from ttc.verifiers.spec import VerifierConfig, load_verifier

log = logging.getLogger(__name__)
SampleKey = tuple[str, int]  # (problem id, sample index)


# --- the value per question ---------------------------------------------------------------------
def group_samples(samples: Sequence[Sample], num_samples: int | None = None) -> dict[str, list[Sample]]:
    """Each problem's samples in index order, the first `num_samples` (all when None); a problem
    with fewer is an error (its pass@1 would rest on fewer samples than asked)."""
    if not samples:
        raise ValueError("no samples: difficulty needs samples of the base model per test question")
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.problem_id].append(s)
    out = {}
    for pid, group in sorted(groups.items()):
        group.sort(key=lambda s: s.index)
        if num_samples is not None and len(group) < num_samples:
            raise ValueError(f"problem {pid}: {len(group)} samples, fewer than num_samples={num_samples}")
        out[pid] = group[:num_samples]
    return out


def pass_at_1(groups: Mapping[str, Sequence[Sample]]) -> dict[str, float]:
    """Oracle difficulty: the base model's pass@1 per question."""
    return {pid: pass_at_k(len(g), sum(s.correct for s in g), 1) for pid, g in groups.items()}


def final_scores(
    groups: Mapping[str, Sequence[Sample]], verifier: Verifier, questions: Mapping[str, str]
) -> dict[SampleKey, float]:
    """The verifier's last-step value of every sample (one verifier call); 0.0 without steps."""
    items = [s for g in groups.values() for s in g]
    missing = sorted({s.problem_id for s in items} - set(questions))
    if missing:
        raise ValueError(f"no question text for {len(missing)} problem(s), e.g. {missing[0]}")
    scored = [s for s in items if s.steps]
    values = verifier.score([questions[s.problem_id] for s in scored], [s.steps for s in scored]) if scored else []
    by_key = {(s.problem_id, s.index): aggregate(v, "last") for s, v in zip(scored, values, strict=True)}
    return {(s.problem_id, s.index): by_key.get((s.problem_id, s.index), 0.0) for s in items}


def mean_final_score(groups: Mapping[str, Sequence[Sample]], scores: Mapping[SampleKey, float]) -> dict[str, float]:
    """Predicted difficulty: the mean final-step score of each question's samples (the scores
    come from `final_scores` or were computed before)."""
    means = {}
    for pid, g in groups.items():
        missing = [s.index for s in g if (pid, s.index) not in scores]
        if missing:
            raise ValueError(f"problem {pid}: no PRM score for sample(s) {missing[:5]}")
        means[pid] = float(np.mean([scores[(pid, s.index)] for s in g]))
    return means


# --- the bins -----------------------------------------------------------------------------------
def quantile_bins(values: Mapping[str, float], num_bins: int = 5, seed: int = 0) -> dict[str, int]:
    """Equal-count bins by rank, 1 = highest value (easiest); ties broken by a seeded random
    permutation (see the module docstring)."""
    ids = sorted(values)
    n = len(ids)
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    if n < num_bins:
        raise ValueError(f"{n} question(s) cannot fill {num_bins} bins")
    v = np.array([values[i] for i in ids], dtype=float)
    if not np.isfinite(v).all():
        raise ValueError(f"difficulty of {ids[int(np.argmin(np.isfinite(v)))]} is not a finite number")
    tie_break = np.random.default_rng(seed).permutation(n)
    order = np.lexsort((tie_break, -v))  # highest value first, then the permutation
    bins = np.empty(n, dtype=int)
    bins[order] = np.arange(n) * num_bins // n + 1
    return {pid: int(b) for pid, b in zip(ids, bins)}


# --- report -------------------------------------------------------------------------------------
def bin_table(bins: Mapping[str, int], values: Mapping[str, float], name: str) -> str:
    """Per bin: questions and the range of the value the bins were cut from."""
    rows = [f"| bin | questions | {name} min | mean | max |", "|---|---|---|---|---|"]
    for b in sorted(set(bins.values())):
        v = np.array([values[p] for p, x in bins.items() if x == b])
        rows.append(f"| {b} | {len(v)} | {v.min():.3f} | {v.mean():.3f} | {v.max():.3f} |")
    return "\n".join(rows)


def average_ranks(x: Sequence[float]) -> np.ndarray:
    """Ranks 1..n of `x`, ties given the mean of the ranks they span."""
    values = np.asarray(x, dtype=float)
    ranks = np.empty(len(values))
    ranks[np.argsort(values, kind="stable")] = np.arange(1, len(values) + 1)
    _, tied, counts = np.unique(values, return_inverse=True, return_counts=True)
    return np.bincount(tied, weights=ranks)[tied] / counts[tied]


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson's r of the average ranks; None where either side is constant."""
    if len(x) != len(y):
        raise ValueError(f"{len(x)} values against {len(y)}")
    rx, ry = average_ranks(x) - (len(x) + 1) / 2, average_ranks(y) - (len(y) + 1) / 2
    scale = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return None if scale == 0 else max(-1.0, min(1.0, float(rx @ ry) / scale))  # rounding past +-1


def spearman_interval(rho: float | None, n: int) -> tuple[float | None, float | None]:
    """Fisher-z 95% interval of Spearman's rho over n questions (module docstring)."""
    if rho is None or n < 4:
        return None, None
    if abs(rho) == 1:
        return rho, rho
    z, half = math.atanh(rho), Z95 * math.sqrt(1.06 / (n - 3))
    return math.tanh(z - half), math.tanh(z + half)


@dataclass(frozen=True)
class Agreement:
    """Predicted against oracle difficulty on the same questions, with chance levels (module docstring)."""

    num_bins: int
    questions: int
    exact: float  # predicted bin = oracle bin
    within_one: float
    spearman: float | None  # mean PRM score against pass@1; None: a value is constant
    spearman_low: float | None  # Fisher z 95% interval; None: < 4 questions or no rho
    spearman_high: float | None

    @property
    def chance_exact(self) -> float:
        return 1 / self.num_bins

    @property
    def chance_within_one(self) -> float:
        k = self.num_bins
        return (k + 2 * (k - 1)) / k**2

    def words(self) -> str:
        """'the oracle bin for 40% of 10 questions (chance 20%), within one bin for ...; Spearman ...'."""
        if self.spearman is None:
            rank = "no rank correlation (a value is the same for every question)"
        else:
            interval = (
                "no interval (< 4 questions)"
                if self.spearman_low is None
                else f"95% CI {self.spearman_low:+.2f} to {self.spearman_high:+.2f}, Fisher z"
            )
            rank = (
                f"Spearman rank correlation of mean PRM score with pass@1 {self.spearman:+.2f} ({interval}; chance 0)"
            )
        return (
            f"the oracle bin for {self.exact:.0%} of {self.questions} questions (chance {self.chance_exact:.0%}), "
            f"within one bin for {self.within_one:.0%} (chance {self.chance_within_one:.0%}); {rank}"
        )


def agreement(
    oracle: Mapping[str, int],
    predicted: Mapping[str, int],
    oracle_values: Mapping[str, float],
    predicted_values: Mapping[str, float],
    num_bins: int,
) -> Agreement:
    """Bins and values of the questions both have (module docstring)."""
    common = sorted(set(oracle) & set(predicted))
    if not common:
        raise ValueError("no question has both an oracle and a predicted bin")
    diff = np.array([abs(oracle[p] - predicted[p]) for p in common])
    rho = spearman([predicted_values[p] for p in common], [oracle_values[p] for p in common])
    return Agreement(
        num_bins,
        len(common),
        float(np.mean(diff == 0)),
        float(np.mean(diff <= 1)),
        rho,
        *spearman_interval(rho, len(common)),
    )


def plot_values(
    oracle_values: Mapping[str, float], predicted_values: Mapping[str, float], oracle: Mapping[str, int], path: Path
) -> None:
    with figure(path) as (_, ax):
        ids = sorted(oracle)
        from matplotlib import colormaps

        points = ax.scatter(
            [predicted_values[p] for p in ids],
            [oracle_values[p] for p in ids],
            c=[oracle[p] for p in ids],
            cmap=colormaps["viridis_r"].resampled(max(oracle.values())),
            s=12,
        )
        ax.figure.colorbar(points, ax=ax, label="oracle bin (1 = easiest)")
        ax.set_xlabel("mean PRM final-step score (predicted difficulty)")
        ax.set_ylabel("base model pass@1 (oracle difficulty)")
        ax.grid(alpha=0.3)


@dataclass(frozen=True)
class SamplesSource:
    """The samples the bins were cut from (module docstring)."""

    path: str
    seed: int | None  # their sampling seed; None: unknown
    seed_from: str  # where the seed was read: a settings file, or the config's samples_seed
    num_samples: int | None  # a question; None: all

    def words(self) -> str:
        taken = f"the first {self.num_samples} samples of each question" if self.num_samples else "every sample"
        seed = (
            f"sampling seed {self.seed} ({self.seed_from})"
            if self.seed is not None
            else "sampling seed unknown (no settings file beside them, no samples_seed)"
        )
        apart = f"as long as none of those is {self.seed}" if self.seed is not None else "if none of those drew them"
        return (
            f"Bins cut from `{self.path}`: {taken}, {seed}. The search grid draws its own pools with its "
            f"`seeds`: these samples are apart from them {apart}."
        )


def section(
    oracle: Mapping[str, int],
    oracle_values: Mapping[str, float],
    out_dir: Path | str,
    predicted: Mapping[str, int] | None = None,
    predicted_values: Mapping[str, float] | None = None,
    source: SamplesSource | None = None,
    num_bins: int | None = None,
) -> Section:
    """Markdown of the bins (and, with predicted bins, their agreement with the oracle and a
    scatter of the two values); `num_bins` defaults to the highest oracle bin."""
    text = ([source.words(), ""] if source else []) + [
        "Oracle difficulty: quintiles of the base model's pass@1 (bin 1 = easiest).",
        "",
        bin_table(oracle, oracle_values, "pass@1"),
    ]
    figures = []
    if predicted is not None and predicted_values is not None:
        agreed = agreement(oracle, predicted, oracle_values, predicted_values, num_bins or max(oracle.values()))
        text += [
            "",
            "Predicted difficulty: quintiles of the mean PRM final-step score, no ground truth.",
            "",
            bin_table(predicted, predicted_values, "mean PRM score"),
            "",
            f"Predicted bin = {agreed.words()}.",
        ]
        path = Path(out_dir) / "difficulty.png"
        plot_values(oracle_values, predicted_values, oracle, path)
        figures.append(path)
    return Section("\n".join(text) + "\n", figures)


@dataclass(frozen=True)
class DifficultySummary(Summary):
    """difficulty.json: where the bins come from and how the predicted ones agree with the oracle."""

    FORMAT = "ttc.difficulty"
    samples: SamplesSource
    agreement: Agreement | None  # None: oracle bins only


def write(out: Path | str, oracle: Bins, predicted: Bins | None, source: SamplesSource) -> str:
    """The stage's outputs: the bins, difficulty.json, difficulty.md (and its figure)."""
    out = Path(out)
    oracle.save(out / "bins_oracle.json")
    agreed = None
    if predicted is not None:
        predicted.save(out / "bins_predicted.json")
        agreed = agreement(oracle.bins, predicted.bins, oracle.values, predicted.values, oracle.num_bins)
    DifficultySummary(source, agreed).save(out / "difficulty.json")
    result = section(
        oracle.bins,
        oracle.values,
        out,
        predicted.bins if predicted else None,
        predicted.values if predicted else None,
        source,
        oracle.num_bins,
    )
    (out / "difficulty.md").write_text(result.markdown)
    return result.markdown


# --- entry --------------------------------------------------------------------------------------
@dataclass
class DifficultyConfig:
    samples: str  # samples.jsonl of the base model on the test questions (paper: 2048 each)
    output_dir: str
    prm: VerifierConfig | None = None  # the verifier of predicted bins; none: oracle bins only
    data: DataConfig = field(default_factory=DataConfig)  # the test questions (their text, for the PRM)
    prompt: PromptFormat = field(default_factory=PromptFormat)  # the policy's, for a likelihood; our PRM reads its own
    num_samples: int | None = None  # per question; None: all
    num_bins: int = 5
    seed: int = 0  # tie-break permutation
    samples_seed: int | None = None  # the samples' sampling seed, where no settings file beside them says it

    def __post_init__(self) -> None:
        if self.num_bins < 1 or (self.num_samples is not None and self.num_samples < 1):
            raise ValueError("num_bins and num_samples must be >= 1")


def check_inputs(cfg: DifficultyConfig, makers: dict[str, dict[str, Any]], where: str) -> None:
    """The run's check across stages (ttc/pipeline/run.py; `makers`: input key -> the settings of
    the stage that writes it): `num_samples` a question against the samples' stage's sampling.n,
    with every setting, before any model loads, rather than `group_samples` after hours of sampling."""
    sampling = makers.get("samples", {}).get("sampling", {})
    drawn = sampling.get("n")
    if drawn is not None and cfg.num_samples is not None and cfg.num_samples > drawn:
        raise ConfigError(
            f"{where}: num_samples {cfg.num_samples} a question, but the samples it reads are "
            f"{drawn} a question (sampling.n): lower num_samples (null: all) or raise sampling.n"
        )
    seed = sampling.get("seed")
    if seed is not None and cfg.samples_seed is not None and cfg.samples_seed != seed:
        raise ConfigError(
            f"{where}: samples_seed {cfg.samples_seed}, but the samples it reads were drawn with seed "
            f"{seed} (sampling.seed): drop samples_seed (it is read from their settings)"
        )


def samples_seed(samples: str, configured: int | None) -> tuple[int | None, str]:
    """The samples' sampling seed and where it was read: their stage's settings file (data/shards.py)
    when there is one, else `configured`; the two must agree where both say it."""
    path = Path(samples)
    settings = path.with_name(path.name.removesuffix(".jsonl") + ".settings.json")
    recorded = read_settings(settings).get("sampling.seed") if settings.is_file() else None
    if recorded is None:
        return configured, "the config's samples_seed" if configured is not None else ""
    if configured is not None and configured != recorded:
        raise ConfigError(
            f"samples_seed: {configured}, but {settings} says the samples were drawn with seed {recorded}"
        )
    return recorded, f"read from {settings.name}"


def main(cfg: DifficultyConfig) -> str:
    out = Path(cfg.output_dir)
    groups = group_samples(read_records(cfg.samples, Sample), cfg.num_samples)
    source = SamplesSource(cfg.samples, *samples_seed(cfg.samples, cfg.samples_seed), cfg.num_samples)
    save_config(cfg, out / "config.yaml")  # once the inputs are read and checked: the record of an accepted run
    meta = {"num_samples": cfg.num_samples, "seed": cfg.seed, "samples": cfg.samples, "samples_seed": source.seed}
    oracle_values = pass_at_1(groups)
    oracle = Bins("oracle", quantile_bins(oracle_values, cfg.num_bins, cfg.seed), oracle_values, cfg.num_bins, meta)
    predicted = None
    if cfg.prm:
        questions = {p.id: p.question for p in load_problems(cfg.data)}
        prm = load_verifier(cfg.prm, cfg.prompt)
        predicted_values = mean_final_score(groups, final_scores(groups, prm, questions))
        predicted = Bins(
            "predicted",
            quantile_bins(predicted_values, cfg.num_bins, cfg.seed),
            predicted_values,
            cfg.num_bins,
            {**meta, "prm": cfg.prm.path},
        )
    return write(out, oracle, predicted, source)


# --- its part of the run's report (ttc/pipeline/report.py) and its headline comparisons ---
def difficulty_findings(folder: Path) -> list[Finding]:
    oracle = Bins.load(folder / "bins_oracle.json")
    summary = DifficultySummary.load(folder / "difficulty.json")
    by_bin = {
        b: [oracle.values[q] for q, x in oracle.bins.items() if x == b and q in oracle.values]
        for b in sorted(set(oracle.bins.values()))
    }
    easy, hard = min(by_bin), max(by_bin)
    seed = summary.samples.seed
    drawn = f"sampling seed {seed}" if seed is not None else "a sampling seed not recorded"
    sentence = (
        f"Oracle bins (cut from the base model's samples drawn with {drawn}) "
        f"run from a mean base pass@1 of {sum(by_bin[easy]) / len(by_bin[easy]):.3f} (bin {easy}) "
        f"to {sum(by_bin[hard]) / len(by_bin[hard]):.3f} (bin {hard})"
    )
    if summary.agreement is None:
        return [Finding(sentence + "; no predicted bins (no PRM given) (paper: predicted bins close to oracle).")]
    return [
        Finding(
            f"{sentence}; predicted bins (mean PRM final-step score, no ground truth) equal "
            f"{summary.agreement.words()} (paper: close enough that compute-optimal curves with either bins "
            "largely overlap).",
            "difficulty.png",
        )
    ]


PART = ReportPart(
    "Difficulty bins (paper Section 3.2)",
    60,
    "difficulty (ttc difficulty)",
    "bins_oracle.json",
    ("difficulty.md",),
    difficulty_findings,
)


STAGE = StageSpec(config=DifficultyConfig, main=main, check_inputs=check_inputs, report=PART)
