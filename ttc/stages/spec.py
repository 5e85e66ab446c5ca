"""The stage contract: what a stage module declares about itself, once, as `STAGE = StageSpec(...)`.

The graph (ttc/pipeline/graph.py) names each stage's module; the CLI, the sharded runner
(ttc/stages/common.py), the run's input checks and the report read this record, never a module
attribute probed by name. A stage is sharded (claims problems, merges records) exactly when it
declares its `records` stem. `load_spec` reads a module's record; tests/ttc/pipeline/test_stage_contract.py
checks every stage's.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, Literal, TypeVar

from data import shards

if TYPE_CHECKING:
    from ttc.lm import LM

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
    run: Callable[[C, LM], Any] | None = None  # the LM handed in (the demo loads it once); graph stages with `lm`
    records: str | None = None  # the records stem of a sharded stage (<stem>.jsonl); None: not sharded
    volatile: frozenset[str] = shards.VOLATILE  # settings a resumed shard may change
    launch: Launch = "process"
    gpu: bool = True  # runs a model; False: CPU only (reads records, counts)
    check: Callable[[C], Any] | None = None  # before any work: the inputs' formats
    # at build time: check_inputs(cfg, makers, where), makers the settings of the stages it reads, by input key
    check_inputs: Callable[[C, dict[str, dict[str, Any]], str], None] | None = None
    report: ReportPart | None = None

    @property
    def sharded(self) -> bool:
        return self.records is not None


def load_spec(module: str) -> StageSpec[Any]:
    """The `STAGE` a stage module declares (the graph and the CLI name modules as text: imported here)."""
    spec = importlib.import_module(module).STAGE
    if not isinstance(spec, StageSpec):
        raise TypeError(f"{module}.STAGE: expected a StageSpec, got {type(spec).__name__}")
    return spec
