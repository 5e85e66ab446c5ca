"""What revision chains produce: every attempt of every chain, graded and scored."""

from __future__ import annotations

from dataclasses import dataclass

from ttc.search.common import Costs


@dataclass(frozen=True)
class Attempt:
    """Attempt `index` (0 = the first, written with no previous attempt in context) of chain
    `chain` of a problem; `score` is the ORM's (aggregated) with the previous attempts in context."""

    problem_id: str
    chain: int
    index: int
    text: str
    answer: str | None
    correct: bool
    score: float
    num_tokens: int
    finish_reason: str


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
                    raise ValueError(f"{self.problem_id}: attempt {t} of chain {c} is recorded as "
                                     f"{a.problem_id!r} chain {a.chain} attempt {a.index}")

    @property
    def length(self) -> int:
        """Attempts in the shortest chain (0 with no chain)."""
        return min((len(chain) for chain in self.chains), default=0)
