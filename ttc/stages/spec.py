"""The stage contract: what a stage module declares about itself, once, as `STAGE = StageSpec(...)`.

The graph (ttc/pipeline/graph.py) names each stage's module; the CLI, the sharded runner
(ttc/stages/common.py), the run's input checks and the report read this record, never a module
attribute probed by name. A stage is sharded (claims problems, merges records) exactly when it
declares its `records` stem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Literal, TypeVar

from data import shards

Launch = Literal["process", "trainer"]  # trainer: its Slurm job starts one process per GPU
C = TypeVar("C")


@dataclass(frozen=True)
class Finding:
    """One sentence on the numbers, and the figure (a PNG of the part's folder) it is about."""

    sentence: str
    figure: str | None = None


@dataclass(frozen=True)
class ReportPart:
    """A stage's section of the run's report (ttc/pipeline/report.py). Stages that share one part
    (the search grid and the revision grid) each hold it; its folders are theirs."""

    title: str
    order: int  # the section's place in the report
    missing: str  # what makes it, for the "not run" line
    numbers: str  # the file that marks the part and holds its numbers
    tables: tuple[str, ...]  # the stage's own markdown, embedded
    findings: Callable[[Path], list[Finding]]  # the part's folder -> its sentences


@dataclass(frozen=True)
class StageSpec(Generic[C]):
    config: type[C]
    main: Callable[[C], Any]
    run: Callable[..., Any] | None = None  # run(cfg, lm): the LM handed in (the demo loads it once)
    records: str | None = None  # the records stem of a sharded stage (<stem>.jsonl); None: not sharded
    volatile: frozenset[str] = shards.VOLATILE  # settings a resumed shard may change
    launch: Launch = "process"
    gpu: bool = True  # runs a model; False: CPU only (reads records, counts)
    check: Callable[[C], Any] | None = None  # before any work: the inputs' formats
    check_inputs: Callable[..., None] | None = None  # at build time, against the upstream settings
    report: ReportPart | None = None

    @property
    def sharded(self) -> bool:
        return self.records is not None
