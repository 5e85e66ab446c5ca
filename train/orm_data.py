"""The revision ORM's training data: outcome labels on the reviser's own chains.

    python -m train.orm_data --config configs/toy/orm_data.yaml
    python -m train.prm --config configs/toy/orm.yaml        # then the ORM (outcome mode)

Paper Sec. 6: the ORM that selects among revisions is trained on the revision model's outputs
with the previous attempts in context. The reviser's chains are sampled on training questions
as eval/revision.py samples them (same config, resumable; the verifier under `orm` scores them
there and its values are not used: any PRM will do). Each answered attempt becomes one
`labels.jsonl` record whose question holds its chain's previous attempts, the text the ORM
reads at selection, and whose every step carries the attempt's correctness. Attempts without a
parsable answer get no label, as in `ttc label`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from data.config import ConfigError, parse_config, save_config
from data.problems import load_problems
from data.records import Problem, RecordError, StepLabels, to_json, write_atomic
from data.revision_format import revision_question
from data.steps import split_steps
from eval.revision import RevisionEvalConfig, load_chain_sets, sample
from ttc.revise import ChainSet

log = logging.getLogger(__name__)


def orm_labels(problem: Problem, chain_set: ChainSet, max_attempts: int) -> list[StepLabels]:
    """One outcome label per answered attempt, its question holding the chain's previous attempts."""
    records = []
    for c, chain in enumerate(chain_set.chains):
        for t, attempt in enumerate(chain):
            steps = split_steps(attempt.text)
            if attempt.answer is not None and steps:
                question = revision_question(problem.question, [a.text for a in chain[:t]], max_attempts)
                records.append(StepLabels(problem.id, c * len(chain) + t, question, steps,
                                          [float(attempt.correct)] * len(steps), [0] * len(steps)))
    return records


def main(cfg: RevisionEvalConfig) -> Path:
    save_config(cfg, Path(cfg.output_dir) / "config.yaml")
    problems = load_problems(cfg.data)
    chain_sets = load_chain_sets(sample(cfg, problems), problems, cfg.chains, cfg.length)
    records = [r for p, chain_set in zip(problems, chain_sets) for r in orm_labels(p, chain_set, cfg.max_attempts)]
    path = Path(cfg.output_dir) / "labels.jsonl"
    write_atomic(path, [to_json(r) for r in records])
    log.info("%d ORM labels (%d correct) from %d chain sets", len(records), sum(r.values[-1] for r in records),
             len(chain_sets))
    return path


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        print(main(parse_config(RevisionEvalConfig, sys.argv[1:])))
    except (ConfigError, RecordError) as e:
        sys.exit(f"train.orm_data: {e}")
