"""The pipeline as data: every stage, the `ttc` command that runs it, what it reads, how it runs.

One graph drives both `ttc demo` (every stage in one process, ttc/pipeline/local.py) and the Slurm
chain (one job per stage, ttc/pipeline/slurm.py), over one run layout: stage S writes into
`<run_dir>/S/` (its config's `output_dir`), and reads what its `inputs` name:

    Out("label", "labels.jsonl")   <run_dir>/label/labels.jsonl (a dependency on stage `label`)
    LMOf("base")                   the run's base, larger or revision LM (an `lm:` section)
    ModelOf("base")                that LM's model folder
    Questions("test")              the run's train, revision, test or held-out problems
    any other value                itself (lists and mappings of these are resolved inside)

A stage's other settings come from the run's recipe (configs/toy/demo.yaml). Adding a stage is one
entry here plus its module, which ends with `STAGE = StageSpec(...)` (ttc/stages/spec.py): its
dataclass config, `main(cfg)`, `run(cfg, lm)` when it samples from an LM the run shares (`lm`),
whether it is sharded, how it launches. The entry names the module as text, so reading the graph
(`ttc --help`) imports no stage. Its command is `ttc <command>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from ttc.pipeline.resources import ResourceClass

if TYPE_CHECKING:
    from ttc.stages.spec import StageSpec


@dataclass(frozen=True)
class Out:
    stage: str
    file: str = ""  # "" is the folder (a trained model)


@dataclass(frozen=True)
class LMOf:
    name: str  # base | large | reviser


@dataclass(frozen=True)
class ModelOf:
    name: str


@dataclass(frozen=True)
class Questions:
    name: str  # train | revision | test | heldout


@dataclass(frozen=True)
class Stage:
    name: str  # its folder under the run and its entry in the recipe's `stages`
    command: str  # `ttc <command>`
    module: str  # the module that declares it (`STAGE`); with `lm`, its spec has run(cfg, lm)
    inputs: dict[str, Any] = field(default_factory=dict)  # dotted config key -> source (module docstring)
    lm: str | None = None  # the LM it samples from, handed in: the demo starts each engine once
    from_scratch: bool = False  # trains a toy LM: only with --from-scratch

    def spec(self) -> StageSpec[Any]:
        """What its module declares (imported on first use)."""
        from ttc.stages.spec import load_spec

        return load_spec(self.module)

    @property
    def resource_class(self) -> ResourceClass:
        """What its Slurm job asks for (ttc/pipeline/resources.py): a trainer, a GPU stage, a CPU one."""
        spec = self.spec()
        return "trainer" if spec.launch == "trainer" else "gpu" if spec.gpu else "cpu"


def sources(value: Any) -> Iterator[Any]:
    """Every source inside an input value (lists and mappings walked)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from sources(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from sources(v)
    else:
        yield value


SAMPLE, TRAIN_LM, CHAINS, TRAIN_PRM, EVAL_SEARCH = (
    "ttc.stages.sample",
    "train.toy_lm",
    "ttc.stages.chains",
    "train.prm",
    "eval.search",
)
COMPUTE_OPTIMAL, FLOPS_MATCHED = "eval.compute_optimal", "eval.flops_matched"
BINS = {"oracle": Out("difficulty", "bins_oracle.json"), "predicted": Out("difficulty", "bins_predicted.json")}


def flops_matched(grid: str) -> dict[str, Any]:
    """One grid's compute-optimal (search or revisions) against the larger model's greedy answer."""
    return {
        "results": [Out(grid, "results.jsonl")],
        "bins": BINS["oracle"],
        "large_greedy": Out("large_greedy", "samples.jsonl"),
        "small_model": ModelOf("base"),
        "large_model": ModelOf("large"),
    }


GRAPH: tuple[Stage, ...] = (
    # --from-scratch: the toy base (three phases) and the larger model (two), train/toy_lm.py
    Stage("toy_base", "train-lm", TRAIN_LM, from_scratch=True),
    Stage("toy_base_context", "train-lm", TRAIN_LM, {"init_from": Out("toy_base")}, from_scratch=True),
    Stage("toy_base_careless", "train-lm", TRAIN_LM, {"init_from": Out("toy_base_context")}, from_scratch=True),
    Stage("toy_large", "train-lm", TRAIN_LM, from_scratch=True),
    Stage("toy_large_careless", "train-lm", TRAIN_LM, {"init_from": Out("toy_large")}, from_scratch=True),
    # the base model's samples (its engine first, started once)
    Stage("sample_train", "sample", SAMPLE, {"lm": LMOf("base"), "data": Questions("train")}, "base"),
    Stage(
        "label",
        "label",
        "ttc.stages.label",
        {"samples": Out("sample_train", "samples.jsonl"), "lm": LMOf("base"), "data": Questions("train")},
        "base",
    ),
    Stage("sample_trajectories", "sample", SAMPLE, {"lm": LMOf("base"), "data": Questions("revision")}, "base"),
    Stage("sample_test", "sample", SAMPLE, {"lm": LMOf("base"), "data": Questions("test")}, "base"),
    # the PRM, then search against it
    Stage("train_prm", "train-prm", TRAIN_PRM, {"model": ModelOf("base"), "labels_file": Out("label", "labels.jsonl")}),
    Stage(
        "eval_search",
        "eval",
        EVAL_SEARCH,
        {"lm": LMOf("base"), "prm.path": Out("train_prm"), "data": Questions("test")},
        "base",
    ),
    # the reviser, its chains, the revision ORM
    Stage(
        "trajectories",
        "trajectories",
        "ttc.stages.trajectories",
        {"samples": Out("sample_trajectories", "samples.jsonl"), "data": Questions("revision")},
    ),
    Stage(
        "train_reviser",
        "train-reviser",
        "train.revision",
        {"model": ModelOf("base"), "trajectories_file": Out("trajectories", "trajectories.jsonl")},
    ),
    Stage("chains_train", "chains", CHAINS, {"reviser": LMOf("reviser"), "data": Questions("revision")}, "reviser"),
    Stage(
        "orm_data",
        "orm-data",
        "train.orm_data",
        {"chains": Out("chains_train", "chains.jsonl"), "data": Questions("revision"), "model": ModelOf("base")},
    ),
    Stage(
        "train_orm",
        "train-prm",
        TRAIN_PRM,
        {"model": ModelOf("base"), "labels_file": Out("orm_data", "labels.jsonl"), "labels": "last"},
    ),
    Stage("chains_test", "chains", CHAINS, {"reviser": LMOf("reviser"), "data": Questions("test")}, "reviser"),
    Stage(
        "eval_revision",
        "eval-revision",
        "eval.revision",
        {"chains": Out("chains_test", "chains.jsonl"), "orm.path": Out("train_orm"), "data": Questions("test")},
    ),
    Stage(
        "eval_revision_grid",
        "eval",
        EVAL_SEARCH,
        {"lm": LMOf("reviser"), "prm.path": Out("train_orm"), "data": Questions("test")},
        "reviser",
    ),
    # the analyses of the test questions
    Stage(
        "eval_prm",
        "eval-prm",
        "eval.prm",
        {
            "prm.path": Out("train_prm"),
            "labels": None,
            "baseline.kind": "likelihood",
            "baseline.path": ModelOf("base"),
            "samples": Out("sample_test", "samples.jsonl"),
            "data": Questions("test"),
        },
    ),
    Stage(
        "bench_prm",
        "bench-prm",
        "eval.prm_bench",  # toy: toy-ProcessBench of these samples
        {
            "verifiers.prm.path": Out("train_prm"),
            "verifiers.likelihood.kind": "likelihood",
            "verifiers.likelihood.path": ModelOf("base"),
            "samples": Out("sample_test", "samples.jsonl"),
            "problems": Questions("test"),
        },
    ),
    Stage(
        "difficulty",
        "difficulty",
        "eval.difficulty",
        {"prm.path": Out("train_prm"), "samples": Out("sample_test", "samples.jsonl"), "data": Questions("test")},
    ),
    Stage("large_greedy", "sample", SAMPLE, {"lm": LMOf("large"), "data": Questions("test")}, "large"),
    Stage(
        "compute_optimal",
        "compute-optimal",
        COMPUTE_OPTIMAL,
        {"results": [Out("eval_search", "results.jsonl")], "bins": BINS},
    ),
    Stage(
        "compute_optimal_revisions",
        "compute-optimal",
        COMPUTE_OPTIMAL,
        {"results": [Out("eval_revision_grid", "results.jsonl")], "bins": BINS},
    ),
    Stage("flops_matched", "flops-matched", FLOPS_MATCHED, flops_matched("eval_search")),
    Stage("flops_matched_revisions", "flops-matched", FLOPS_MATCHED, flops_matched("eval_revision_grid")),
    # `ttc solve` with the policy fit on the test questions, on held-out ones (it loads its own models)
    Stage(
        "policy",
        "eval-policy",
        "eval.policy",
        {
            "lm": LMOf("base"),
            "prm.path": Out("train_prm"),
            "policy": Out("compute_optimal", "policy_predicted.json"),
            "data": Questions("heldout"),
        },
    ),
)
TRAINED = {"train_prm", "train_reviser", "train_orm"}  # models a recipe may take from committed checkpoints
LM_STAGE = {"reviser": "train_reviser"}  # an LM trained in the run (from scratch: base and large too)
FROM_SCRATCH_LM = {"base": "toy_base_careless", "large": "toy_large_careless"}


def stage(name: str) -> Stage:
    found = [s for s in GRAPH if s.name == name]
    if not found:
        raise KeyError(name)
    return found[0]


def upstream(s: Stage, from_scratch: bool) -> set[str]:
    """The stages whose outputs `s` reads, an LM it uses included."""
    lms = {src.name for src in sources(s.inputs) if isinstance(src, (LMOf, ModelOf))} | ({s.lm} if s.lm else set())
    made = {**LM_STAGE, **(FROM_SCRATCH_LM if from_scratch else {})}
    return {src.stage for src in sources(s.inputs) if isinstance(src, Out)} | {made[m] for m in lms if m in made}


def commands() -> dict[str, str]:
    """`ttc` command -> the module it runs, for every command a stage runs."""
    found: dict[str, str] = {}
    for s in GRAPH:
        if found.setdefault(s.command, s.module) != s.module:
            raise ValueError(f"command {s.command} runs two modules: {found[s.command]}, {s.module}")
    return found
