"""Difficulty bins of test questions (cut by eval/difficulty.py), as one versioned artifact:
`bins_oracle.json` and `bins_predicted.json`.

Each question has a bin, 1 = easiest, and the value the bins were cut from: the base model's
pass@1 (`oracle`: needs the answers) or the mean PRM final-step score (`predicted`: needs none,
so a deployed policy can bin a new question the same way, by the score `edges`).

Edges: bins are equal-count by rank, 1 = the highest value, so bin b's lowest value is at least
bin b+1's highest. The edge between them is the midpoint of the two; a value at or above it
goes to the easier bin b.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from data import artifacts

FORMAT, VERSION = "ttc.bins", 1
KINDS = ("oracle", "predicted")


@dataclass(frozen=True)
class Bins:
    kind: str  # one of KINDS
    bins: dict[str, int]  # question id -> bin in 1..num_bins, 1 = easiest
    values: dict[str, float]  # question id -> the value the bins were cut from (higher: easier)
    num_bins: int
    meta: dict[str, Any] = field(default_factory=dict)  # how they were cut: samples, num_samples, seed, prm

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: {self.kind!r} is not one of {', '.join(KINDS)}")
        if isinstance(self.num_bins, bool) or not isinstance(self.num_bins, int) or self.num_bins < 1:
            raise ValueError(f"num_bins: {self.num_bins!r}, expected an integer >= 1")
        if not self.bins:
            raise ValueError("bins: no questions")
        for q, b in self.bins.items():
            if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= self.num_bins:
                raise ValueError(f"bins: problem {q} has bin {b!r}; bins are integers 1..{self.num_bins}")
        missing = [q for q in self.bins if q not in self.values]
        if missing:
            raise ValueError(f"values: no value for problem {missing[0]}")

    def edges(self) -> list[float]:
        """Score edges between consecutive bins (module docstring): edges[b-1] separates bins b
        and b+1. Every bin must hold a question, and a harder bin no value above an easier one's."""
        by_bin: dict[int, list[float]] = {b: [] for b in range(1, self.num_bins + 1)}
        for q, b in self.bins.items():
            by_bin[b].append(self.values[q])
        empty = [b for b, v in by_bin.items() if not v]
        if empty:
            raise ValueError(f"bins: bin {empty[0]} has no question")
        edges = []
        for b in range(1, self.num_bins):
            low, high = min(by_bin[b]), max(by_bin[b + 1])
            if high > low:
                raise ValueError(
                    f"values: bin {b + 1} has a value {high} above bin {b}'s lowest {low}; "
                    "bins are cut by rank, 1 = highest value"
                )
            edges.append((low + high) / 2)
        return edges

    def save(self, path: Path | str) -> None:
        record = asdict(self)
        record["bins"], record["values"] = dict(sorted(self.bins.items())), dict(sorted(self.values.items()))
        artifacts.save(path, FORMAT, VERSION, record)

    @classmethod
    def load(cls, path: Path | str) -> "Bins":
        return artifacts.build(cls, artifacts.load(path, FORMAT, VERSION), path)
