"""Per-level accuracy of toy models: greedy, pass@1, pass@k and majority@k.

    ttc toy-models --models train/checkpoints/toy-base,train/checkpoints/toy-large

For each model, samples the toy test levels with `ttc sample` (greedy, then k samples at
T=0.8), and writes `<output_dir>/table.md` and `table.json`. Reruns reuse finished samples.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from data.problems import DataConfig, load_problems
from data.records import Sample, read_records
from eval.estimators import majority_correct, pass_at_k
from ttc.lm.sampling import SamplingConfig
from ttc.lm.spec import LMConfig
from ttc.stages import sample
from ttc.stages.spec import StageSpec

log = logging.getLogger(__name__)


@dataclass
class ToyModelsConfig:
    models: list[str]
    output_dir: str = "runs/toy-models"
    data: DataConfig = field(default_factory=DataConfig)
    k: int = 16
    temperature: float = 0.8
    max_tokens: int = 128
    backend: Literal["hf", "vllm"] = "hf"
    threads: int = 1


def run_samples(cfg: ToyModelsConfig, model: str, n: int, temperature: float) -> list[Sample]:
    out = Path(cfg.output_dir) / Path(model).name / ("greedy" if temperature == 0 else f"t{temperature}-n{n}")
    sample_cfg = sample.SampleConfig(
        output_dir=str(out),
        lm=LMConfig(model=model, backend=cfg.backend, threads=cfg.threads),
        data=cfg.data,
        sampling=SamplingConfig(n=n, temperature=temperature, max_tokens=cfg.max_tokens),
    )
    return read_records(sample.main(sample_cfg), Sample)


def level_table(cfg: ToyModelsConfig, model: str) -> dict[int, dict[str, float]]:
    level_of = cast(dict[str, int], {p.id: p.level for p in load_problems(cfg.data)})  # keyed by level as read
    greedy = run_samples(cfg, model, 1, 0.0)
    sampled = run_samples(cfg, model, cfg.k, cfg.temperature)
    by_problem: dict[str, list[Sample]] = defaultdict(list)
    for s in sampled:
        by_problem[s.problem_id].append(s)
    rows: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in greedy:
        rows[level_of[s.problem_id]]["greedy"].append(s.correct)
    for pid, samples in by_problem.items():
        c, row = sum(s.correct for s in samples), rows[level_of[pid]]
        row["pass@1"].append(pass_at_k(len(samples), c, 1))
        row[f"pass@{cfg.k}"].append(pass_at_k(len(samples), c, cfg.k))
        row[f"maj@{cfg.k}"].append(majority_correct(samples))
    return {lvl: {m: sum(v) / len(v) for m, v in row.items()} for lvl, row in sorted(rows.items())}


def markdown(tables: dict[str, dict[int, dict[str, float]]], k: int) -> str:
    levels = sorted({lvl for t in tables.values() for lvl in t})
    head = "| model | " + " | ".join(f"L{lvl}" for lvl in levels) + " |"
    lines = [f"greedy / pass@1 / pass@{k} / majority@{k} per level", "", head, "|---" * (len(levels) + 1) + "|"]
    for model, table in tables.items():
        cells = [
            "/".join(f"{table[lvl][m]:.2f}" for m in ("greedy", "pass@1", f"pass@{k}", f"maj@{k}")) for lvl in levels
        ]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(cfg: ToyModelsConfig) -> str:
    tables = {Path(m).name: level_table(cfg, m) for m in cfg.models}
    out = Path(cfg.output_dir)
    (out / "table.json").write_text(json.dumps(tables, indent=2) + "\n")
    text = markdown(tables, cfg.k)
    (out / "table.md").write_text(text)
    return text


STAGE = StageSpec(config=ToyModelsConfig, main=main)
