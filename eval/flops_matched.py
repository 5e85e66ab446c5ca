"""FLOPs-matched comparison: test-time compute on the small model vs a larger model's greedy
answer (the paper's Section 7, Fig. 9).

    ttc flops-matched --config configs/toy/flops_matched.yaml

The paper's accounting (Chinchilla-style): pretraining X = 6 N D_pretrain, inference
Y = 2 N D_inference (`forward_flops`, as the ledger counts), R = D_inference / D_pretrain. A
model M times larger, pretrained on the same data, costs M (X + Y) with greedy decoding;
spending that on the small model instead lets it run k times its greedy inference,
X + k Y = M (X + Y), so

    k = M + 3 (D_pretrain / D_inference) (M - 1) = M + 3 (M - 1) / R.

With one generation of the small model as the unit (a greedy answer), k is its matched
generation budget; the paper's M = 14 gives k ~ 258, 63, 15.8 at R = 0.16, 0.79, 22, read as
256, 64, 16.

Our models: N and D_pretrain are each model's parameter count and pretraining tokens: the toy
models' from their `training_record.json`, a public model's parameters counted from its
config.json and its tokens from the recipe (`small_tokens`, `large_tokens`: its report's);
M = N_large / N_small. `pretrain_tokens: paper`
(default) is the paper's equation, D_pretrain shared (the small model's); `own` charges each
model its own training tokens, k = [6 N_L D_L + 2 N_L D_inf - 6 N_S D_S] / (2 N_S D_inf),
D_inf = R D_S (equal to the paper's when D_L = D_S). Both are shown in the markdown.

Where the paper is silent:
- The matched budget is the analysis budget nearest to k on the log2 scale (`rounding:
  nearest`, the paper's reading; a tie goes to the smaller budget), or the largest budget <= k
  (`floor`: never more than the larger model's FLOPs); k beyond the largest budget is capped
  there (the markdown says so).
- Test-time compute is the small model's compute-optimal accuracy per bin (eval/compute_optimal.py,
  2-fold CV), on the questions of the result records; the larger model's is its greedy accuracy
  per bin on the same questions (mean `correct` of its samples per question, then over the bin;
  a greedy file has one sample per question).
- A side wins a (bin, R) when the paired 95% interval over the bin's questions of its lead
  (eval/paired.py: compute-optimal minus greedy per question, each averaged over seeds) lies
  wholly above `tolerance` (default 0); otherwise it is a tie: the interval allows no difference.

Writes flops_matched.json (`FlopsMatchedSummary`: one row per bin and R, with its paired
comparison), flops_matched.md and flops_matched.png (per-bin accuracy against inference FLOPs in
small-model generations, the larger model as stars at k for each R).
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np

from data.bins import Bins
from data.config import ConfigError, locate_model, save_config
from data.records import Sample, read_records
from eval.compute_optimal import CO, MethodsConfig, analyse, build_grid, read_results
from eval.paired import Paired, PerQuestion, curve_of, paired
from eval.plots import Curve, Section, figure, plot_curves
from eval.summary import Summary
from eval.tracking import Figures, Tracking, log_figures
from ttc.lm import count_parameters, forward_flops

log = logging.getLogger(__name__)
PAPER_RATIOS = (0.16, 0.79, 22.0)
PretrainTokens = Literal["paper", "own"]
Rounding = Literal["nearest", "floor"]
TTC, LARGER, TIE = "test-time compute", "larger model", "tie"


@dataclass(frozen=True)
class ModelSize:
    parameters: int
    pretrain_tokens: int


def read_model_size(checkpoint: str | Path, pretrain_tokens: float | None = None, key: str = "model") -> ModelSize:
    """A model's parameters and pretraining tokens. `checkpoint` is a folder or a hub id in the HF
    cache. Parameters: its training_record.json (train/toy_lm.py) when it has one, else counted from
    its config.json (the architecture built on the meta device: exact, no weights read). Tokens:
    `pretrain_tokens` (the recipe's; a public model's report gives them), else the record's, the
    tokens of every phase (a phase continued from another keeps its record, `init`)."""
    folder = locate_model(str(checkpoint), key)
    recorded = recorded_size(folder)
    if recorded is None and pretrain_tokens is None:
        raise ConfigError(f"{key}: {checkpoint!r} has no training_record.json; give its pretraining tokens "
                          f"({key.replace('model', 'tokens')}: the model report's, e.g. 1.8e13)")
    if recorded is None:
        try:
            parameters = count_parameters(str(folder))
        except (OSError, ValueError) as e:
            raise ConfigError(f"{key}: {folder}/config.json: cannot read the architecture ({e})") from e
    else:
        parameters = recorded.parameters
    return ModelSize(parameters, int(pretrain_tokens) if pretrain_tokens is not None else recorded.pretrain_tokens)


def recorded_size(folder: Path) -> ModelSize | None:
    """Parameters and training tokens from the checkpoint's training_record.json, if it has one."""
    path = folder / "training_record.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        tokens, phase = 0, record
        while phase is not None:
            tokens += int(phase["tokens"])
            phase = phase.get("init")
        return ModelSize(int(record["parameters"]), tokens)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: cannot read 'parameters' and 'tokens' ({e!r})") from e


# --- the paper's FLOPs ------------------------------------------------------------------------
def pretraining_flops(parameters: float, tokens: float) -> float:
    return 6.0 * parameters * tokens


def multiplier(small: ModelSize, large: ModelSize, ratio: float, pretrain_tokens: PretrainTokens = "paper") -> float:
    """k: how many times its greedy inference FLOPs the small model may spend for the larger
    model's pretraining + greedy inference FLOPs, at R = D_inference / D_pretrain = `ratio`."""
    if ratio <= 0:
        raise ValueError(f"R must be > 0, got {ratio}")
    d_pre = small.pretrain_tokens
    d_inf = ratio * d_pre
    d_large = d_pre if pretrain_tokens == "paper" else large.pretrain_tokens
    large_total = pretraining_flops(large.parameters, d_large) + forward_flops(large.parameters, d_inf)
    return (large_total - pretraining_flops(small.parameters, d_pre)) / forward_flops(small.parameters, d_inf)


def matched_budget(k: float, budgets: Sequence[int], rounding: Rounding = "nearest") -> int:
    """The analysis budget matched to k generations (see the module docstring)."""
    budgets = sorted(budgets)
    if rounding == "floor":
        below = [b for b in budgets if b <= k]
        if not below:
            raise ValueError(f"no budget <= {k:.3g} generations in {budgets}")
        return below[-1]
    return min(budgets, key=lambda b: (abs(math.log2(b) - math.log2(k)), b))


# --- accuracies -------------------------------------------------------------------------------
def greedy_accuracy(samples: Sequence[Sample], questions: Sequence[str]) -> dict[str, float]:
    """The larger model's greedy accuracy on each of `questions` (the mean `correct` of its
    samples); a question without a sample is an error."""
    correct: dict[str, list[bool]] = defaultdict(list)
    for s in samples:
        correct[s.problem_id].append(s.correct)
    missing = [q for q in questions if q not in correct]
    if missing:
        raise ValueError(f"the larger model has no greedy sample for {len(missing)} question(s), e.g. {missing[0]}")
    return {q: float(np.mean(correct[q])) for q in questions}


def by_bin(values: Mapping[str, float], bins: Mapping[str, int]) -> dict[int, dict[str, float]]:
    """Per-question values split by bin."""
    split: dict[int, dict[str, float]] = defaultdict(dict)
    for q, v in values.items():
        split[bins[q]][q] = v
    return dict(sorted(split.items()))


@dataclass(frozen=True)
class Row:
    bin: int
    ratio: float
    k: float
    budget: int
    small: float  # compute-optimal accuracy at the matched budget
    large: float  # greedy accuracy of the larger model
    winner: str
    paired: Paired  # small vs large over the bin's questions


@dataclass(frozen=True)
class FlopsMatchedSummary(Summary):
    """flops_matched.json: the rows, by bin then R."""

    FORMAT = "ttc.flops_matched"
    rows: list[Row]

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError("rows: none")


PerBin = Mapping[int, Mapping[int, PerQuestion]]  # bin -> budget -> question -> compute-optimal accuracy


def compare(small: PerBin, large: Mapping[int, PerQuestion], ks: Mapping[float, float],
            rounding: Rounding = "nearest", tolerance: float = 0.0, seeds: int = 1) -> list[Row]:
    """One row per (bin, R): the two accuracies at matched FLOPs, paired over the bin's
    questions, and which side wins (see the module docstring)."""
    unknown = sorted(set(small) ^ set(large))
    if unknown:
        raise ValueError(f"bin {unknown[0]} is in only one of the two sides")
    rows = []
    for b in sorted(small):
        for ratio, k in ks.items():
            budget = matched_budget(k, list(small[b]), rounding)
            p = paired(small[b][budget], large[b], seeds)
            winner = TIE if p.low is None else TTC if p.low > tolerance else LARGER if p.high < -tolerance else TIE
            rows.append(Row(b, ratio, k, budget, p.mean_a, p.mean_b, winner, p))
    return rows


# --- figure and markdown ----------------------------------------------------------------------
def plot(small: Mapping[int, Curve], large: Mapping[int, float], ks: Mapping[float, float], path: Path) -> None:
    """Paper Fig. 9: per-bin accuracy vs inference FLOPs (small-model generations), the larger
    model's greedy accuracy as stars at each R's matched FLOPs."""
    colors = {b: f"C{i}" for i, b in enumerate(sorted(small))}
    with figure(path, size=(7, 4.5)) as (_, ax):
        plot_curves(ax, {f"bin {b}": c for b, c in small.items()},
                    xlabel="inference FLOPs (small-model generations; greedy = 1)",
                    styles={f"bin {b}": {"color": colors[b]} for b in small}, title="FLOPs-matched: stars = larger model greedy")
        for ratio, k in ks.items():
            ax.axvline(k, color="gray", linestyle=":", linewidth=1)
            ax.annotate(f" R={ratio:g}", (k, 0.02), xycoords=("data", "axes fraction"), fontsize=7, rotation=90,
                        ha="left", va="bottom")
            for b, acc in large.items():
                ax.plot([k], [acc], marker="*", markersize=12, color=colors[b], linestyle="none")


def markdown(small_size: ModelSize, large_size: ModelSize, ks: Mapping[float, float], own: Mapping[float, float],
             rows: Sequence[Row], budgets: Sequence[int]) -> str:
    m = large_size.parameters / small_size.parameters
    lines = [f"Small model: {small_size.parameters:,} parameters, {small_size.pretrain_tokens:,} training tokens; "
             f"larger: {large_size.parameters:,}, {large_size.pretrain_tokens:,} (M = {m:.2f}; paper: ~14).", "",
             "| R | k (paper: shared D_pretrain) | k (own training tokens) | matched budget |", "|---|---|---|---|"]
    matched = {(r.ratio): r.budget for r in rows}
    for ratio, k in ks.items():
        capped = " (capped)" if k > max(budgets) * math.sqrt(2) else ""
        lines.append(f"| {ratio:g} | {k:.1f} | {own[ratio]:.1f} | {matched[ratio]}{capped} |")
    ratios = list(ks)
    lines += ["", "Per bin: compute-optimal test-time compute vs the larger model's greedy accuracy at matched FLOPs "
              "(relative difference; paired 95% interval of the difference over the bin's questions, a tie when "
              "it includes 0; the paper finds test-time compute ahead on easy bins at low R).", "",
              "| bin | " + " | ".join(f"R={r:g}" for r in ratios) + " |", "|---" * (len(ratios) + 1) + "|"]
    for b in sorted({r.bin for r in rows}):
        cells = []
        for r in (r for r in rows if r.bin == b):
            rel = f" ({(r.small - r.large) / r.large:+.0%})" if r.large > 0 else ""
            cells.append(f"{r.winner}: {r.small:.3f} vs {r.large:.3f}{rel}; {r.paired.interval()}")
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def section(small: PerBin, large: Mapping[int, PerQuestion], small_size: ModelSize, large_size: ModelSize,
            ratios: Sequence[float], out_dir: Path | str, rounding: Rounding = "nearest",
            pretrain_tokens: PretrainTokens = "paper", tolerance: float = 0.0, seeds: int = 1
            ) -> tuple[Section, list[Row]]:
    ks = {r: multiplier(small_size, large_size, r, pretrain_tokens) for r in ratios}
    other: PretrainTokens = "own" if pretrain_tokens == "paper" else "paper"
    alt = {r: multiplier(small_size, large_size, r, other) for r in ratios}
    paper_k, own_k = (ks, alt) if pretrain_tokens == "paper" else (alt, ks)
    rows = compare(small, large, ks, rounding, tolerance, seeds)
    path = Path(out_dir) / "flops_matched.png"
    curves = {b: curve_of(per_budget) for b, per_budget in small.items()}
    plot(curves, curve_of(large), ks, path)
    budgets = sorted({b for c in curves.values() for b in c})
    text = markdown(small_size, large_size, paper_k, own_k, rows, budgets)
    return Section(text, [path]), rows


def tracked_figures(rows: Sequence[Row]) -> Figures:
    """For the tracker: per R, compute-optimal minus the larger model's greedy accuracy against the bin."""
    figures: dict[str, dict[int, float]] = defaultdict(dict)
    for r in rows:
        figures[f"flops_matched/R={r.ratio:g}/difference"][r.bin] = r.small - r.large
    return figures


# --- entry ------------------------------------------------------------------------------------
@dataclass
class FlopsMatchedConfig:
    results: list[str]  # SearchResult JSONL of the small model (search grid, revisions)
    bins: str  # a bins file (data/bins.py)
    large_greedy: str  # samples.jsonl of the larger model at temperature 0
    output_dir: str
    small_model: str = "train/checkpoints/toy-base"  # folders or hub ids (parameters: read_model_size)
    large_model: str = "train/checkpoints/toy-large"
    small_tokens: float | None = None  # pretraining tokens (D_pretrain); None: the checkpoint's training_record.json
    large_tokens: float | None = None
    ratios: list[float] = field(default_factory=lambda: list(PAPER_RATIOS))
    rounding: Rounding = "nearest"
    pretrain_tokens: PretrainTokens = "paper"
    tolerance: float = 0.0
    methods: MethodsConfig = field(default_factory=MethodsConfig)  # compute-optimal selection
    tracking: Tracking = field(default_factory=Tracking)

    def __post_init__(self) -> None:
        if not self.ratios or any(r <= 0 for r in self.ratios):
            raise ValueError(f"ratios must be positive, got {self.ratios}")


def main(cfg: FlopsMatchedConfig) -> str:
    out = Path(cfg.output_dir)
    bins = Bins.load(cfg.bins)
    grid = build_grid(read_results(cfg.results), cfg.methods)
    save_config(cfg, out / "config.yaml")  # once the inputs are read and checked: the record of an accepted run
    analysis = analyse(grid, bins, cfg.methods)
    small: dict[int, dict[int, dict[str, float]]] = defaultdict(dict)
    for budget, values in analysis.per_question[CO].items():
        for b, in_bin in by_bin(values, bins.bins).items():
            small[b][budget] = in_bin
    large = by_bin(greedy_accuracy(read_records(cfg.large_greedy, Sample), grid.questions), bins.bins)
    sizes = (read_model_size(cfg.small_model, cfg.small_tokens, "small_model"),
             read_model_size(cfg.large_model, cfg.large_tokens, "large_model"))
    result, rows = section(small, large, *sizes,
                           cfg.ratios, out, cfg.rounding, cfg.pretrain_tokens, cfg.tolerance, grid.seeds)
    FlopsMatchedSummary(rows).save(out / "flops_matched.json")
    (out / "flops_matched.md").write_text(result.markdown)
    log_figures(cfg.tracking, out, "flops_matched", tracked_figures(rows))
    return result.markdown
