"""`ttc eval`: search strategies x budgets x seeds over a test set, one result record each.

    ttc eval --config configs/toy/eval_search.yaml
    ttc eval --config configs/toy/eval_search.yaml --shard 0 --num_shards 4   # the last one to finish merges

The grid. `strategies` maps a line's name (a row of the table, a line of the figure) to one of
ttc/strategies.py's STRATEGIES (`strategy: beam`, `strategy: revision`) and its
settings: any field of that strategy's config but `n`, `seed` and `prompt`, which the grid sets.
Several lines may share a strategy (beam M=sqrt(N), beam M=4, beam with lookahead k; revisions
at several sequential/parallel ratios). Revision lines run with the reviser as `lm` and the
revision ORM as `prm` (a grid of its own, configs/toy/eval_search_revisions.yaml). Every line
runs for every seed in `seeds` at each
N = 1, 2, 4, ... where
- its config accepts n=N (beam search and DVTS need M <= N and N divisible by M, so beam M=4
  starts at N=4), and
- its generation budget, N or N(k+1) with lookahead k, is at most `max_budget`: the grid's,
  or the line's own (`max_budget:` among its settings): pooled lines cost one pool of their
  largest N, so they can reach the FLOPs-matched budgets (eval/flops_matched.py) where beam
  search, which runs once per N, stops lower.
Other N are skipped with a log line: not run, no record, "-" in the table. A line valid at no N
is a config error, with the reason.

One record per (problem, line, N, seed) in `<output_dir>/results.jsonl`: the SearchResult
fields plus the line's `name` (`EvalResult`). Lines whose strategy is poolable (it has a pool
estimator, `Strategy.sweep`: best-of-N's, adaptive's) are estimated from pools: per (problem, seed) ONE
best-of-N pool of the largest N they run at, shared by every such line with the same sampling
settings (`pool_settings`: best-of-N weighted, majority and naive, and adaptive lines, share it);
their `correct` is the expected accuracy over draws of N of that pool, not a 0/1 grade (an
adaptive line's `spent`: the expected generations it draws).
Other strategies (beam search, DVTS, ...) run at each N, batched across the problems of a batch.

Sharded, resumable and deterministic (data/shards.py). Every seed a strategy draws derives from
(seed, problem id, ...), but a result's token counts do not: a batched call's prompt and PRM
tokens are shared out among its problems in proportion to their lengths (ttc/search/session.py),
and scores may move in the last bit with the padding of a batch. So the unit of work is a
batch: problems [0, B), [B, 2B), ... of the input, the same whatever the number of shards;
n shards merged are then the same bytes as one, and a killed run redoes only its unfinished
batches (keep `batch_problems` when resuming). Shards take whole batches: give each shard at
least one (batch_problems <= problems / num_shards). The shard that finishes last merges them
all and writes the summary next to the records (eval/search_report.py); `ttc merge eval`
merges without it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, cast

from tqdm.auto import tqdm

from data import shards
from data.config import build_dataclass  # its coercion and its errors, for each line's settings
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem, to_dict
from data.shards import Shard
from eval import search_report
from eval.search_report import EvalResult, SearchSummary
from eval.tracking import Figures, Tracking, log_figures
from ttc.lm import LM
from ttc.lm.spec import LMConfig
from ttc.policy import STRATEGIES  # revision lines run with the reviser as `lm` and its ORM as `prm`
from ttc.search import BestOfNConfig, SearchConfig, SearchResult, sample_pools
from ttc.search.config import RUN_FIELDS
from ttc.stages.common import run_stage
from ttc.stages.spec import StageSpec
from ttc.verifiers import Aggregation, Verifier
from ttc.verifiers.spec import KINDS, VerifierConfig, default_aggregation, load_verifier

log = logging.getLogger(__name__)
RECORDS = "results"


@dataclass
class SearchEvalConfig:
    output_dir: str
    lm: LMConfig
    prm: VerifierConfig
    strategies: dict[str, dict[str, Any]]  # line name -> {strategy: <STRATEGIES key>, settings...}
    max_budget: int = 64  # generations; N runs on powers of 2 (paper: 256)
    seeds: list[int] = field(default_factory=lambda: [0])
    data: DataConfig = field(default_factory=DataConfig)
    prompt: PromptFormat = field(default_factory=PromptFormat)
    shard: int = 0
    num_shards: int = 1
    batch_problems: int = 32  # problems searched together (one LM call per round for all)
    tracking: Tracking = field(default_factory=Tracking)
    overwrite: bool = False  # start afresh: remove this shard's earlier records, whatever made them

    def __post_init__(self) -> None:
        Shard(self.shard, self.num_shards)  # validates
        if self.max_budget < 1 or self.batch_problems < 1:
            raise ValueError("max_budget and batch_problems must be >= 1")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and at least one, got {self.seeds}")
        if not self.strategies:
            raise ValueError("strategies: name at least one line")
        plan(self)  # every line's settings, checked now rather than hours into a run


@dataclass(frozen=True)
class Line:
    """One line of the grid: a strategy with fixed settings, and the N it runs at."""

    name: str
    strategy: str
    configs: dict[int, SearchConfig]  # N -> its config (seed and prompt set per run)
    skipped: dict[int, str]  # N -> why not

    def config(self, n: int, seed: int, prompt: PromptFormat) -> SearchConfig:
        return dataclasses.replace(self.configs[n], seed=seed, prompt=prompt)

    @property
    def budgets(self) -> list[int]:
        return sorted(self.configs)

    def pool_key(self) -> str:
        """Pooled lines with equal keys draw the same samples: one pool serves them all."""
        cfg = self.configs[self.budgets[0]]
        assert isinstance(cfg, BestOfNConfig)
        return json.dumps(cfg.pool_settings(), sort_keys=True)


def powers_of_two(limit: int) -> list[int]:
    return [2**i for i in range(limit.bit_length()) if 2**i <= limit]


def plan_line(name: str, entry: dict[str, Any], max_budget: int, aggregation: str = "last") -> Line:
    """A line's config at each N; `aggregation` (the verifier kind's own) where the line sets none."""
    where = f"strategies.{name}"
    settings = {"aggregation": aggregation, **entry}
    strategy = settings.pop("strategy", None)
    max_budget = settings.pop("max_budget", max_budget)
    if not isinstance(max_budget, int) or isinstance(max_budget, bool) or max_budget < 1:
        raise ValueError(f"{where}.max_budget: a whole number >= 1, got {max_budget!r}")
    if strategy not in STRATEGIES:
        raise ValueError(f"{where}: 'strategy' must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    cls = STRATEGIES[strategy].config
    known = sorted(cls.method_fields())
    unknown = [k for k in settings if k not in known]
    if unknown:
        raise ValueError(
            f"{where}: unknown key '{unknown[0]}' for strategy {strategy} (known: "
            f"{', '.join(known)}, max_budget; {', '.join(RUN_FIELDS)} are set by the grid)"
        )
    configs, skipped = {}, {}
    for n in powers_of_two(max_budget):
        try:
            cfg = build_dataclass(cls, {**settings, "n": n}, where, {})
        except ValueError as e:
            skipped[n] = str(e).removeprefix(f"{where}: ")
            continue
        if cfg.generations > max_budget:
            skipped[n] = f"{cfg.generations} generations exceed max_budget {max_budget}"
        else:
            configs[n] = cfg
    if not configs:
        largest = max(skipped)
        raise ValueError(f"{where}: valid at no N in 1..{max_budget}; at N={largest}: {skipped[largest]}")
    return Line(name, strategy, configs, skipped)


def plan(cfg: SearchEvalConfig, aggregation: Aggregation | None = None) -> list[Line]:
    """Every line's configs; where a line sets no aggregation, `aggregation` (the PRM's own, once it
    exists) or else its kind's, which serves to check the settings before the PRM is trained."""
    aggregation = aggregation or KINDS[cfg.prm.kind].aggregation
    return [plan_line(name, entry, cfg.max_budget, aggregation) for name, entry in cfg.strategies.items()]


# --- one batch of problems ------------------------------------------------------------------


def evaluate(
    problems: list[Problem], lm: LM, prm: Verifier, cfg: SearchEvalConfig, lines: list[Line]
) -> list[list[dict]]:
    """Every line, N and seed on `problems` (batched); each problem's records in grid order."""
    pooled: dict[str, list[Line]] = {}
    for line in lines:
        if STRATEGIES[line.strategy].poolable:
            pooled.setdefault(line.pool_key(), []).append(line)
    searched = [line for line in lines if not STRATEGIES[line.strategy].poolable]
    results: dict[tuple[str, int, int, str], SearchResult] = {}
    runs = len(cfg.seeds) * (len(pooled) + sum(len(line.budgets) for line in searched))
    with tqdm(total=runs, desc=f"{len(problems)} problems: strategy runs", leave=False) as bar:
        for seed in cfg.seeds:
            for group in pooled.values():
                widest = max(group, key=lambda member: member.budgets[-1])  # its pool serves every line
                # a poolable strategy's config is a best-of-N one, and it has a sweep
                pool_cfg = cast(BestOfNConfig, widest.config(widest.budgets[-1], seed, cfg.prompt))
                pools = sample_pools(problems, lm, prm, pool_cfg)
                for line in group:
                    sweep = cast(Callable[..., list[SearchResult]], STRATEGIES[line.strategy].sweep)
                    swept = sweep(
                        pools,
                        line.budgets,
                        line.config(line.budgets[-1], seed, cfg.prompt),
                        lm.num_parameters,
                        prm.num_parameters,
                    )
                    results.update(((line.name, r.budget, seed, r.problem_id), r) for r in swept)
                bar.update()
            for line in searched:
                for n in line.budgets:
                    found = STRATEGIES[line.strategy](problems, lm, prm, line.config(n, seed, cfg.prompt))
                    results.update(((line.name, n, seed, r.problem_id), r) for r in found)
                    bar.update()
    return [
        [
            to_dict(EvalResult(**dataclasses.asdict(results[(line.name, n, seed, p.id)]), name=line.name))
            for line in lines
            for n in line.budgets
            for seed in cfg.seeds
        ]
        for p in problems
    ]


# --- the stage ------------------------------------------------------------------------------


def run(cfg: SearchEvalConfig, lm: LM) -> Path:
    """This shard; merged and summarized when it is the last one to finish."""
    lines = plan(cfg, default_aggregation(cfg.prm))
    for line in lines:
        for n, why in line.skipped.items():
            log.info("%s: N=%d skipped: %s", line.name, n, why)
    problems = check(cfg)
    batches = [problems[i : i + cfg.batch_problems] for i in range(0, len(problems), cfg.batch_problems)]
    prm = load_verifier(cfg.prm, cfg.prompt)
    try:
        path = shards.run_shard(
            cfg.output_dir,
            RECORDS,
            Shard(cfg.shard, cfg.num_shards),
            batches,
            lambda b: f"{b[0].id}..{b[-1].id}",
            lambda units: [[r for per_problem in evaluate(b, lm, prm, cfg, lines) for r in per_problem] for b in units],
            1,
            shards.settings_of(cfg),
            cfg.overwrite,  # batch_problems included: a batch shares its tokens
        )
    finally:
        prm.close()
    return finish(cfg, path)


def check(cfg: SearchEvalConfig) -> list[Problem]:
    """The problems, before any model loads: none is an error, not an empty table."""
    return load_problems(cfg.data)


def finish(cfg: SearchEvalConfig, shard_file: Path) -> Path:
    """Once every shard is done: merge them, write the summary next to the records."""
    out = Path(cfg.output_dir)
    waiting = [i for i in range(cfg.num_shards) if not Shard(i, cfg.num_shards).path(out, RECORDS, "jsonl").exists()]
    if waiting:
        log.info("shard %d done; shard(s) %s still running: the last one merges", cfg.shard, waiting)
        return shard_file
    merged = shards.merge(out, RECORDS, cfg.num_shards)
    search_report.write(merged)
    log_figures(cfg.tracking, out, "search", tracked_figures(out / search_report.NUMBERS))
    return merged


def tracked_figures(numbers: Path) -> Figures:
    """For the tracker: each line's accuracy against the generation budget (the summary's cells)."""
    return {f"search/{name}/accuracy": curve for name, curve in SearchSummary.load(numbers).curves().items()}


def main(cfg: SearchEvalConfig) -> Path:
    return run_stage(cfg, STAGE)


STAGE = StageSpec(config=SearchEvalConfig, main=main, run=run, records=RECORDS, check=check, report=search_report.PART)
