"""`ttc chains`: the reviser's revision chains on each problem, graded, not scored (paper Sec. 6).

    ttc chains --config configs/toy/chains_eval.yaml
    ttc chains --config configs/toy/chains_train.yaml --shard 0 --num_shards 2   # then: ttc merge

`chains` K x `length` T attempts per problem (ttc/revise/chains.py): attempt t revises its
chain's previous attempts, the `max_attempts` most recent in the reviser's context (the oldest
dropped while they would not fit it with `max_tokens` to spare; each record keeps how many in
`dropped`), seeded by (seed, problem id, chain, attempt). No ORM reads them here: the revision ORM is trained on these
chains (train/orm_data.py), so they exist before it does, and the revision eval
(eval/revision.py) scores them with it. Writes `<output_dir>/chains.jsonl` (Attempt records with
score null, ttc/revise/records.py). Sharded, resumable and deterministic like `ttc sample`.

The sampling settings are fields of their own rather than a SamplingConfig: its `n` (samples per
request) and its seed by (seed, problem id) do not fit a chain step, one request of n=1 per chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data import shards
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem
from data.revision_format import MAX_ATTEMPTS
from data.shards import Shard
from ttc.lm import LM, check_sampling
from ttc.lm.spec import LMConfig
from ttc.revise import RevisionConfig, chain_records, sample_chains
from ttc.stages.common import run_problems, run_stage
from ttc.stages.spec import StageSpec

VOLATILE = shards.VOLATILE | {"batch_problems"}  # a chain's attempts are seeded by the chain alone


@dataclass
class ChainsConfig:
    output_dir: str
    reviser: LMConfig
    data: DataConfig = field(default_factory=DataConfig)
    prompt: PromptFormat = field(default_factory=PromptFormat)
    chains: int = 16  # K parallel chains per problem
    length: int = 16  # T attempts per chain
    max_attempts: int = MAX_ATTEMPTS  # previous attempts in the reviser's context (paper: 4)
    temperature: float = 0.8
    top_p: float = 1.0
    max_tokens: int = 256  # per attempt
    stop: list[str] = field(default_factory=list)  # end-of-solution markers, cut from the text
    seed: int = 0
    shard: int = 0
    num_shards: int = 1
    batch_problems: int = 16  # problems sampled together: one LM call per revision step
    overwrite: bool = False  # start afresh: remove this shard's earlier records, whatever made them

    def __post_init__(self) -> None:
        Shard(self.shard, self.num_shards)  # validates
        if min(self.chains, self.length, self.batch_problems) < 1:
            raise ValueError("chains, length and batch_problems must be >= 1")
        check_sampling(1, self.temperature, self.top_p, self.max_tokens, self.stop)  # one request per chain step
        self.revision_config()  # validates the rest (max_attempts)

    def revision_config(self) -> RevisionConfig:
        """The chain set as one revision run: N = K x T generations at ratio T / K."""
        cfg = RevisionConfig(
            n=self.chains * self.length,
            ratio=self.length / self.chains,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            prompt=self.prompt,
            max_tokens=self.max_tokens,
            stop=list(self.stop),
            max_attempts=self.max_attempts,
        )
        assert cfg.split == (self.chains, self.length), cfg.split
        return cfg


def check(cfg: ChainsConfig) -> None:
    load_problems(cfg.data)


def run(cfg: ChainsConfig, lm: LM) -> Path:
    """This shard; merged into `chains.jsonl` when it is the only one."""
    revision = cfg.revision_config()

    def process(batch: list[Problem]) -> list[list[dict]]:
        return [chain_records(chain_set) for chain_set in sample_chains(batch, lm, revision)]

    return run_problems(cfg, STAGE, load_problems(cfg.data), process)


def main(cfg: ChainsConfig) -> Path:
    return run_stage(cfg, STAGE, cfg.reviser)


STAGE = StageSpec(config=ChainsConfig, main=main, run=run, records="chains", volatile=VOLATILE, check=check)
