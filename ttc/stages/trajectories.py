"""`ttc trajectories`: revision-training trajectories from the samples of `ttc sample`.

    ttc sample --config configs/toy/sample_trajectories.yaml     # 64 per question, hotter
    ttc trajectories --config configs/toy/trajectories.yaml [--shard i --num_shards n]

Reads `samples.jsonl` rather than sampling itself: one sampler for every stage (the paper's
64 samples per training question at a higher temperature are a `ttc sample` recipe). Builds
each question's trajectories by the rules of data/trajectories.py: incorrect attempts in
context, a correct target, the closest incorrect attempt last. Writes
`<output_dir>/trajectories.jsonl`, one `Trajectory` record (data/records.py) a line:

    {"schema": 1, "problem_id": "toy-train-L3-00007", "index": 12, "question": "Compute ...",
     "previous": ["=...\\n\\boxed{41}", "=...\\n\\boxed{43}"], "previous_indices": [40, 3],
     "target": "=...\\n\\boxed{42}"}

Questions without a correct sample give nothing (their number is logged); samples with no
correct one at all are an error (no trajectory to write), as is an empty samples file. Sharded,
resumable and deterministic like `ttc sample`, and refuses a rerun with other settings the same
way; no model is loaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from data import shards
from data.labels import labelable
from data.problems import DataConfig, load_problems
from data.records import Problem, Sample, to_dict
from data.revision_format import MAX_ATTEMPTS
from data.shards import Shard
from data.trajectories import build_trajectories
from ttc.stages.common import claim, require, run_problems
from ttc.stages.label import samples_by_problem
from ttc.stages.spec import StageSpec

log = logging.getLogger(__name__)
VOLATILE = shards.VOLATILE | {"batch_problems"}  # no model: only how often progress is saved


@dataclass
class TrajectoriesConfig(shards.ReadsFiles):
    INPUT_FILES: ClassVar[tuple[str, ...]] = ("samples",)  # in the settings by content (data/shards.py)
    output_dir: str
    samples: str  # samples.jsonl from `ttc sample`
    data: DataConfig = field(default_factory=DataConfig)  # the problems the samples were drawn for
    seed: int = 0
    max_attempts: int = MAX_ATTEMPTS  # most incorrect attempts before a target (paper: 4)
    min_attempts: int = 0  # fewest (paper: 0; data/trajectories.py says when to raise it)
    shard: int = 0
    num_shards: int = 1
    batch_problems: int = 256  # problems per saved batch (no model: only resume granularity)
    overwrite: bool = False  # start afresh: remove this shard's earlier records, whatever made them

    def __post_init__(self) -> None:
        Shard(self.shard, self.num_shards)
        if not 0 <= self.min_attempts <= self.max_attempts or self.batch_problems < 1:
            raise ValueError("need 0 <= min_attempts <= max_attempts and batch_problems >= 1")


def inputs(cfg: TrajectoriesConfig) -> tuple[list[Problem], dict[str, list[Sample]]]:
    """The problems and their samples, checked: some question has a correct sample."""
    problems = load_problems(cfg.data)
    samples = samples_by_problem(Path(cfg.samples), problems, None)
    require(
        any(s.correct and labelable(s) for group in samples.values() for s in group),
        f"{cfg.samples}: no correct sample: no trajectory to build",
    )
    return problems, samples


def check(cfg: TrajectoriesConfig) -> None:
    inputs(cfg)


def run(cfg: TrajectoriesConfig) -> Path:
    """This shard; merged into `trajectories.jsonl` when it is the only one."""
    problems, samples = inputs(cfg)
    shard = Shard(cfg.shard, cfg.num_shards)
    mine = shard.select(problems)
    kept = {p.id: [s for s in samples.get(p.id, []) if labelable(s)] for p in mine}
    log.info(
        "%d question(s): %d solution(s) without a parsable answer dropped; %d without a correct "
        "solution give no trajectory; %d without an incorrect one give only k=0 trajectories",
        len(mine),
        sum(len(samples.get(p.id, [])) - len(kept[p.id]) for p in mine),
        sum(not any(s.correct for s in kept[p.id]) for p in mine),
        sum(any(s.correct for s in kept[p.id]) and all(s.correct for s in kept[p.id]) for p in mine),
    )

    def process(batch: list[Problem]) -> list[list[dict]]:
        return [
            [to_dict(t) for t in build_trajectories(p, kept[p.id], cfg.seed, cfg.max_attempts, cfg.min_attempts)]
            for p in batch
        ]

    return run_problems(cfg, STAGE, problems, process, empty_units=True)


def main(cfg: TrajectoriesConfig) -> Path:
    check(cfg)
    claim(cfg, STAGE)  # locked, settings checked, config recorded
    return run(cfg)


STAGE = StageSpec(
    config=TrajectoriesConfig, main=main, records="trajectories", volatile=VOLATILE, gpu=False, check=check
)
