"""`ttc sample`: draw N solutions per problem and grade them.

    ttc sample --config configs/toy/sample.yaml
    ttc sample --config configs/toy/sample.yaml --shard 0 --num_shards 2   # then: ttc merge

Writes `<output_dir>/samples.jsonl` (sample records, problems in input order, samples by
index). Sharded, resumable and deterministic (data/shards.py): each problem's samples are
seeded by (seed, problem id) alone. A rerun on a folder begun or finished with other settings
is refused (the keys that differ are named); `--overwrite true` starts it afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data import shards
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem, to_dict
from data.shards import Shard
from ttc.lm import LM
from ttc.lm.sampling import SamplingConfig, grade
from ttc.lm.spec import LMConfig
from ttc.stages.common import run_problems, run_stage
from ttc.stages.spec import StageSpec

VOLATILE = shards.VOLATILE | {"batch_problems"}  # each request is generated on its own


@dataclass
class SampleConfig:
    output_dir: str
    lm: LMConfig
    data: DataConfig = field(default_factory=DataConfig)
    prompt: PromptFormat = field(default_factory=PromptFormat)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    shard: int = 0
    num_shards: int = 1
    batch_problems: int = 64  # problems per LM call
    overwrite: bool = False  # start afresh: remove this shard's earlier records, whatever made them

    def __post_init__(self) -> None:
        Shard(self.shard, self.num_shards)  # validates
        if self.batch_problems < 1:
            raise ValueError("batch_problems must be >= 1")


def check(cfg: SampleConfig) -> None:
    """The stage's inputs, before a model loads."""
    load_problems(cfg.data)


def run(cfg: SampleConfig, lm: LM) -> Path:
    """This shard; merged into `samples.jsonl` when it is the only one."""
    tokenizer = lm.tokenizer  # None: no chat template

    def process(batch: list[Problem]) -> list[list[dict]]:
        requests = [cfg.sampling.request(cfg.prompt.render(p.question, tokenizer), p.id) for p in batch]
        return [
            [to_dict(grade(problem, i, c, cfg.sampling.stop)) for i, c in enumerate(completions)]
            for problem, completions in zip(batch, lm.generate(requests))
        ]

    return run_problems(cfg, STAGE, load_problems(cfg.data), process)


def main(cfg: SampleConfig) -> Path:
    return run_stage(cfg, STAGE)


STAGE = StageSpec(config=SampleConfig, main=main, run=run, records="samples", volatile=VOLATILE, check=check)
