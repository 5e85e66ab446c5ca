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
from typing import Protocol, Sequence, runtime_checkable

from data.prm_format import Aggregation  # noqa: F401  (re-exported: the verifiers' vocabulary)


class Verifier(Protocol):
    """Scores solutions. A verifier that keeps a ledger also has `tokens_scored` (tokens run
    forward, all calls), `last_tokens` (each solution's, last call) and `num_parameters`; one
    whose values for a solution do not depend on the rest of its call says `batch_invariant`."""

    def score(self, questions: Sequence[str], solutions: Sequence[list[str]]) -> list[list[float]]:
        """One value per step of each solution, one forward pass per solution."""
        ...


@runtime_checkable
class BoundedVerifier(Protocol):
    """A verifier that states its context: a solution's input, as its kind encodes it
    (`count_tokens`), must fit `context_length`; a caller that builds growing questions (the
    revision ORM's, previous attempts in them) fits them to it."""

    @property
    def context_length(self) -> int: ...

    def count_tokens(self, question: str, steps: list[str]) -> int: ...


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
