"""One run of the stage graph (ttc/pipeline/graph.py): its recipe, each stage's settings, and the
markers of finished stages. Shared by the in-process runner (local.py) and Slurm (slurm.py).

The recipe (configs/toy/demo.yaml) names the models, the problem sets and one entry per stage with
that stage's own settings (its config's keys), optionally over a per-stage recipe
(`recipe: configs/toy/prm.yaml`; the entry's keys win). The graph sets every stage's paths
(`output_dir`, inputs, models) and problems; an entry or a per-stage recipe that sets one of them is
an error at its line (a per-stage recipe holds settings, never paths; of an LM's section, only how
much of the machine its engine takes: PLACEMENT). Alone, a per-stage recipe takes its paths as flags
(`ttc <command> --config R --output_dir D ...`).

Which stages run: the graph's, less the toy-model trainers (unless `from_scratch`), the trainers
whose models the recipe takes from checkpoints (`trained:`) with the stages that only feed them,
the stages it `skip`s and every stage downstream of a skipped one; `only` narrows that further.

A finished stage writes `<run_dir>/<stage>/DONE` (its wall time, the settings it ran with and the
stamps of the upstream stages it read: a digest of each one's settings and, in turn, of its own
upstream stamps; paths under the run folder are recorded relative to it, so a run moved or reached
by another path is the same run): a rerun skips it without
loading anything, a stage without it reruns and resumes from its own partial work (shards, trainer
checkpoints), and a DONE stage whose settings have since changed, or whose upstream stage's (or
any stage's before it) have, is an error naming every finished stage made from it: delete those
folders or use another run_dir. Stages are deterministic, so an upstream stage redone with the
same settings leaves what was made from it valid. A stage that runs reads only finished upstream outputs made with
the settings the recipe gives now (`check_upstream`). Locks (data/lock.py) keep one writer a
stage: a pipeline holds the run and every stage it may run, a `--stage` job its stage (a shard
task its shard), all taken before any model loads.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import AbstractSet, Any

from data.config import (
    ConfigError,
    build_dataclass,
    given_whole,
    key_lines,
    merge_settings,
    rank_zero,
    read_yaml,
    save_config,
    to_dict,
)
from data.lock import hold, output_folder
from data.problems import DataConfig
from data.records import write_atomic
from data.shards import fingerprint
from ttc.lm.spec import LMConfig
from ttc.pipeline import graph
from ttc.pipeline.graph import TRAINED, LMOf, ModelOf, Out, Questions, Stage, sources, stage, upstream
from ttc.pipeline.resources import Resources, ResourcesConfig
from ttc.verifiers.spec import VerifierConfig

DONE = "DONE"
RUN_DIR = "$RUN_DIR"  # this run's folder, in the settings DONE records (`Run.portable`)
PLAN = "run.json"
# An LM's settings that are a stage's own: the share of the machine its engine takes (a stage that
# also runs a verifier's engine takes less). The rest (backend, dtype, context) are the run's model.
PLACEMENT = ("gpu_memory_utilization", "kv_cache_gib", "threads", "device")


def stage_config(name: str) -> type | None:
    """The config class of the stage `name` (None for a name that is no stage: refused later)."""
    return graph.stage(name).spec().config if name in {s.name for s in graph.GRAPH} else None


@dataclass
class ReviserLM(LMConfig):
    """How the reviser is served; its model is the run's train_reviser (or trained.train_reviser)."""

    model: str = ""


@dataclass
class PipelineConfig:
    run_dir: str = "runs/demo"
    base: LMConfig = field(default_factory=lambda: LMConfig(model="train/checkpoints/toy-base", backend="vllm"))
    large: LMConfig | None = None  # the larger model (large_greedy, flops_matched): none, then those stages refuse
    reviser: ReviserLM = field(default_factory=lambda: ReviserLM(backend="vllm"))
    train_data: DataConfig = field(default_factory=lambda: DataConfig(split="train", per_level=10))
    # the reviser's and its ORM's training questions (the paper samples 64 a question for them,
    # 16 for the PRM: fewer questions); None: train_data
    revision_data: DataConfig | None = None
    test_data: DataConfig = field(default_factory=lambda: DataConfig(split="test", per_level=10))
    heldout_data: DataConfig | None = None  # `ttc solve`'s questions (policy); None: test_data's, split "heldout"
    # stage -> {recipe: file, its config's keys}; a `--stages.<s>.<key>` flag reads by that config's field type
    stages: dict[str, dict[str, Any]] = field(default_factory=dict, metadata={"entry_type": stage_config})
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)  # what each Slurm job asks for, by class
    from_scratch: bool = False  # train the toy base and larger models (train/toy_lm.py) into the run first
    trained: dict[str, str] = field(default_factory=dict)  # train_prm, train_reviser, train_orm -> a checkpoint
    retrain: bool = False  # ignore `trained`: train every model in the run
    skip: list[str] = field(default_factory=list)  # stages this recipe has no models or data for
    only: list[str] = field(default_factory=list)  # run just these stages (their inputs must be done)


def active(cfg: PipelineConfig, trained: dict[str, str]) -> list[Stage]:
    """The stages this run runs, in graph order (module docstring)."""
    gone = skipped(cfg, trained)
    return [s for s in graph.GRAPH if s.name not in gone]


def skipped(cfg: PipelineConfig, trained: dict[str, str]) -> dict[str, str]:
    """The graph's stages this run does not run, each with the reason (the report says it)."""
    feeds_only = set(trained).union(*(feeders(model) for model in trained))
    toy_models = set() if cfg.from_scratch else {s.name for s in graph.GRAPH if s.from_scratch}
    gone = {
        **{n: "toy models: --from-scratch only" for n in toy_models},
        **{n: "its model is a checkpoint (trained:)" for n in feeds_only},
        **{n: "skipped by the recipe" for n in cfg.skip},
    }
    for s in graph.GRAPH:
        after = sorted(upstream(s, cfg.from_scratch) & (set(gone) - feeds_only))
        if s.name not in gone and after:
            gone[s.name] = f"skipped by the recipe (it reads {', '.join(after)})"
    return gone


def feeders(model: str) -> set[str]:
    """The stages that only feed `model`'s trainer (taken from a checkpoint, they need not run)."""
    users: dict[str, set[str]] = {}
    for s in graph.GRAPH:
        for up in upstream(s, False):
            users.setdefault(up, set()).add(s.name)
    found, todo = set(), list(upstream(stage(model), False))
    while todo:
        name = todo.pop()
        if users.get(name, set()) <= found | {model} and name not in TRAINED:
            found.add(name)
            todo += upstream(stage(name), False)
    return found


class Run:
    """A recipe on a run folder: the stages it runs and their settings."""

    def __init__(self, cfg: PipelineConfig, recipe: str):
        self.cfg, self.recipe = cfg, recipe
        self.lines = key_lines(Path(recipe).read_text())
        self.run_dir = Path(cfg.run_dir)
        self.questions = {
            "train": to_dict(cfg.train_data),
            "test": to_dict(cfg.test_data),
            "revision": to_dict(cfg.revision_data or cfg.train_data),
            "heldout": to_dict(cfg.heldout_data)
            if cfg.heldout_data
            else {**to_dict(cfg.test_data), "split": "heldout"},
        }
        self.trained = {} if cfg.retrain or cfg.from_scratch else cfg.trained  # models of another base otherwise
        known = [s.name for s in graph.GRAPH]
        for key, names in (("stages", cfg.stages), ("skip", cfg.skip)):
            for name in names:
                if name not in known:
                    raise ConfigError(
                        f"{self.where(f'{key}.{name}' if key == 'stages' else key)}: unknown stage "
                        f"'{name}' (stages: {', '.join(known)})"
                    )
        for name in cfg.trained:
            if name not in TRAINED:
                raise ConfigError(
                    f"{self.where(f'trained.{name}')}: '{name}' is not a trained model "
                    f"(trained models: {', '.join(sorted(TRAINED))})"
                )
        if cfg.reviser.model:
            raise ConfigError(
                f"{self.where('reviser.model')}: the reviser is this run's train_reviser "
                "(or trained.train_reviser); its section sets only how it is served"
            )
        self._stamps: dict[str, str] = {}
        self.skipped = skipped(cfg, self.trained)
        self.stages = [s for s in graph.GRAPH if s.name not in self.skipped]
        for s in self.stages:
            if s.name not in cfg.stages:  # its settings would be its config's defaults (the toy world's)
                raise ConfigError(
                    f"{self.where('stages')}: no entry for stage '{s.name}' (at least "
                    f"`{s.name}: {{recipe: ...}}`), or skip it (skip: [{s.name}])"
                )
            if cfg.large is None and "large" in {
                src.name for src in sources(s.inputs) if isinstance(src, (LMOf, ModelOf))
            }:
                raise ConfigError(
                    f"{self.recipe}: stage '{s.name}' needs the larger model: add a `large:` section "
                    f"(model, backend, ...) or skip it (skip: [{s.name}])"
                )
        for name in cfg.only:
            if name not in [s.name for s in self.stages]:
                raise ConfigError(
                    f"--only: '{name}' is not a stage of this run (stages: {', '.join(s.name for s in self.stages)})"
                )

    def where(self, dotted: str) -> str:
        return f"{self.recipe}:{self.lines[dotted]}" if dotted in self.lines else self.recipe

    def dir(self, stage: str) -> Path:
        return self.run_dir / stage

    def chosen(self) -> list[Stage]:
        return [s for s in self.stages if not self.cfg.only or s.name in self.cfg.only]

    # --- the inputs' sources
    def path(self, out: Out) -> str:
        """A stage's output; a trained model the recipe takes from a checkpoint is that folder."""
        if out.stage in self.trained and not out.file:
            return self.trained[out.stage]
        return str(self.dir(out.stage) / out.file) if out.file else str(self.dir(out.stage))

    def lm_config(self, name: str) -> dict[str, Any]:
        """The base, larger or revision LM; with from_scratch, the toy models this run trained."""
        if name == "reviser":
            return {**to_dict(self.cfg.reviser), "model": self.path(Out("train_reviser"))}
        lm = self.cfg.base if name == "base" else self.cfg.large
        assert lm is not None, "Run() refuses a stage that reads a larger model the recipe lacks"
        if self.cfg.from_scratch:
            lm = dataclasses.replace(
                lm, model=str(self.dir("toy_base_careless" if name == "base" else "toy_large_careless"))
            )
        return to_dict(lm)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, Out):
            return self.path(value)
        if isinstance(value, LMOf):
            return self.lm_config(value.name)
        if isinstance(value, ModelOf):
            return self.lm_config(value.name)["model"]
        if isinstance(value, Questions):
            return self.questions[value.name]
        return value

    # --- a stage's settings and config
    def settings(self, stage: Stage) -> dict[str, Any]:
        """Its per-stage recipe, under its recipe entry, under the run's paths and models. A mapping
        the entry gives whole that is no section of the config (ttc eval's `strategies`) replaces the
        recipe's, as a command-line flag's does. An LM it samples from is the run's, but how much of
        the machine its engine takes (PLACEMENT) is the stage's: its recipe's, then its entry's."""
        entry = copy.deepcopy(self.cfg.stages.get(stage.name, {}))
        entry.pop("resources", None)
        entry.pop("recipe", None)
        _, base, _ = self.recipe_of(stage)
        paths = self.paths(stage)
        for key, source in stage.inputs.items():
            given = entry.get(key, {})  # an entry that names the model is refused below
            if isinstance(source, LMOf) and isinstance(given, dict) and "model" not in given:
                paths[key] = {
                    **paths[key],
                    **(base.get(key) or {}),
                    **entry.pop(key, {}),
                }  # the recipe's: PLACEMENT only
        for key in paths:
            if has_key(entry, key):
                raise ConfigError(
                    f"{self.where(f'stages.{stage.name}.{key}')}: stages.{stage.name}.{key} is set by "
                    "the run (paths, models and problems come from the stage graph)"
                )
        values = merge_settings(merge_settings(base, given_whole(entry), stage.spec().config), nested(paths))
        check_gpu_shares(values, f"{self.where(f'stages.{stage.name}')}: stages.{stage.name}")
        return values

    def paths(self, stage: Stage) -> dict[str, Any]:
        """What the graph sets in a stage's config (dotted keys): its output folder and its inputs."""
        return {"output_dir": str(self.dir(stage.name)), **self.resolve(stage.inputs)}

    def recipe_of(self, stage: Stage) -> tuple[str | None, dict[str, Any], dict[str, int]]:
        """The stage's per-stage recipe (`stages.<s>.recipe`), its values and their lines: its settings
        only, never what the graph sets (of an LM's section, PLACEMENT only), else an error at the line."""
        recipe = self.cfg.stages.get(stage.name, {}).get("recipe")
        if not recipe:
            return None, {}, {}
        values, lines = read_yaml(Path(recipe))
        if graph_keys := set_by_graph(stage, values):
            key = graph_keys[0]
            raise ConfigError(
                f"{recipe}:{lines[key]}: {key} is set by the run (a stage's recipe holds its settings: "
                "paths, models and problems come from the stage graph, and an LM's section says only how "
                f"much of the machine its engine takes: {', '.join(PLACEMENT)}); to run the recipe on "
                f"its own: ttc {stage.command} --config {recipe} --{key} ..."
            )
        return recipe, values, lines

    def resources(self, stage: Stage) -> Resources:
        """What the stage's Slurm job asks for: its class's (`resources:`), its entry's keys over them."""
        own = self.cfg.stages.get(stage.name, {}).get("resources", {})
        base = to_dict(self.cfg.resources.of(stage.resource_class))
        return build_dataclass(Resources, {**base, **own}, self.recipe, self.lines, f"stages.{stage.name}.resources.")

    def write_plan(self) -> None:
        """<run_dir>/run.json: the recipe and the stages it skips, with why (the report reads it)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        plan = {"recipe": self.recipe, "skipped": dict(sorted(self.skipped.items()))}  # the same bytes every run
        (self.run_dir / PLAN).write_text(json.dumps(plan, indent=1) + "\n")

    def build(self, stage: Stage, values: dict[str, Any]) -> Any:
        """The stage's typed config; errors name the per-stage recipe or the run's, with the line. A
        stage's `check_inputs(cfg, makers, where)` (declared in its spec) also sees the settings of
        the stages whose outputs it reads (`makers`: input key -> settings), so a mismatch fails
        before any work."""
        spec = stage.spec()
        cls = spec.config
        recipe, own, lines = self.recipe_of(stage)
        if recipe:  # the per-stage recipe over the run's paths: its errors name its own file and lines
            build_dataclass(cls, merge_settings(nested(self.paths(stage)), own), recipe, lines)
        cfg = build_dataclass(cls, values, self.recipe, self.lines, f"stages.{stage.name}.")
        if spec.check_inputs is not None:
            makers = {
                key: self.settings(graph.stage(src.stage))
                for key, src in stage.inputs.items()
                if isinstance(src, Out) and src.stage not in self.skipped and src.stage not in self.trained
            }
            spec.check_inputs(cfg, makers, self.where(f"stages.{stage.name}"))
        return cfg

    # --- finished stages
    def done(self, stage: Stage, values: dict[str, Any]) -> bool:
        """Whether the stage finished with these settings, on the outputs its upstream stages have
        now; finished otherwise is an error (its outputs would pair old work with new)."""
        marker = self.dir(stage.name) / DONE
        if not marker.exists():
            return False
        try:
            finished = json.loads(marker.read_text())
            before = finished["settings"]
        except (ValueError, KeyError, TypeError) as e:  # a marker cut by a crash before DONE was written whole
            raise ConfigError(
                f"{marker}: not a finished stage's marker ({type(e).__name__}: {e}); delete it to run "
                "the stage again (it resumes from the work it saved)"
            ) from e
        if self.portable(before) != self.portable(values):
            raise ConfigError(
                f"{marker.parent}: finished with other settings than {self.recipe} now gives "
                f"({first_difference(self.portable(before), self.portable(values))}): "
                "delete that folder or use another --run_dir"
            )
        changed = sorted(up for up, seen in finished.get("inputs", {}).items() if self.stamp(up) != seen)
        if changed:
            stale = " ".join(str(self.dir(s)) for s in self.finished_from(changed))
            raise ConfigError(
                f"{marker.parent}: made from {', '.join(changed)} under other settings than {self.recipe} "
                f"now gives it (or a stage before it): delete the finished stages made from it ({stale}) "
                "to remake them, or use another --run_dir"
            )
        return True

    def portable(self, values: Any) -> Any:
        """The settings with this run's folder as RUN_DIR in the paths under it, so a run reached
        as `runs/x`, `../main/runs/x` or an absolute path (Slurm's), or moved, is the same run."""
        if isinstance(values, dict):
            return {k: self.portable(v) for k, v in values.items()}
        if isinstance(values, list):
            return [self.portable(v) for v in values]
        if isinstance(values, str):
            for prefix in {str(self.run_dir), str(self.run_dir.resolve())}:
                if values == prefix or values.startswith(prefix + "/"):
                    return RUN_DIR + values[len(prefix) :]
        return values

    def made_upstream(self, stage: Stage) -> list[str]:
        """The stages of this run whose outputs `stage` reads (not checkpoints the recipe names)."""
        ours = {s.name for s in self.stages}
        return sorted(up for up in upstream(stage, self.cfg.from_scratch) if up in ours and up not in self.trained)

    def stamp(self, name: str) -> str:
        """What a stage's outputs are made from: a digest of its settings (paths under the run
        relative to it) and the stamps of the stages it reads, so a change anywhere upstream
        changes it, and a stage redone with the same settings (the same bytes) keeps it."""
        if name not in self._stamps:
            s = graph.stage(name)
            made_from = {up: self.stamp(up) for up in self.made_upstream(s)}
            self._stamps[name] = fingerprint({"settings": self.portable(self.settings(s)), "inputs": made_from})
        return self._stamps[name]

    def finished_from(self, names: list[str]) -> list[str]:
        """The finished stages made from the outputs of `names`, directly or not."""
        made_from, found = set(names), []
        for s in self.stages:  # graph order: a stage after the stages it reads
            if s.name not in names and upstream(s, self.cfg.from_scratch) & made_from:
                made_from.add(s.name)
                if (self.dir(s.name) / DONE).exists():
                    found.append(s.name)
        return found

    def check_upstream(self, stage: Stage, pending: AbstractSet[str] = frozenset()) -> None:
        """What a stage reads is finished (or `pending`: to run before it), with the settings this
        recipe and these flags give it: else it would run on other settings' outputs (a Slurm job
        given other flags than its upstream jobs, `--only` on an unfinished run)."""
        for up in self.made_upstream(stage):
            if up not in pending and not self.done(graph.stage(up), self.settings(graph.stage(up))):
                raise ConfigError(
                    f"--stage {stage.name}: reads {up}, which is not finished in {self.run_dir} "
                    f"(run it first: --stage {up})"
                )

    def mark_done(self, stage: Stage, values: dict[str, Any], cfg: Any, seconds: float) -> None:
        """DONE, and the config that ran beside the outputs: written once the stage succeeded, so
        a refused or failed run never leaves a config that does not describe them. DONE names the
        stamps of the upstream stages it was made from: changing one's settings makes it stale."""
        save_config(cfg, self.dir(stage.name) / "config.yaml")
        inputs = {up: self.stamp(up) for up in self.made_upstream(stage)}
        # whole or not at all (written, synced, renamed): a crash never leaves half a marker
        write_atomic(
            self.dir(stage.name) / DONE,
            [
                json.dumps(
                    {
                        "stage": stage.name,
                        "seconds": round(seconds, 2),
                        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "settings": self.portable(values),
                        "inputs": inputs,
                    },
                    indent=1,
                )
            ],
        )

    def lock(self, stages: list[Stage], whole_run: bool) -> None:
        """One writer per stage of this run, for the rest of this process (data/lock.py): a second
        pipeline on this run (`whole_run`), or a job on one of these stages, is refused at once,
        naming the first, before any model loads. Only the first process of a launch takes them."""
        if not rank_zero():
            return
        if whole_run:
            hold(output_folder(self.run_dir) / ".lock-pipeline", "the pipeline")
        for s in stages:
            hold(output_folder(self.dir(s.name)) / ".lock-stage", f"stage {s.name}")


def check_gpu_shares(values: dict[str, Any], where: str) -> None:
    """The vLLM engines a stage starts together must fit one GPU: their gpu_memory_utilization sum <= 1."""
    defaults = {"model": LMConfig.gpu_memory_utilization, "path": VerifierConfig.gpu_memory_utilization}
    shares = {
        key: float(v.get("gpu_memory_utilization", defaults["model" if "model" in v else "path"]))
        for key, v in values.items()
        if isinstance(v, dict) and v.get("backend") == "vllm" and ("model" in v or "path" in v)
    }
    if sum(shares.values()) > 1 + 1e-9:
        raise ConfigError(
            f"{where}: its vLLM engines share one GPU but ask for "
            f"{' + '.join(f'{v:g} ({k})' for k, v in shares.items())} = {sum(shares.values()):g} of it: "
            "set each one's gpu_memory_utilization so they sum to <= 1"
        )


def nested(dotted: dict[str, Any]) -> dict[str, Any]:
    """{"prm.path": x} -> {"prm": {"path": x}}."""
    tree: dict[str, Any] = {}
    for key, value in dotted.items():
        *sections, leaf = key.split(".")
        node = tree
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = value
    return tree


def set_by_graph(stage: Stage, values: dict[str, Any]) -> list[str]:
    """The keys of a per-stage recipe the graph sets: output_dir, inputs, an LM's model and engine."""
    found = [key for key in ["output_dir", *stage.inputs] if has_key(values, key)]
    lms = [
        key for key, source in stage.inputs.items() if isinstance(source, LMOf) and isinstance(values.get(key), dict)
    ]
    return [key for key in found if key not in lms] + [
        f"{key}.{k}" for key in lms for k in values[key] if k not in PLACEMENT
    ]


def has_key(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def first_difference(a: Any, b: Any, at: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return first_difference(a.get(key), b.get(key), f"{at}.{key}" if at else key)
    return f"{at or 'settings'}: {a!r:.60} then, {b!r:.60} now"
