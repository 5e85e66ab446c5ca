"""What revision chains produce: every attempt of every chain, graded, and scored once an ORM has
read it. `ttc chains` stores them unscored, one `Attempt` a line (`chains.jsonl`), problems in
input order, each problem's attempts in (chain, attempt) order; `read_chain_sets` reads them
back for the ORM's training data (train/orm_data.py) and the revision eval (eval/revision.py)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from data.records import Problem, RecordError, read_records, to_dict
from data.revision_format import kept
from ttc.search.result import Costs


@dataclass(frozen=True)
class Attempt:
    """Attempt `index` (0 = the first, written with no previous attempt in context) of chain
    `chain` of a problem; `score` is the ORM's (aggregated) with the previous attempts in context,
    None until an ORM has scored it. `dropped`: the oldest of the `max_attempts` most recent
    previous attempts left out of the reviser's prompt to fit its context (data/revision_format.py
    `fit_attempts`; 0 in records written before it was kept)."""

    problem_id: str
    chain: int
    index: int
    text: str
    answer: str | None
    correct: bool
    score: float | None
    num_tokens: int
    finish_reason: str
    dropped: int = 0


@dataclass
class ChainSet:
    """One problem's chains, attempts in order; `costs` of sampling and scoring all of them."""

    problem_id: str
    chains: list[list[Attempt]]
    costs: Costs | None = None

    def __post_init__(self) -> None:
        for c, chain in enumerate(self.chains):
            for t, a in enumerate(chain):
                if (a.problem_id, a.chain, a.index) != (self.problem_id, c, t):
                    raise ValueError(
                        f"{self.problem_id}: attempt {t} of chain {c} is recorded as "
                        f"{a.problem_id!r} chain {a.chain} attempt {a.index}"
                    )

    @property
    def length(self) -> int:
        """Attempts in the shortest chain (0 with no chain)."""
        return min((len(chain) for chain in self.chains), default=0)


def reviser_saw(chain: Sequence[Attempt], t: int, max_attempts: int) -> list[str]:
    """The previous attempts in the reviser's prompt when it wrote attempt `t` of `chain`: the
    ORM reads the same (ttc/revise/chains.py `score_chains`, train/orm_data.py)."""
    window = kept([a.text for a in chain[:t]], max_attempts)
    return window[chain[t].dropped :]


def chain_records(chain_set: ChainSet) -> list[dict[str, Any]]:
    """The records of a chain set's attempts, in (chain, attempt) order."""
    return [to_dict(a) for chain in chain_set.chains for a in chain]


def read_chain_sets(path: Path | str, problems: Sequence[Problem]) -> list[ChainSet]:
    """The chain set of each problem, in problem order. Every problem must have the same K chains
    of T attempts and every record's problem must be in `problems`: the readers' numbers and
    labels assume both, so chains of other data are an error, not a silent subset."""
    grouped: dict[str, dict[int, list[Attempt]]] = defaultdict(lambda: defaultdict(list))
    known = {p.id for p in problems}
    for a in read_records(path, Attempt):
        if a.problem_id not in known:
            raise RecordError(f"{path}: problem {a.problem_id!r} is not in the configured data")
        grouped[a.problem_id][a.chain].append(a)
    chain_sets: list[ChainSet] = []
    for p in problems:
        found = grouped.get(p.id, {})
        if not found or sorted(found) != list(range(len(found))):
            raise RecordError(f"{path}: problem {p.id} has chains {sorted(found)}, not 0..K-1 for some K >= 1")
        try:  # ChainSet checks that each chain's attempts are numbered 0..T-1
            chain_set = ChainSet(p.id, [sorted(found[c], key=lambda a: a.index) for c in range(len(found))])
        except ValueError as e:
            raise RecordError(f"{path}: {e}") from e
        lengths = [len(chain) for chain in chain_set.chains]
        first = [len(chain) for chain in (chain_sets[0] if chain_sets else chain_set).chains]
        if len(set(lengths)) != 1 or lengths != first:
            raise RecordError(
                f"{path}: problem {p.id} has chains of {lengths} attempts; every problem needs "
                f"the same K chains of T attempts ({len(first)} x {first[0]} at the first problem)"
            )
        chain_sets.append(chain_set)
    return chain_sets
