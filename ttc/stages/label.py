"""`ttc label`: Monte Carlo step labels for PRM training (data/labels.py says how).

    ttc label --config configs/toy/label.yaml [--shard i --num_shards n] [--rollouts.mode binary_search]

Reads the sample records of `ttc sample`, keeps solutions with a parsable answer, and for each
step prefix asks the base model for k rollouts as ONE request with n=k: the k rollouts share
the prefix, which vLLM computes once (prefix caching) and transformers once per request.
Writes `<output_dir>/labels.jsonl` (StepLabels records). Sharded, resumable and deterministic
like `ttc sample`: a prefix's rollouts are seeded by (seed, problem id, prefix text). Samples
with nothing to label (an empty file, no parsable answer anywhere, no sample of the configured
problems) are an error before the model loads.

`rollouts.mode` picks what is rolled out:
- `per_step` (default): every non-final step prefix, in ONE call per batch of problems; soft
  values (the fraction of correct rollouts).
- `binary_search`: hard labels from each incorrect solution's first step whose k rollouts all
  fail, found by binary search (data/labels.py: FirstErrorSearch, OmegaPRM's monotonicity
  assumed); correct solutions need no rollouts. One call per round for every pending
  solution's midpoint of the batch: at most ceil(log2 T) calls for solutions of at most T steps.
Both modes seed and deduplicate a prefix's rollouts alike, so on the same seed a prefix rolled
out by both gets the same completions. The mode is a setting of the records: a rerun in the
other mode does not resume this one's shard (nor one begun before the mode existed: rerun
those with --overwrite true).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, cast

from data import shards
from data.grading import is_correct
from data.labels import FirstErrorSearch, first_error_labels, labelable, prefix, step_labels
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem, RecordError, Sample, read_records, to_dict
from data.shards import Shard, derive_seed
from data.steps import extract_answer
from ttc.lm import LM, GenerationRequest
from ttc.lm.sampling import check_sampling
from ttc.lm.spec import LMConfig
from ttc.stages.common import require, run_problems, run_stage
from ttc.stages.spec import StageSpec

log = logging.getLogger(__name__)
VOLATILE = shards.VOLATILE | {"batch_problems"}  # a prefix's rollouts do not depend on its batch
LabelMode = Literal["per_step", "binary_search"]


@dataclass
class RolloutConfig:
    k: int = 16  # rollouts per step (paper: 16)
    temperature: float = 0.8
    top_p: float = 1.0
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)  # end-of-solution markers, as in `ttc sample`
    seed: int = 0
    mode: LabelMode = "per_step"  # binary_search: hard labels from O(log steps) prefixes (module docstring)

    def __post_init__(self) -> None:
        check_sampling(self.k, self.temperature, self.top_p, self.max_tokens, self.stop, "k")
        if self.mode not in ("per_step", "binary_search"):
            raise ValueError(f"rollouts.mode must be 'per_step' or 'binary_search', got {self.mode!r}")

    def request(self, problem_id: str, text: str) -> GenerationRequest:
        """The k rollouts of a prefix, seeded by its problem and text (not by its batch or mode)."""
        return GenerationRequest(
            text,
            self.k,
            self.temperature,
            self.top_p,
            self.max_tokens,
            tuple(self.stop),
            derive_seed(self.seed, problem_id, text),
        )


@dataclass
class LabelConfig(shards.ReadsFiles):
    INPUT_FILES: ClassVar[tuple[str, ...]] = ("samples",)  # in the settings by content (data/shards.py)
    output_dir: str
    samples: str  # samples.jsonl from `ttc sample`
    lm: LMConfig
    data: DataConfig = field(default_factory=DataConfig)
    prompt: PromptFormat = field(default_factory=PromptFormat)
    rollouts: RolloutConfig = field(default_factory=RolloutConfig)
    samples_per_problem: int | None = None  # label only the first n samples (paper: all 16)
    shard: int = 0
    num_shards: int = 1
    batch_problems: int = 8
    overwrite: bool = False  # start afresh: remove this shard's earlier records, whatever made them

    def __post_init__(self) -> None:
        Shard(self.shard, self.num_shards)
        if self.batch_problems < 1:
            raise ValueError("batch_problems must be >= 1")
        if self.samples_per_problem is not None and self.samples_per_problem < 1:
            raise ValueError(f"samples_per_problem must be >= 1 or null, got {self.samples_per_problem}")


def samples_by_problem(path: Path, problems: list[Problem], limit: int | None) -> dict[str, list[Sample]]:
    known = {p.id for p in problems}
    grouped: dict[str, list[Sample]] = defaultdict(list)
    for s in require(read_records(path, Sample), f"{path}: no sample records (an empty samples file)"):
        if s.problem_id not in known:
            raise RecordError(f"{path}: field 'problem_id' {s.problem_id!r} is not in the configured data")
        if limit is None or s.index < limit:
            grouped[s.problem_id].append(s)
    missing = [p.id for p in problems if p.id not in grouped]
    require(len(missing) < len(problems), f"{path}: no sample of any configured problem")
    if missing:
        log.warning(
            "%s: %d of %d configured problem(s) have no samples (first: %s)",
            path,
            len(missing),
            len(problems),
            missing[0],
        )
    return grouped


def inputs(cfg: LabelConfig) -> tuple[list[Problem], dict[str, list[Sample]]]:
    """The problems and their samples, checked: something to label."""
    problems = load_problems(cfg.data)
    samples = samples_by_problem(Path(cfg.samples), problems, cfg.samples_per_problem)
    require(
        any(labelable(s) for group in samples.values() for s in group),
        f"{cfg.samples}: no sample has a parsable answer: nothing to label",
    )
    return problems, samples


def check(cfg: LabelConfig) -> None:
    """The stage's inputs, before a model loads."""
    inputs(cfg)


Prefixes = dict[tuple[str, str], Problem]  # (problem id, prefix text) -> its problem, first-seen order


def kept_samples(batch: list[Problem], samples: dict[str, list[Sample]]) -> dict[str, list[Sample]]:
    return {p.id: [s for s in samples.get(p.id, []) if labelable(s)] for p in batch}


def rendered(cfg: LabelConfig, lm: LM, batch: list[Problem]) -> dict[str, str]:
    """Each problem's prompt, as the policy reads it: where its solutions' prefixes begin."""
    return {p.id: cfg.prompt.render(p.question, lm.tokenizer) for p in batch}


def correct_rollouts(r: RolloutConfig, lm: LM, unique: Prefixes) -> dict[tuple[str, str], int]:
    """The number of correct rollouts of each distinct prefix: ONE LM call (none for no prefix)."""
    requests = [r.request(pid, text) for pid, text in unique]
    return {
        key: sum(is_correct(extract_answer(c.text), p.answer, p.source) for c in completions)
        for (key, p), completions in zip(unique.items(), lm.generate(requests) if requests else [])
    }


def label_batch(cfg: LabelConfig, lm: LM, batch: list[Problem], samples: dict[str, list[Sample]]) -> list[list[dict]]:
    """The batch's records in the configured mode."""
    if cfg.rollouts.mode == "binary_search":
        return search_batch(cfg, lm, batch, samples)
    return per_step_batch(cfg, lm, batch, samples)


def per_step_batch(
    cfg: LabelConfig, lm: LM, batch: list[Problem], samples: dict[str, list[Sample]]
) -> list[list[dict]]:
    """One LM call for every distinct step prefix of every kept solution of the batch.

    Samples of a question often share prefixes; a prefix's rollouts are seeded by its text, so
    each distinct prefix is rolled out once and its value serves every solution that has it.
    """
    kept, prompts = kept_samples(batch, samples), rendered(cfg, lm, batch)
    prefixes = {
        p.id: [prefix(prompts[p.id], s.steps, i) for s in kept[p.id] for i in range(len(s.steps) - 1)] for p in batch
    }
    correct = correct_rollouts(cfg.rollouts, lm, {(p.id, text): p for p in batch for text in prefixes[p.id]})
    records = []
    for p in batch:
        counts = iter(correct[p.id, text] for text in prefixes[p.id])
        records.append(
            [
                to_dict(step_labels(s, p.question, [next(counts) for _ in s.steps[1:]], cfg.rollouts.k))
                for s in kept[p.id]
            ]
        )
    return records


def search_batch(cfg: LabelConfig, lm: LM, batch: list[Problem], samples: dict[str, list[Sample]]) -> list[list[dict]]:
    """Binary search for every kept solution's first error, in rounds: ONE LM call per round for
    the distinct midpoint prefixes of every pending solution; a prefix rolled out in an earlier
    round (for another solution of its question) is not rolled out again."""
    kept, prompts = kept_samples(batch, samples), rendered(cfg, lm, batch)
    searches = [[(p, s, FirstErrorSearch(len(s.steps), s.correct)) for s in kept[p.id]] for p in batch]
    known: dict[tuple[str, str], int] = {}
    while pending := [(p, s, search) for group in searches for p, s, search in group if search.midpoint is not None]:
        keys = [(p.id, prefix(prompts[p.id], s.steps, cast(int, search.midpoint))) for p, s, search in pending]
        new = {key: p for key, (p, _, _) in zip(keys, pending) if key not in known}  # first-seen order
        known |= correct_rollouts(cfg.rollouts, lm, new)
        for key, (_, _, search) in zip(keys, pending):
            search.record(known[key] == 0)  # all k rollouts fail: a hard negative
    return [
        [to_dict(first_error_labels(s, p.question, search, cfg.rollouts.k)) for p, s, search in group]
        for group in searches
    ]


def run(cfg: LabelConfig, lm: LM) -> Path:
    """This shard; merged into `labels.jsonl` when it is the only one."""
    problems, samples = inputs(cfg)
    dropped = sum(not labelable(s) for group in samples.values() for s in group)
    log.info("dropping %d solution(s) without a parsable answer", dropped)
    # a problem with no labelable sample gives no record
    return run_problems(cfg, STAGE, problems, lambda batch: label_batch(cfg, lm, batch, samples), empty_units=True)


def main(cfg: LabelConfig) -> Path:
    return run_stage(cfg, STAGE)


STAGE = StageSpec(config=LabelConfig, main=main, run=run, records="labels", volatile=VOLATILE, check=check)
