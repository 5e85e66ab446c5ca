"""What a Slurm job asks of the cluster, from the run's recipe.

    resources:                       # a run recipe's section (configs/qwen2.5-math-1.5b/pipeline.yaml)
      gpu: {gpus: 1, cpus: 8, mem: 64G, time: "8:00:00"}        # a stage on one GPU; each task of an array
      trainer: {gpus: 8, cpus: 64, mem: 512G, time: "24:00:00"}  # torchrun on `nodes` nodes
      cpu: {cpus: 4, mem: 16G, time: "2:00:00"}                  # CPU-only stages, merges, the report
    stages:
      large_greedy: {resources: {gpus: 8}}                      # one stage's own, over its class's

A stage's class follows from the graph (`Stage.resource_class`); a stage entry's `resources:` wins
key by key. Unset values add no flag (the cluster's defaults apply): the toy recipes set none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

ResourceClass = Literal["gpu", "trainer", "cpu"]
TIME = re.compile(r"(\d+-)?\d+(:\d\d){0,2}")  # sbatch --time: [days-]hours[:minutes[:seconds]] or minutes
MEMORY = re.compile(r"\d+[KMGT]?")


@dataclass(frozen=True)
class Resources:
    gpus: int = 0  # GPUs per node (--gpus-per-node); 0 asks for none
    cpus: int | None = None  # CPUs per task (--cpus-per-task)
    mem: str | None = None  # memory per node (--mem): 64G
    time: str | None = None  # wall-clock limit (--time): 8:00:00, 1-00:00:00
    nodes: int = 1  # nodes (trainers: torchrun starts once per node)

    def __post_init__(self) -> None:
        if self.gpus < 0 or self.nodes < 1 or (self.cpus is not None and self.cpus < 1):
            raise ValueError(f"gpus must be >= 0, nodes and cpus >= 1; got {self.gpus}, {self.nodes}, {self.cpus}")
        if self.mem is not None and not MEMORY.fullmatch(str(self.mem)):
            raise ValueError(f"mem: expected sbatch's form (64G, 512000M), got {self.mem!r}")
        if self.time is not None and not TIME.fullmatch(str(self.time)):
            raise ValueError(f"time: expected sbatch's form (8:00:00, 1-00:00:00, minutes), got {self.time!r}")

    def sbatch_options(self) -> dict[str, str]:
        """sbatch's long options for these resources (keys as Submitter takes them)."""
        options = {"nodes": str(self.nodes)} if self.nodes > 1 else {}
        if self.gpus:
            options["gpus_per_node"] = str(self.gpus)
        if self.cpus:
            options["cpus_per_task"] = str(self.cpus)
        if self.mem:
            options["mem"] = str(self.mem)
        if self.time:
            options["time"] = str(self.time)
        return options

    def describe(self) -> str:
        return (
            f"{self.nodes} node(s) x {self.gpus} GPU(s), {self.cpus or '-'} CPU(s), mem {self.mem or '-'}, "
            f"time {self.time or '-'}"
        )


@dataclass
class ResourcesConfig:
    gpu: Resources = field(default_factory=Resources)
    trainer: Resources = field(default_factory=Resources)
    cpu: Resources = field(default_factory=Resources)

    def of(self, kind: ResourceClass) -> Resources:
        return {"gpu": self.gpu, "trainer": self.trainer, "cpu": self.cpu}[kind]
