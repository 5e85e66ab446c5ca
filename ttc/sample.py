"""`ttc sample`: draw N solutions per problem and grade them.

    ttc sample --config configs/toy/sample.yaml
    ttc sample --config configs/toy/sample.yaml --shard 0 --num_shards 2   # then: ttc merge

Writes `<output_dir>/samples.jsonl` (sample records, problems in input order, samples by
index). Sharded, resumable and deterministic (data/shards.py): each problem's samples are
seeded by (seed, problem id) alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data.grading import is_correct
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data import shards
from data.records import Problem, Sample, to_dict
from data.shards import Shard, derive_seed
from data.steps import extract_answer, split_steps
from ttc.backends import LMConfig
from ttc.lm import LM, Completion, GenerationRequest
from ttc.stage import finish, run_stage

NAME = "samples"


@dataclass
class SamplingConfig:
    n: int = 16
    temperature: float = 0.8
    top_p: float = 1.0
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)  # end-of-solution markers, cut from the text
    seed: int = 0

    def request(self, prompt: str, problem_id: str) -> GenerationRequest:
        return GenerationRequest(
            prompt, self.n, self.temperature, self.top_p, self.max_tokens, tuple(self.stop),
            seed=derive_seed(self.seed, problem_id),
        )


@dataclass
class Config:
    output_dir: str
    lm: LMConfig
    data: DataConfig = field(default_factory=DataConfig)
    prompt: PromptFormat = field(default_factory=PromptFormat)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    shard: int = 0
    num_shards: int = 1
    batch_problems: int = 64  # problems per LM call

    def __post_init__(self) -> None:
        Shard(self.shard, self.num_shards)  # validates
        if self.batch_problems < 1:
            raise ValueError("batch_problems must be >= 1")


def grade(problem: Problem, index: int, completion: Completion, stops: list[str]) -> Sample:
    text = completion.text
    for stop in stops if completion.finish_reason == "stop" else ():
        text = text.removesuffix(stop)
    answer = extract_answer(text)
    return Sample(
        problem_id=problem.id,
        index=index,
        text=text,
        steps=split_steps(text),
        answer=answer,
        correct=is_correct(answer, problem.answer, problem.source),
        num_tokens=completion.num_tokens,
        finish_reason=completion.finish_reason,
    )


def run(cfg: Config, lm: LM) -> Path:
    """This shard; merged into `samples.jsonl` when it is the only one."""
    tokenizer = getattr(lm, "tokenizer", None)

    def process(batch: list[Problem]) -> list[list[dict]]:
        requests = [cfg.sampling.request(cfg.prompt.render(p.question, tokenizer), p.id) for p in batch]
        return [
            [to_dict(grade(problem, i, c, cfg.sampling.stop)) for i, c in enumerate(completions)]
            for problem, completions in zip(batch, lm.generate(requests))
        ]

    shard = Shard(cfg.shard, cfg.num_shards)
    path = shards.run_shard(cfg.output_dir, NAME, shard, load_problems(cfg.data), lambda p: p.id, process, cfg.batch_problems)
    return finish(cfg, NAME, path)


def main(cfg: Config) -> Path:
    return run_stage(cfg, run)
