"""The settings every search strategy has (`SearchConfig`) and what identifies a method.

A config's fields are its settings; a result's `params` are the settings (all but the prompt
format, the run's) plus what the config derives from them (`derived`: beam search's resolved width,
a revision's chain split) or the run adds (a best-of-N pool's size). A method is a strategy with its
settings but the per-run ones (`RUN_FIELDS`: the budget n, the seed, the prompt format), so nothing
derived is ever part of its identity (`method_fields`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping

from data.prompts import PromptFormat
from ttc.lm import check_sampling
from ttc.verifiers import Aggregation, check_aggregation

Selection = Literal["naive", "weighted", "majority"]

SELECTIONS: tuple[str, ...] = ("naive", "weighted", "majority")

RUN_FIELDS = ("n", "seed", "prompt")  # set by each run (budget, seed, prompt format), not by a method


@dataclass
class SearchConfig:
    """Settings every strategy has."""

    STRATEGY: ClassVar[str]  # the strategy's name, declared once by its config class: what its results record
    n: int = 4  # N: samples (best-of-N) or beams (beam search, DVTS)
    temperature: float = 0.8
    top_p: float = 1.0
    aggregation: Aggregation = "last"  # step values -> one score (paper: last)
    selection: Selection = "weighted"  # over the final candidates (paper: best-of-N weighted)
    seed: int = 0
    prompt: PromptFormat = field(default_factory=PromptFormat)

    def __post_init__(self) -> None:
        check_sampling(self.n, self.temperature, self.top_p)  # n <= MAX_N: best-of-N asks its N in one request
        check_aggregation(self.aggregation)
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")

    @property
    def generations(self) -> int:
        """The paper's generation budget of one run."""
        return self.n

    def settings(self) -> dict[str, Any]:
        """The fields a result records (the prompt format is the run's, not the strategy's)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "prompt"}

    def derived(self) -> dict[str, Any]:
        """What follows from the settings and a result records beside them, for its reader."""
        return {}

    def params(self) -> dict[str, Any]:
        """What a result records: the settings and what is derived from them."""
        return {**self.settings(), **self.derived()}

    @classmethod
    def method_fields(cls) -> list[str]:
        """The settings that make a method: every field but those each run sets."""
        return [f.name for f in dataclasses.fields(cls) if f.init and f.name not in RUN_FIELDS]

    @classmethod
    def method_of(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """A method's settings out of a result's (or a config line's) params: derived values dropped."""
        names = set(cls.method_fields())
        return {k: v for k, v in params.items() if k in names}
