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

The verifier (the paper counts the policy alone): test-time compute also runs the PRM, and
the result records carry each problem's `flops_policy` and `flops_prm` (ttc/search/session.py's
ledger: 2 N tokens for each model, prompts included). Over every record of the grid (all
methods, budgets, seeds and questions read) F_policy = sum(flops_policy) / sum(generations) and
F_prm = sum(flops_prm) / sum(generations), the latter over the records that keep a verifier
count (none: unknown): the mean FLOPs of one generation of each model, ratio of sums so a record
weighs by its generations (a pool estimate's records hold their share of the pool). A generation
of test-time compute then costs F_policy + F_prm, while k counts generations of F_policy (a
greedy answer's FLOPs), so with the verifier counted the matched budget is

    k_v = k F_policy / (F_policy + F_prm).

Both are shown (`FlopsMatchedSummary.matches`: per R, k and k_v with the budget each maps to);
the comparison rows are made at k_v (`count_verifier: true`, the default; records without a
verifier count are then an error) or at k (`false`).

Where the paper is silent:
- The matched budget is the analysis budget nearest to k on the log2 scale (`rounding:
  nearest`, the paper's reading; a tie goes to the smaller budget), or the largest budget <= k
  (`floor`: never more than the larger model's FLOPs). A k that the grid does not reach is never
  capped: where the grid continued by doubling would match k to a budget past its largest B
  (nearest: k > B sqrt 2; floor: k >= 2 B), or to one below its smallest b (nearest: k <= b /
  sqrt 2; floor: k < b), that R has no rows (`Match.made` false; "not made: the grid stops at
  B, k = ..." in the markdown). So the paper's k ~ 258 is read as 256 on a grid ending at 256.
- Test-time compute is the small model's compute-optimal accuracy per bin (eval/compute_optimal.py,
  2-fold CV), on the questions of the result records; the larger model's is its greedy accuracy
  per bin on the same questions (mean `correct` of its samples per question, then over the bin;
  a greedy file has one sample per question).
- A side wins a (bin, R) when the paired 95% interval over the bin's questions of its lead
  (eval/paired.py: compute-optimal minus greedy per question, each averaged over seeds) lies
  wholly above `tolerance` (default 0); otherwise it is a tie: the interval allows no difference.

Writes flops_matched.json (`FlopsMatchedSummary`: per R its `Match`, one row per bin and R made,
with its paired comparison, and the grid's FLOPs per generation), flops_matched.md and
flops_matched.png (per-bin accuracy against inference FLOPs in small-model generations, the
larger model as stars at the k each made R's rows use).
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Sequence, cast

import numpy as np

from data.bins import Bins
from data.config import ConfigError, save_config
from data.models import locate
from data.records import Sample, read_records
from eval.compute_optimal import CO, MethodsConfig, analyse, build_grid, read_results
from eval.paired import Comparison, Paired, PerQuestion, curve_of, paired
from eval.plots import Curve, Section, figure, plot_curves
from eval.summary import Summary
from eval.tracking import Figures, Tracking, log_figures
from eval.wording import num
from ttc.lm import count_parameters, forward_flops
from ttc.search.result import SearchResult
from ttc.stages.spec import Finding, ReportPart, StageSpec

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
    folder = locate(str(checkpoint), key)
    recorded = recorded_size(folder)
    if recorded is None and pretrain_tokens is None:
        raise ConfigError(
            f"{key}: {checkpoint!r} has no training_record.json; give its pretraining tokens "
            f"({key.replace('model', 'tokens')}: the model report's, e.g. 1.8e13)"
        )
    if recorded is None:
        try:
            parameters = count_parameters(str(folder))
        except (OSError, ValueError) as e:
            raise ConfigError(f"{key}: {folder}/config.json: cannot read the architecture ({e})") from e
    else:
        parameters = recorded.parameters
    tokens = int(pretrain_tokens) if pretrain_tokens is not None else cast(ModelSize, recorded).pretrain_tokens
    return ModelSize(parameters, tokens)


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


def matched_budget(k: float, budgets: Sequence[int], rounding: Rounding = "nearest") -> int | None:
    """The analysis budget matched to k generations; None where the grid does not reach k (it
    would match a budget past either end of the grid continued by doubling: module docstring)."""
    budgets = sorted(budgets)
    if rounding == "floor":
        below = [b for b in budgets if b <= k]
        return below[-1] if below and k < 2 * budgets[-1] else None
    if k > budgets[-1] * math.sqrt(2) or k <= budgets[0] / math.sqrt(2):
        return None
    return min(budgets, key=lambda b: (abs(math.log2(b) - math.log2(k)), b))


@dataclass(frozen=True)
class GridFlops:
    """The search grid's mean FLOPs per generation, of the policy and of the verifier (module
    docstring)."""

    policy: float
    prm: float | None  # None: no record keeps a verifier count
    records: int

    @property
    def factor(self) -> float | None:
        """k_v / k = F_policy / (F_policy + F_prm); None where it is unknown."""
        return None if self.prm is None or self.policy <= 0 else self.policy / (self.policy + self.prm)

    def check(self, count_verifier: bool) -> None:
        """k_v is needed and known."""
        if count_verifier and self.factor is None:
            raise ConfigError(
                "count_verifier: the result records keep no verifier FLOPs (flops_prm) or no policy "
                "FLOPs, so the matched budget cannot count the verifier; set count_verifier: false"
            )


def grid_flops(records: Sequence[SearchResult]) -> GridFlops:
    """F_policy and F_prm over `records`, ratio of sums per generation (module docstring)."""
    generations = sum(r.generations for r in records)
    if generations <= 0:
        raise ValueError("the result records hold no generations")
    counted = [r for r in records if r.flops_prm is not None]
    counted_generations = sum(r.generations for r in counted)
    prm = sum(r.flops_prm or 0 for r in counted) / counted_generations if counted_generations else None
    return GridFlops(sum(r.flops_policy for r in records) / generations, prm, len(records))


@dataclass(frozen=True)
class Match:
    """One R: the matched generations k (the policy alone) and k_v (the verifier counted), the
    budget each maps to (None: beyond the grid), and whether its rows were made."""

    ratio: float
    k: float
    budget: int | None
    k_verifier: float | None  # None: the verifier's FLOPs unknown
    budget_verifier: int | None
    made: bool  # rows at this R: its used budget is on the grid

    def used(self, count_verifier: bool) -> tuple[float, int | None]:
        """(k, budget) the rows use."""
        if not count_verifier:
            return self.k, self.budget
        if self.k_verifier is None:
            raise ValueError(f"R={self.ratio:g}: the verifier's FLOPs are unknown, so k cannot count them")
        return self.k_verifier, self.budget_verifier

    def why_not(self, count_verifier: bool, budgets: Sequence[int]) -> str:
        """'the grid stops at 256, k = 612.3': why no rows were made (k below the grid: 'starts at')."""
        k, _ = self.used(count_verifier)
        end = f"stops at {max(budgets)}" if k > max(budgets) else f"starts at {min(budgets)}"
        return f"the grid {end}, k = {k:.1f}"


def match(
    ratio: float, k: float, flops: GridFlops, budgets: Sequence[int], rounding: Rounding, count_verifier: bool
) -> Match:
    """R's k and k_v, each's budget, and whether the rows (at k_v when `count_verifier`) are made."""
    flops.check(count_verifier)
    factor = flops.factor
    k_v = None if factor is None else k * factor
    budget = matched_budget(k, budgets, rounding)
    budget_v = None if k_v is None else matched_budget(k_v, budgets, rounding)
    return Match(ratio, k, budget, k_v, budget_v, (budget_v if count_verifier else budget) is not None)


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
    k: float  # the matched generations it uses: k_v where the verifier is counted, else k
    budget: int
    small: float  # compute-optimal accuracy at the matched budget
    large: float  # greedy accuracy of the larger model
    winner: str
    paired: Paired  # small vs large over the bin's questions


@dataclass(frozen=True)
class FlopsMatchedSummary(Summary):
    """flops_matched.json: per R its match, the rows made (by bin then R), and how k counts."""

    FORMAT = "ttc.flops_matched"
    VERSION = 2  # 1: rows alone, k the policy's FLOPs, a k past the grid capped
    matches: list[Match]
    rows: list[Row]
    budgets: list[int]  # the grid's
    count_verifier: bool  # the rows use k_v (else k)
    flops: GridFlops

    def __post_init__(self) -> None:
        if not self.matches:
            raise ValueError("matches: none")
        made = {m.ratio for m in self.matches if m.made}
        stray = sorted({r.ratio for r in self.rows} - made)
        if stray:
            raise ValueError(f"rows: R={stray[0]:g} has rows but its match was not made")


PerBin = Mapping[int, Mapping[int, PerQuestion]]  # bin -> budget -> question -> compute-optimal accuracy


def compare(
    small: PerBin,
    large: Mapping[int, PerQuestion],
    at: Mapping[float, tuple[float, int]],
    tolerance: float = 0.0,
    seeds: int = 1,
) -> list[Row]:
    """One row per (bin, R) of `at` (R -> its k and matched budget): the two accuracies at
    matched FLOPs, paired over the bin's questions, and which side wins (module docstring)."""
    unknown = sorted(set(small) ^ set(large))
    if unknown:
        raise ValueError(f"bin {unknown[0]} is in only one of the two sides")
    rows = []
    for b in sorted(small):
        for ratio, (k, budget) in at.items():
            p = paired(small[b][budget], large[b], seeds)
            winner = (
                TIE
                if p.low is None
                else TTC
                if p.low > tolerance
                else LARGER
                if cast(float, p.high) < -tolerance
                else TIE
            )
            rows.append(Row(b, ratio, k, budget, p.mean_a, p.mean_b, winner, p))
    return rows


# --- figure and markdown ----------------------------------------------------------------------
def plot(small: Mapping[int, Curve], large: Mapping[int, float], ks: Mapping[float, float], path: Path) -> None:
    """Paper Fig. 9: per-bin accuracy vs inference FLOPs (small-model generations), the larger
    model's greedy accuracy as stars at each R's matched FLOPs."""
    colors = {b: f"C{i}" for i, b in enumerate(sorted(small))}
    with figure(path, size=(7, 4.5)) as (_, ax):
        plot_curves(
            ax,
            {f"bin {b}": c for b, c in small.items()},
            xlabel="inference FLOPs (small-model generations; greedy = 1)",
            styles={f"bin {b}": {"color": colors[b]} for b in small},
            title="FLOPs-matched: stars = larger model greedy",
        )
        for ratio, k in ks.items():
            ax.axvline(k, color="gray", linestyle=":", linewidth=1)
            ax.annotate(
                f" R={ratio:g}",
                (k, 0.02),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                rotation=90,
                ha="left",
                va="bottom",
            )
            for b, acc in large.items():
                ax.plot([k], [acc], marker="*", markersize=12, color=colors[b], linestyle="none")


def counting_words(summary: FlopsMatchedSummary) -> str:
    """How the rows' k counts test-time FLOPs, with the grid's numbers."""
    f = summary.flops
    known = f"the verifier {f.prm:.4g}" if f.prm is not None else "the verifier keeps no count"
    per = f"a generation over the grid's {f.records} records runs the policy {f.policy:.4g} FLOPs, {known}"
    if summary.count_verifier:
        return f"k counts the verifier, k_v = k x {f.factor:.3f}: {per}"
    return f"k counts the policy's FLOPs alone, not the verifier's: {per}"


def markdown(
    small_size: ModelSize,
    large_size: ModelSize,
    ks: Mapping[float, float],
    own: Mapping[float, float],
    summary: FlopsMatchedSummary,
) -> str:
    m = large_size.parameters / small_size.parameters
    cv = summary.count_verifier

    def budget_cell(mt: Match, verifier: bool) -> str:
        budget = mt.budget_verifier if verifier else mt.budget
        if verifier and mt.k_verifier is None:
            return "-"
        cell = str(budget) if budget is not None else f"not made: {mt.why_not(verifier, summary.budgets)}"
        return f"**{cell}**" if verifier == cv else cell

    lines = [
        f"Small model: {small_size.parameters:,} parameters, {small_size.pretrain_tokens:,} training tokens; "
        f"larger: {large_size.parameters:,}, {large_size.pretrain_tokens:,} (M = {m:.2f}; paper: ~14).",
        "",
        f"Test-time compute: {counting_words(summary)}. The rows use the budget in bold; the grid's budgets: "
        f"{', '.join(map(str, summary.budgets))}.",
        "",
        "| R | k (paper: shared D_pretrain) | k (own training tokens) | k_v (verifier counted) | "
        "budget: policy only | budget: verifier counted |",
        "|---|---|---|---|---|---|",
    ]
    for mt in summary.matches:
        k_v = "-" if mt.k_verifier is None else f"{mt.k_verifier:.1f}"
        lines.append(
            f"| {mt.ratio:g} | {ks[mt.ratio]:.1f} | {own[mt.ratio]:.1f} | {k_v} | {budget_cell(mt, False)} | "
            f"{budget_cell(mt, True)} |"
        )
    lines += [
        "",
        "Per bin: compute-optimal test-time compute vs the larger model's greedy accuracy at matched FLOPs "
        "(relative difference; paired 95% interval of the difference over the bin's questions, a tie when "
        "it includes 0; the paper finds test-time compute ahead on easy bins at low R).",
        "",
        "| bin | " + " | ".join(f"R={mt.ratio:g}" for mt in summary.matches) + " |",
        "|---" * (len(summary.matches) + 1) + "|",
    ]
    for b in sorted({r.bin for r in summary.rows}) or [None]:
        cells = []
        for mt in summary.matches:
            row = next((r for r in summary.rows if r.bin == b and r.ratio == mt.ratio), None)
            if row is None:
                cells.append(f"not made: {mt.why_not(cv, summary.budgets)}")
                continue
            rel = f" ({(row.small - row.large) / row.large:+.0%})" if row.large > 0 else ""
            cells.append(f"{row.winner}: {row.small:.3f} vs {row.large:.3f}{rel}; {row.paired.interval()}")
        lines.append(f"| {'all' if b is None else b} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def section(
    small: PerBin,
    large: Mapping[int, PerQuestion],
    small_size: ModelSize,
    large_size: ModelSize,
    ratios: Sequence[float],
    out_dir: Path | str,
    flops: GridFlops,
    count_verifier: bool = True,
    rounding: Rounding = "nearest",
    pretrain_tokens: PretrainTokens = "paper",
    tolerance: float = 0.0,
    seeds: int = 1,
) -> tuple[Section, FlopsMatchedSummary]:
    ks = {r: multiplier(small_size, large_size, r, pretrain_tokens) for r in ratios}
    other: PretrainTokens = "own" if pretrain_tokens == "paper" else "paper"
    alt = {r: multiplier(small_size, large_size, r, other) for r in ratios}
    paper_k, own_k = (ks, alt) if pretrain_tokens == "paper" else (alt, ks)
    curves = {b: curve_of(per_budget) for b, per_budget in small.items()}
    budgets = sorted({b for c in curves.values() for b in c})
    matches = [match(r, k, flops, budgets, rounding, count_verifier) for r, k in ks.items()]
    at = {m.ratio: cast(tuple[float, int], m.used(count_verifier)) for m in matches if m.made}  # made: on the grid
    rows = compare(small, large, at, tolerance, seeds)
    summary = FlopsMatchedSummary(matches, rows, budgets, count_verifier, flops)
    path = Path(out_dir) / "flops_matched.png"
    plot(curves, curve_of(large), {r: k for r, (k, _) in at.items()}, path)
    text = markdown(small_size, large_size, paper_k, own_k, summary)
    return Section(text, [path]), summary


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
    count_verifier: bool = True  # rows at k_v = k F_policy / (F_policy + F_prm); false: at k (the policy alone)
    tolerance: float = 0.0
    methods: MethodsConfig = field(default_factory=MethodsConfig)  # compute-optimal selection
    tracking: Tracking = field(default_factory=Tracking)

    def __post_init__(self) -> None:
        if not self.ratios or any(r <= 0 for r in self.ratios):
            raise ValueError(f"ratios must be positive, got {self.ratios}")


def main(cfg: FlopsMatchedConfig) -> str:
    out = Path(cfg.output_dir)
    bins = Bins.load(cfg.bins)
    records = read_results(cfg.results)
    grid, flops = build_grid(records, cfg.methods), grid_flops(records)
    flops.check(cfg.count_verifier)
    save_config(cfg, out / "config.yaml")  # once the inputs are read and checked: the record of an accepted run
    analysis = analyse(grid, bins, cfg.methods)
    small: dict[int, dict[int, dict[str, float]]] = defaultdict(dict)
    for budget, values in analysis.per_question[CO].items():
        for b, in_bin in by_bin(values, bins.bins).items():
            small[b][budget] = in_bin
    large = by_bin(greedy_accuracy(read_records(cfg.large_greedy, Sample), grid.questions), bins.bins)
    sizes = (
        read_model_size(cfg.small_model, cfg.small_tokens, "small_model"),
        read_model_size(cfg.large_model, cfg.large_tokens, "large_model"),
    )
    result, summary = section(
        small,
        large,
        *sizes,
        cfg.ratios,
        out,
        flops,
        cfg.count_verifier,
        cfg.rounding,
        cfg.pretrain_tokens,
        cfg.tolerance,
        grid.seeds,
    )
    summary.save(out / "flops_matched.json")
    (out / "flops_matched.md").write_text(result.markdown)
    log_figures(cfg.tracking, out, "flops_matched", tracked_figures(summary.rows))
    return result.markdown


# --- its part of the run's report (ttc/pipeline/report.py) and its headline comparisons ---
def flops_findings(folder: Path) -> list[Finding]:
    summary = FlopsMatchedSummary.load(folder / "flops_matched.json")
    counted = summary.count_verifier
    parts = []
    for m in sorted(summary.matches, key=lambda m: m.ratio):
        if not m.made:
            parts.append(f"at R={num(m.ratio)} not made ({m.why_not(counted, summary.budgets)})")
            continue
        other, how = (m.budget, "the policy's FLOPs alone") if counted else (m.budget_verifier, "the verifier counted")
        alt = "" if other is None and m.k_verifier is None else f"; {other or 'beyond the grid'} with {how}"
        rows: list[Row] = [r for r in summary.rows if r.ratio == m.ratio]
        parts.append(
            f"at R={num(m.ratio)} (budget {m.used(counted)[1]}{alt}): "
            + ", ".join(f"bin {r.bin} {r.paired.brief()}" for r in rows)
        )
    return [
        Finding(
            f"With FLOPs matched ({counting_words(summary)}), test-time compute (compute-optimal) against the "
            f"larger model's greedy answer, by bin: {'; '.join(parts)} (paper, counting the policy alone: "
            "test-time compute ahead on easy and medium bins at R << 1, the larger model ahead on the hardest "
            "bins and at R >> 1).",
            "flops_matched.png",
        )
    ]


def flops_rows(path: Path) -> list[Comparison]:
    """Every (bin, R) row: compute-optimal at the matched budget vs the larger model's greedy answer."""
    return [
        Comparison(
            f"bin {r.bin}, R={num(r.ratio)}", f"compute-optimal, N={num(r.budget)}", "larger model, greedy", r.paired
        )
        for r in FlopsMatchedSummary.load(path).rows
    ]


PART = ReportPart(
    "FLOPs-matched comparison with the larger model (paper Fig. 9)",
    80,
    "FLOPs-matched (ttc flops-matched)",
    "flops_matched.json",
    ("flops_matched.md",),
    flops_findings,
)


STAGE = StageSpec(config=FlopsMatchedConfig, main=main, gpu=False, report=PART)
