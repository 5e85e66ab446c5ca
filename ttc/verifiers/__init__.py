"""Verifiers: score every step of a batch of (question, steps) with one value in [0, 1].

Every stage loads its verifier through one spec, `load_verifier(VerifierConfig(kind=..., path=...),
prompt)` (ttc/verifiers/spec.py): our PRM format, the likelihood baseline, or a public PRM in
its own published format (Math-Shepherd, RLHFlow, Qwen2.5-Math-PRM), each a kind of its own.

`aggregate` turns a solution's step values into one score, chosen by config: `last` (the
paper's best with soft MC labels), `min` (Lightman et al.) or `prod`; a loaded verifier's
`.aggregation` is its kind's default, from its model card (our PRM's: from its labels,
data/prm_format.py).
"""

from __future__ import annotations

import math
import typing
from typing import Protocol, Sequence, runtime_checkable

from data.prm_format import Aggregation  # (re-exported: the verifiers' vocabulary)


class Verifier(Protocol):
    """Scores solutions, keeping a ledger: `tokens_scored` (tokens run forward, all calls),
    `last_tokens` (each solution's, last call; None: not counted) and `num_parameters` (None: not
    known, so no verifier FLOPs). One whose values for a solution do not depend on the rest of
    its call says `batch_invariant`."""

    # read-only to callers (properties, so a verifier may keep them as plain attributes)
    @property
    def aggregation(self) -> Aggregation: ...

    @property
    def tokens_scored(self) -> int: ...

    @property
    def last_tokens(self) -> list[int] | None: ...

    @property
    def batch_invariant(self) -> bool: ...

    @property
    def num_parameters(self) -> int | None: ...

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        """One value per step of each solution, one forward pass per solution."""
        ...

    def close(self) -> None:
        """Free the engine; the verifier is not used after it."""
        ...


class VerifierBase:
    """The Verifier protocol's defaults, shared by the verifiers and the test fakes."""

    aggregation: Aggregation = "last"
    tokens_scored: int = 0
    last_tokens: list[int] | None = None
    batch_invariant: bool = False
    num_parameters: int | None = None

    def close(self) -> None:
        return None


@runtime_checkable
class BoundedVerifier(Protocol):
    """A verifier that states its context: a solution's input, as its kind encodes it
    (`count_tokens`), must fit `context_length`; a caller that builds growing questions (the
    revision ORM's, previous attempts in them) fits them to it."""

    @property
    def context_length(self) -> int: ...

    def count_tokens(self, question: str, steps: list[str]) -> int: ...


def check_aggregation(how: str) -> None:
    """An aggregation a config names: last, min or prod; a ValueError otherwise."""
    if how not in typing.get_args(Aggregation):
        raise ValueError(f"aggregation must be last, min or prod, got {how!r}")


def aggregate(values: Sequence[float], how: Aggregation) -> float:
    if not values:
        return 0.0
    if how == "last":
        return values[-1]
    if how == "min":
        return min(values)
    if how == "prod":
        return math.prod(values)
    raise ValueError(f"unknown aggregation {how!r}: last, min or prod")
