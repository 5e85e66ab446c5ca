"""The revision ORM's training data: outcome labels on the reviser's own chains.

    ttc chains --config configs/toy/chains_train.yaml              # the reviser's chains first
    python -m train.orm_data --config configs/toy/orm_data.yaml
    python -m train.prm --config configs/toy/orm.yaml              # then the ORM (outcome mode)

Paper Sec. 6: the ORM that selects among revisions is trained on the revision model's outputs
with the previous attempts in context: the chains `ttc chains` sampled on training questions
(`chains`), unscored, as this ORM does not exist yet; no model runs here (its tokenizer counts). Each answered attempt
becomes one `labels.jsonl` record whose question holds its chain's previous attempts, the text
the ORM reads at selection, and whose every step carries the attempt's correctness. Attempts
without a parsable answer get no label, as in `ttc label`.

The ORM trainer (train/prm.py) does not truncate, so each question is fitted to the ORM's
context here, as the ORM's scoring fits it (ttc/revise/chains.py): `fit_attempts` drops the
oldest previous attempts while the trainer's input (the question in the trainer's `prompt`, the
steps with the `format`'s tags: `model`'s tokenizer counts it) exceeds `max_length`. `format` and
`prompt` are the ORM trainer's own (configs/*/orm.yaml): set them alike. An attempt whose
question and steps alone do not fit gets no label, counted in the log (one long attempt must not
stop the stage).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer

from data.config import ConfigError, parse_config, run_cli, save_config
from data.lock import lock_output
from data.models import check_model, read_model_config
from data.prm_format import PRMFormat
from data.problems import DataConfig, load_problems
from data.prompts import PromptFormat
from data.records import Problem, RecordError, StepLabels, to_json, write_atomic
from data.revision_format import MAX_ATTEMPTS, ContextError, Fit, revision_question
from data.steps import split_steps
from ttc.revise import ChainSet, read_chain_sets
from ttc.revise.records import reviser_saw
from ttc.stages.spec import StageSpec

log = logging.getLogger(__name__)


@dataclass
class ORMDataConfig:
    output_dir: str
    chains: str  # chains.jsonl of `ttc chains`
    model: str  # the ORM's base checkpoint (folder or hub id): its tokenizer counts the ORM's input
    data: DataConfig = field(default_factory=DataConfig)  # the questions the chains were sampled on
    max_attempts: int = MAX_ATTEMPTS  # the chains' own: the ORM reads the context the reviser saw
    max_length: int | None = None  # tokens of the ORM trainer's input; None: the model's max_position_embeddings
    format: PRMFormat = field(default_factory=PRMFormat)  # the ORM trainer's `format`
    prompt: PromptFormat = field(default_factory=PromptFormat)  # the ORM trainer's `prompt`

    def __post_init__(self) -> None:
        if self.max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {self.max_attempts}")
        if self.max_length is not None and self.max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {self.max_length}")


@dataclass(frozen=True)
class ORMInput:
    """What the ORM trainer tokenizes (train/prm.py StepLabelDataset: the question in `prompt`,
    then the steps with `format`'s tags) and the `max_length` tokens it must fit."""

    tokenizer: Any
    format: PRMFormat
    prompt: PromptFormat
    max_length: int

    def fit(self, problem_id: str, steps: list[str]) -> Fit:
        def count_tokens(question: str) -> int:
            return len(self.format.encode(self.tokenizer, self.prompt.render(question, self.tokenizer), steps)[0])

        return Fit(
            count_tokens, self.max_length, f"problem {problem_id}: the ORM's input (max_length {self.max_length})"
        )


@dataclass
class ORMLabels:
    """A problem's ORM labels, and what fitting them to max_length left out."""

    records: list[StepLabels] = field(default_factory=list)
    dropped_attempts: int = 0  # previous attempts left out of questions to fit max_length
    too_long: int = 0  # answered attempts with no label: question and steps alone exceed max_length


def orm_labels(problem: Problem, chain_set: ChainSet, max_attempts: int, orm: ORMInput) -> ORMLabels:
    """One outcome label per answered attempt, its question holding the previous attempts the
    reviser saw when it wrote it (those its context kept), the oldest dropped while the ORM's
    input would exceed its max_length."""
    labels = ORMLabels()
    for c, chain in enumerate(chain_set.chains):
        for t, attempt in enumerate(chain):
            steps = split_steps(attempt.text)
            if attempt.answer is None or not steps:
                continue
            seen = reviser_saw(chain, t, max_attempts)
            try:
                question = revision_question(problem.question, seen, len(seen), orm.fit(problem.id, steps))
            except ContextError:
                labels.too_long += 1
                continue
            labels.dropped_attempts += question.dropped
            labels.records.append(
                StepLabels(
                    problem.id,
                    c * len(chain) + t,
                    question.text,
                    steps,
                    [float(attempt.correct)] * len(steps),
                    [0] * len(steps),
                )
            )
    return labels


def orm_input(cfg: ORMDataConfig) -> ORMInput:
    """The ORM's tokenizer, its tag tokens checked, and its max_length (else its model's)."""
    folder = check_model(cfg.model, "model")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    try:
        cfg.format.token_ids(tokenizer, where=f"model {cfg.model}")
    except ValueError as e:
        raise ConfigError(f"format: {e}") from e
    max_length = cfg.max_length
    if max_length is None:
        max_length = read_model_config(folder, "model").get("max_position_embeddings")
    if not isinstance(max_length, int):
        raise ConfigError(f"max_length: model {cfg.model!r} states no max_position_embeddings; set max_length")
    return ORMInput(tokenizer, cfg.format, cfg.prompt, max_length)


def main(cfg: ORMDataConfig) -> Path:
    problems = load_problems(cfg.data)
    chain_sets = read_chain_sets(cfg.chains, problems)
    orm = orm_input(cfg)
    found = [orm_labels(p, chain_set, cfg.max_attempts, orm) for p, chain_set in zip(problems, chain_sets)]
    records = [r for labels in found for r in labels.records]
    dropped, too_long = sum(f.dropped_attempts for f in found), sum(f.too_long for f in found)
    if dropped or too_long:
        log.warning(
            "max_length %d: dropped %d oldest previous attempts from ORM questions, and %d answered attempts "
            "whose question and steps alone do not fit",
            orm.max_length,
            dropped,
            too_long,
        )
    if not records:
        raise RecordError(
            f"{cfg.chains}: no answered attempt in the chains fits the ORM's max_length "
            f"{orm.max_length} ({too_long} too long): no ORM label to write"
        )
    lock_output(cfg.output_dir, "orm-data")  # bad input was refused before anything is written
    save_config(cfg, Path(cfg.output_dir) / "config.yaml")
    path = Path(cfg.output_dir) / "labels.jsonl"
    write_atomic(path, [to_json(r) for r in records])
    log.info(
        "%d ORM labels (%d correct) from %d chain sets; %d answered attempts too long for max_length %d",
        len(records),
        sum(r.values[-1] for r in records),
        len(chain_sets),
        too_long,
        orm.max_length,
    )
    return path


STAGE = StageSpec(config=ORMDataConfig, main=main, gpu=False)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    print(
        run_cli("train.orm_data", lambda: main(parse_config(ORMDataConfig, sys.argv[1:])))
    )  # bad input: one line, exit 2
