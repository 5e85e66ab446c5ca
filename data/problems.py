"""Which problems a stage runs on: the toy world or MATH, chosen by config."""

from __future__ import annotations

from dataclasses import dataclass, field

from data import toy
from data.config import ConfigError
from data.records import Problem


@dataclass
class DataConfig:
    """`source: toy` generates problems; anything else is a MATH file, folder or hub id."""

    source: str = "toy"
    split: str = "test"  # toy: any name (it seeds the generator); MATH: see data.math_dataset
    levels: list[int] = field(default_factory=lambda: sorted(toy.LEVELS))
    per_level: int = 200  # toy only
    seed: int = 0  # toy only
    limit: int | None = None  # keep the first `limit` problems

    def __post_init__(self) -> None:
        unknown = set(self.levels) - set(toy.LEVELS) if self.source == toy.SOURCE else set()
        if unknown:
            raise ValueError(f"unknown toy level(s) {sorted(unknown)}; known: {sorted(toy.LEVELS)}")
        if self.per_level < 1 or (self.limit is not None and self.limit < 1):
            raise ValueError("per_level and limit must be >= 1")


def toy_problems(cfg: DataConfig) -> list[Problem]:
    problems = []
    for level in cfg.levels:
        for i in range(cfg.per_level):
            p = toy.generate(level, i, seed=f"{cfg.split}:{cfg.seed}")
            problems.append(
                Problem(f"toy-{cfg.split}-L{level}-{i:05d}", p.question, str(p.answer), level, "arithmetic", toy.SOURCE)
            )
    return problems


def load_problems(cfg: DataConfig) -> list[Problem]:
    """The configured problems; none at all is a config error (a split or level list that selects
    nothing), never an empty output."""
    if cfg.source == toy.SOURCE:
        problems = toy_problems(cfg)
    else:
        from data.math_dataset import load_math

        problems = load_math(cfg.source, cfg.split)
    if not problems:
        raise ConfigError(f"data: no problems (source {cfg.source!r}, split {cfg.split!r}, levels {cfg.levels})")
    return problems[: cfg.limit] if cfg.limit else problems
