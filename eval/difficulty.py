"""Question difficulty bins (the paper's Section 3.2, Appendix C): oracle and predicted.

    ttc difficulty --config configs/toy/difficulty.yaml

- Oracle: a test question's difficulty is the base model's pass@1 over its first
  `num_samples` samples (paper: 2048; the unbiased pass@1 is the fraction correct).
- Predicted: the mean PRM final-step ("last") score over the very same samples; no ground
  truth is used. A sample with no step scores 0.0, as in search (ttc/search/common.py).
- Bins: 5 quantiles of that value over the test questions, 1 = easiest (highest pass@1 or
  score) ... 5 = hardest.

How quantiles are cut (the paper is silent): equal-count bins by rank. Questions are ordered
easiest first; ties in the value are broken by a seeded random permutation, not by id (ids
such as the toy world's carry the level), so tied questions may straddle a bin edge. The
question at rank r (0-based) of n goes to bin floor(K r / n) + 1: bin b holds the ranks with
r / n in [(b-1)/K, b/K), so bin sizes are floor or ceil of n / K, the extra ones spread evenly
(n = 7, K = 5: sizes 2, 1, 2, 1, 1). Fewer questions than bins is an error.

Writes `bins_oracle.json` (and `bins_predicted.json` with a PRM; data/bins.py), `difficulty.md`
and `difficulty.png` (pass@1 against mean PRM score, coloured by oracle bin).
"""

from __future__ import annotations

import logging
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
from eval.estimators import pass_at_k
from eval.plots import Section, figure
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


def final_scores(groups: Mapping[str, Sequence[Sample]], verifier: Verifier,
                 questions: Mapping[str, str]) -> dict[SampleKey, float]:
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


def agreement(oracle: Mapping[str, int], predicted: Mapping[str, int]) -> tuple[float, float]:
    """Fraction of questions whose predicted bin is the oracle bin, and within one of it."""
    common = sorted(set(oracle) & set(predicted))
    diff = np.array([abs(oracle[p] - predicted[p]) for p in common])
    return float(np.mean(diff == 0)), float(np.mean(diff <= 1))


def plot_values(oracle_values: Mapping[str, float], predicted_values: Mapping[str, float],
                oracle: Mapping[str, int], path: Path) -> None:
    with figure(path) as (_, ax):
        ids = sorted(oracle)
        from matplotlib import colormaps

        points = ax.scatter([predicted_values[p] for p in ids], [oracle_values[p] for p in ids],
                            c=[oracle[p] for p in ids], cmap=colormaps["viridis_r"].resampled(max(oracle.values())), s=12)
        ax.figure.colorbar(points, ax=ax, label="oracle bin (1 = easiest)")
        ax.set_xlabel("mean PRM final-step score (predicted difficulty)")
        ax.set_ylabel("base model pass@1 (oracle difficulty)")
        ax.grid(alpha=0.3)


def section(oracle: Mapping[str, int], oracle_values: Mapping[str, float], out_dir: Path | str,
            predicted: Mapping[str, int] | None = None, predicted_values: Mapping[str, float] | None = None) -> Section:
    """Markdown of the bins (and, with predicted bins, their agreement with the oracle and a
    scatter of the two values)."""
    text = ["Oracle difficulty: quintiles of the base model's pass@1 (bin 1 = easiest).", "",
            bin_table(oracle, oracle_values, "pass@1")]
    figures = []
    if predicted is not None and predicted_values is not None:
        same, near = agreement(oracle, predicted)
        text += ["", "Predicted difficulty: quintiles of the mean PRM final-step score, no ground truth.", "",
                 bin_table(predicted, predicted_values, "mean PRM score"), "",
                 f"Predicted bin = oracle bin for {same:.0%} of questions, within one bin for {near:.0%}."]
        path = Path(out_dir) / "difficulty.png"
        plot_values(oracle_values, predicted_values, oracle, path)
        figures.append(path)
    return Section("\n".join(text) + "\n", figures)


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

    def __post_init__(self) -> None:
        if self.num_bins < 1 or (self.num_samples is not None and self.num_samples < 1):
            raise ValueError("num_bins and num_samples must be >= 1")


def check_inputs(cfg: DifficultyConfig, makers: dict[str, dict[str, Any]], where: str) -> None:
    """The run's check across stages (ttc/pipeline/run.py; `makers`: input key -> the settings of
    the stage that writes it): `num_samples` a question against the samples' stage's sampling.n,
    with every setting, before any model loads, rather than `group_samples` after hours of sampling."""
    drawn = makers.get("samples", {}).get("sampling", {}).get("n")
    if drawn is not None and cfg.num_samples is not None and cfg.num_samples > drawn:
        raise ConfigError(f"{where}: num_samples {cfg.num_samples} a question, but the samples it reads are "
                          f"{drawn} a question (sampling.n): lower num_samples (null: all) or raise sampling.n")


def main(cfg: DifficultyConfig) -> str:
    out = Path(cfg.output_dir)
    groups = group_samples(read_records(cfg.samples, Sample), cfg.num_samples)
    save_config(cfg, out / "config.yaml")  # once the inputs are read and checked: the record of an accepted run
    meta = {"num_samples": cfg.num_samples, "seed": cfg.seed, "samples": cfg.samples}
    oracle_values = pass_at_1(groups)
    oracle = quantile_bins(oracle_values, cfg.num_bins, cfg.seed)
    Bins("oracle", oracle, oracle_values, cfg.num_bins, meta).save(out / "bins_oracle.json")
    predicted = predicted_values = None
    if cfg.prm:
        questions = {p.id: p.question for p in load_problems(cfg.data)}
        prm = load_verifier(cfg.prm, cfg.prompt)
        predicted_values = mean_final_score(groups, final_scores(groups, prm, questions))
        predicted = quantile_bins(predicted_values, cfg.num_bins, cfg.seed)
        Bins("predicted", predicted, predicted_values, cfg.num_bins, {**meta, "prm": cfg.prm.path}).save(
            out / "bins_predicted.json")
    result = section(oracle, oracle_values, out, predicted, predicted_values)
    (out / "difficulty.md").write_text(result.markdown)
    return result.markdown
