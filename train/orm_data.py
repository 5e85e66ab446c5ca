"""The revision ORM's training data: outcome labels on the reviser's own chains.

    ttc chains --config configs/toy/chains_train.yaml              # the reviser's chains first
    python -m train.orm_data --config configs/toy/orm_data.yaml
    python -m train.prm --config configs/toy/orm.yaml              # then the ORM (outcome mode)

Paper Sec. 6: the ORM that selects among revisions is trained on the revision model's outputs
with the previous attempts in context: the chains `ttc chains` sampled on training questions
(`chains`), unscored, as this ORM does not exist yet; no model runs here. Each answered attempt
becomes one `labels.jsonl` record whose question holds its chain's previous attempts, the text
the ORM reads at selection, and whose every step carries the attempt's correctness. Attempts
without a parsable answer get no label, as in `ttc label`.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from data.config import parse_config, run_cli, save_config
from data.lock import lock_output
from data.problems import DataConfig, load_problems
from data.records import Problem, RecordError, StepLabels, to_json, write_atomic
from data.revision_format import MAX_ATTEMPTS, revision_question
from data.steps import split_steps
from ttc.revise import ChainSet, read_chain_sets
from ttc.revise.records import reviser_saw

log = logging.getLogger(__name__)


@dataclass
class Config:
    output_dir: str
    chains: str  # chains.jsonl of `ttc chains`
    data: DataConfig = field(default_factory=DataConfig)  # the questions the chains were sampled on
    max_attempts: int = MAX_ATTEMPTS  # the chains' own: the ORM reads the context the reviser saw

    def __post_init__(self) -> None:
        if self.max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {self.max_attempts}")


def orm_labels(problem: Problem, chain_set: ChainSet, max_attempts: int) -> list[StepLabels]:
    """One outcome label per answered attempt, its question holding the previous attempts the
    reviser saw when it wrote it (those its context kept)."""
    records = []
    for c, chain in enumerate(chain_set.chains):
        for t, attempt in enumerate(chain):
            steps = split_steps(attempt.text)
            if attempt.answer is not None and steps:
                seen = reviser_saw(chain, t, max_attempts)
                question = revision_question(problem.question, seen, len(seen)).text
                records.append(StepLabels(problem.id, c * len(chain) + t, question, steps,
                                          [float(attempt.correct)] * len(steps), [0] * len(steps)))
    return records


def main(cfg: Config) -> Path:
    problems = load_problems(cfg.data)
    chain_sets = read_chain_sets(cfg.chains, problems)
    records = [r for p, chain_set in zip(problems, chain_sets) for r in orm_labels(p, chain_set, cfg.max_attempts)]
    if not records:
        raise RecordError(f"{cfg.chains}: no answered attempt in the chains: no ORM label to write")
    lock_output(cfg.output_dir, "orm-data")  # bad input was refused before anything is written
    save_config(cfg, Path(cfg.output_dir) / "config.yaml")
    path = Path(cfg.output_dir) / "labels.jsonl"
    write_atomic(path, [to_json(r) for r in records])
    log.info("%d ORM labels (%d correct) from %d chain sets", len(records), sum(r.values[-1] for r in records),
             len(chain_sets))
    return path


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    print(run_cli("train.orm_data", lambda: main(parse_config(Config, sys.argv[1:]))))  # bad input: one line, exit 2
