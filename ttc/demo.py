"""`ttc demo`: the whole toy pipeline as one command, from the committed toy checkpoints.

    ttc demo                                    # runs/demo, then runs/demo/report.md
    ttc demo --run_dir runs/demo2 --test_data.per_level 20 --stages.eval_search.max_budget 32
    ttc demo --preset full                      # configs/toy/demo_full.yaml: the project's results
    ttc demo --retrain                          # train the PRM, reviser and ORM in the run too
    ttc demo --from-scratch                     # first retrain toy-base and toy-large (~2 h on CPU)
    ttc demo --only "[eval_prm, difficulty]"    # just these stages (e.g. two processes on two cores)

The recipe is configs/toy/demo.yaml: the models, the train and test problems, and one entry per
stage with that stage's own settings (its config's keys), optionally over one of the per-stage toy
recipes (`recipe: configs/toy/prm.yaml`; the entry's keys win). The demo sets every stage's paths
(`output_dir`, input files, models) and problems from the run; an entry that sets one of them is
an error. Each stage runs through its module's own entry (`run(cfg, lm)` or `main(cfg)`), and:

    sample_train -> label -> train_prm                      MC-labelled PRM (train questions)
    sample_trajectories -> trajectories -> train_reviser    revision model (64 samples, hotter)
    orm_data -> train_orm                                   revision ORM on the reviser's own chains
    sample_test                                             base samples per test question
    eval_search, eval_revision, eval_prm                    the paper's Figs. 3, 6, 7 (test questions)
    difficulty, large_greedy                                oracle/predicted bins; the larger model
    compute_optimal, flops_matched                          Figs. 4, 8, 9
    policy                                                  `ttc solve` vs best-of-N on held-out questions; report.md

(in the order the base model's stages come first, so its vLLM engine starts once). Each LM is
loaded once and handed to every stage that samples from it, then closed after the last of them.

Caching: a finished stage writes `<run_dir>/<stage>/DONE` (wall time and the settings it ran
with); a rerun skips it without loading anything, and a killed run resumes: a stage without DONE
reruns and continues from its own partial work (shards, trainer checkpoints, chains.jsonl). A
DONE stage whose settings have since changed is an error: delete its folder or use another
run_dir. The report (eval/report.py) is rewritten at the end of every run.

This module is the one place in `ttc/` that reaches `train/` and `eval/` (like cli's STAGES): it
drives the pipeline, imported lazily per stage.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

from tqdm.auto import tqdm

from data.config import ConfigError, parse_config, save_config, to_dict
from data.config import build_dataclass, key_lines, merge_settings, read_yaml
from data.problems import DataConfig
from ttc.backends import LMConfig, load_lm
from ttc.lm import LM

log = logging.getLogger(__name__)
RECIPE = "configs/toy/demo.yaml"
DONE = "DONE"


@dataclass
class DemoConfig:
    run_dir: str = "runs/demo"
    base: LMConfig = field(default_factory=lambda: LMConfig(model="train/checkpoints/toy-base", backend="vllm"))
    large: LMConfig = field(default_factory=lambda: LMConfig(model="train/checkpoints/toy-large"))
    reviser_backend: Literal["hf", "vllm"] = "vllm"  # the reviser's LM (its model is this run's train_reviser)
    train_data: DataConfig = field(default_factory=lambda: DataConfig(split="train", per_level=10))
    # the reviser's and its ORM's training questions (the paper samples 64 a question for them,
    # 16 for the PRM: fewer questions); None: train_data
    revision_data: DataConfig | None = None
    test_data: DataConfig = field(default_factory=lambda: DataConfig(split="test", per_level=10))
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> {recipe: file, its config's keys}
    from_scratch: bool = False  # retrain toy-base (all phases) and toy-large (train/toy_lm.py) into the run first
    # Trained models taken from committed checkpoints: train_prm, train_reviser, train_orm -> folder
    trained: dict[str, str] = field(default_factory=dict)
    retrain: bool = False  # ignore `trained`: train every model in the run
    only: list[str] = field(default_factory=list)  # run just these stages (their inputs must be done)


@dataclass(frozen=True)
class Stage:
    name: str  # its folder under run_dir and its entry in the recipe's `stages`
    config: str  # "module:Class" of the stage's config
    paths: Callable[["Demo"], dict[str, Any]]  # what the demo sets (dotted keys): outputs, inputs, models
    run: Callable[["Demo", Any], Any]  # the stage's own entry on its config
    models: tuple[str, ...] = ()  # the LMs it borrows from the demo

    def config_class(self) -> type:
        module, name = self.config.split(":")
        return getattr(importlib.import_module(module), name)


# --- the stages' runs: each is the stage module's own entry --------------------------------------
def with_lm(module: str, model: str) -> Callable[["Demo", Any], Path]:
    """A stage that samples: `module.run(cfg, lm)` with the demo's `model`, loaded once for all."""
    return lambda demo, cfg: importlib.import_module(module).run(cfg, demo.lm(model))


def entry(module: str, function: str = "main") -> Callable[["Demo", Any], Any]:
    """A stage that needs no LM from the demo: `module.function(cfg)`."""
    return lambda demo, cfg: getattr(importlib.import_module(module), function)(cfg)


# --- the pipeline -------------------------------------------------------------------------------
def out(demo: "Demo", stage: str, name: str = "") -> str:
    return str(demo.dir(stage) / name) if name else str(demo.dir(stage))


def flops(d: "Demo", stage: str, grid: str) -> dict[str, Any]:
    """FLOPs-matched: one grid's compute-optimal (search or revisions) vs the larger model's greedy."""
    return {"output_dir": out(d, stage), "results": [out(d, grid, "results.jsonl")],
            "bins": out(d, "difficulty", "bins_oracle.json"), "large_greedy": out(d, "large_greedy", "samples.jsonl"),
            "small_model": d.lm_config("base")["model"], "large_model": d.lm_config("large")["model"]}


PIPELINE = (
    Stage("toy_base", "train.toy_lm:ToyLMConfig", lambda d: {"output_dir": out(d, "toy_base")}, entry("train.toy_lm")),
    Stage("toy_base_context", "train.toy_lm:ToyLMConfig",
          lambda d: {"output_dir": out(d, "toy_base_context"), "init_from": out(d, "toy_base")}, entry("train.toy_lm")),
    Stage("toy_base_careless", "train.toy_lm:ToyLMConfig",
          lambda d: {"output_dir": out(d, "toy_base_careless"), "init_from": out(d, "toy_base_context")},
          entry("train.toy_lm")),
    Stage("toy_large", "train.toy_lm:ToyLMConfig", lambda d: {"output_dir": out(d, "toy_large")},
          entry("train.toy_lm")),
    Stage("toy_large_careless", "train.toy_lm:ToyLMConfig",
          lambda d: {"output_dir": out(d, "toy_large_careless"), "init_from": out(d, "toy_large")},
          entry("train.toy_lm")),
    Stage("sample_train", "ttc.sample:Config",
          lambda d: {"output_dir": out(d, "sample_train"), "lm": d.lm_config("base"), "data": d.train},
          with_lm("ttc.sample", "base"), ("base",)),
    Stage("label", "ttc.label:Config",
          lambda d: {"output_dir": out(d, "label"), "samples": out(d, "sample_train", "samples.jsonl"),
                     "lm": d.lm_config("base"), "data": d.train}, with_lm("ttc.label", "base"), ("base",)),
    Stage("sample_trajectories", "ttc.sample:Config",
          lambda d: {"output_dir": out(d, "sample_trajectories"), "lm": d.lm_config("base"), "data": d.revision_train},
          with_lm("ttc.sample", "base"), ("base",)),
    Stage("sample_test", "ttc.sample:Config",
          lambda d: {"output_dir": out(d, "sample_test"), "lm": d.lm_config("base"), "data": d.test},
          with_lm("ttc.sample", "base"), ("base",)),
    Stage("train_prm", "train.prm:PRMTrainConfig",
          lambda d: {"model": d.lm_config("base")["model"], "labels_file": out(d, "label", "labels.jsonl"),
                     "output_dir": out(d, "train_prm")}, entry("train.prm")),
    Stage("eval_search", "eval.search:Config",
          lambda d: {"output_dir": out(d, "eval_search"), "lm": d.lm_config("base"), "prm.path": d.model("train_prm"),
                     "data": d.test}, with_lm("eval.search", "base"), ("base",)),
    Stage("trajectories", "ttc.trajectories:Config",
          lambda d: {"output_dir": out(d, "trajectories"), "data": d.revision_train,
                     "samples": out(d, "sample_trajectories", "samples.jsonl")}, entry("ttc.trajectories", "run")),
    Stage("train_reviser", "train.revision:RevisionTrainConfig",
          lambda d: {"model": d.lm_config("base")["model"], "output_dir": out(d, "train_reviser"),
                     "trajectories_file": out(d, "trajectories", "trajectories.jsonl")}, entry("train.revision")),
    Stage("orm_data", "eval.revision:RevisionEvalConfig",
          lambda d: {"output_dir": out(d, "orm_data"), "reviser": d.lm_config("reviser"), "orm": d.model("train_prm"),
                     "data": d.revision_train}, entry("train.orm_data")),
    Stage("train_orm", "train.prm:PRMTrainConfig",
          lambda d: {"model": d.lm_config("base")["model"], "labels_file": out(d, "orm_data", "labels.jsonl"),
                     "output_dir": out(d, "train_orm"), "labels": "last"}, entry("train.prm")),
    Stage("eval_revision", "eval.revision:RevisionEvalConfig",
          lambda d: {"output_dir": out(d, "eval_revision"), "reviser": d.lm_config("reviser"), "orm": d.model("train_orm"),
                     "data": d.test}, entry("eval.revision")),
    Stage("eval_revision_grid", "eval.search:Config",
          lambda d: {"output_dir": out(d, "eval_revision_grid"), "lm": d.lm_config("reviser"),
                     "prm.path": d.model("train_orm"), "data": d.test}, with_lm("eval.search", "reviser"), ("reviser",)),
    Stage("eval_prm", "eval.prm:PRMEvalConfig",
          lambda d: {"output_dir": out(d, "eval_prm"), "prm": d.model("train_prm"), "labels": None,
                     "baseline": d.lm_config("base")["model"],
                     "samples": out(d, "sample_test", "samples.jsonl"), "data": d.test}, entry("eval.prm")),
    Stage("difficulty", "eval.difficulty:DifficultyConfig",
          lambda d: {"output_dir": out(d, "difficulty"), "prm": d.model("train_prm"),
                     "samples": out(d, "sample_test", "samples.jsonl"), "data": d.test}, entry("eval.difficulty")),
    Stage("large_greedy", "ttc.sample:Config",
          lambda d: {"output_dir": out(d, "large_greedy"), "lm": d.lm_config("large"), "data": d.test},
          with_lm("ttc.sample", "large"), ("large",)),
    Stage("compute_optimal", "eval.compute_optimal:ComputeOptimalConfig",
          lambda d: {"output_dir": out(d, "compute_optimal"), "results": [out(d, "eval_search", "results.jsonl")],
                     "bins": {"oracle": out(d, "difficulty", "bins_oracle.json"),
                              "predicted": out(d, "difficulty", "bins_predicted.json")}},
          entry("eval.compute_optimal")),
    Stage("compute_optimal_revisions", "eval.compute_optimal:ComputeOptimalConfig",
          lambda d: {"output_dir": out(d, "compute_optimal_revisions"),
                     "results": [out(d, "eval_revision_grid", "results.jsonl")],
                     "bins": {"oracle": out(d, "difficulty", "bins_oracle.json"),
                              "predicted": out(d, "difficulty", "bins_predicted.json")}},
          entry("eval.compute_optimal")),
    Stage("flops_matched", "eval.flops_matched:FlopsMatchedConfig", lambda d: flops(d, "flops_matched", "eval_search"),
          entry("eval.flops_matched")),
    Stage("flops_matched_revisions", "eval.flops_matched:FlopsMatchedConfig",
          lambda d: flops(d, "flops_matched_revisions", "eval_revision_grid"), entry("eval.flops_matched")),
    # `ttc solve` with the policy fit on the test questions, on held-out ones (after the engines close:
    # it loads its own models, as `ttc solve` does)
    Stage("policy", "eval.policy:Config",
          lambda d: {"output_dir": out(d, "policy"), "lm": d.lm_config("base"), "prm.path": d.model("train_prm"),
                     "policy": out(d, "compute_optimal", "policy_predicted.json"),
                     "bins": out(d, "difficulty", "bins_predicted.json"), "data": {**d.test, "split": "heldout"}},
          entry("eval.policy")),
)
FROM_SCRATCH = ("toy_base", "toy_base_context", "toy_base_careless", "toy_large", "toy_large_careless")
# A trained model the recipe may take from a committed checkpoint (`trained:`), and the stages
# that only feed it, skipped with it; `--retrain` trains them all in the run.
FEEDS = {"train_prm": ("sample_train", "label"), "train_reviser": ("sample_trajectories", "trajectories"),
         "train_orm": ("orm_data",)}


def pipeline(from_scratch: bool, trained: Iterable[str] = ()) -> list[Stage]:
    skipped = {name for model in trained for name in (model, *FEEDS[model])}
    return [s for s in PIPELINE if (from_scratch or s.name not in FROM_SCRATCH) and s.name not in skipped]


# --- the run ------------------------------------------------------------------------------------
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


def has_key(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


class Demo:
    """One run: the recipe (and its line numbers, for errors), the stages' settings, the LMs."""

    def __init__(self, cfg: DemoConfig, recipe: str, lines: dict[str, int]):
        self.cfg, self.recipe, self.lines = cfg, recipe, lines
        self.run_dir = Path(cfg.run_dir)
        self.train, self.test = to_dict(cfg.train_data), to_dict(cfg.test_data)
        self.revision_train = to_dict(cfg.revision_data or cfg.train_data)
        self.trained = {} if cfg.retrain or cfg.from_scratch else cfg.trained  # models of another base otherwise
        self.stages = pipeline(cfg.from_scratch, self.trained)
        self.engines: dict[str, LM] = {}
        known = [s.name for s in PIPELINE]
        for name in cfg.stages:
            if name not in known:
                raise ConfigError(f"{self.where(f'stages.{name}')}: unknown stage '{name}' (stages: {', '.join(known)})")
        for name in cfg.only:
            if name not in [s.name for s in self.stages]:
                raise ConfigError(f"--only: '{name}' is not a stage of this run "
                                  f"(stages: {', '.join(s.name for s in self.stages)})")
        for name in cfg.trained:
            if name not in FEEDS:
                raise ConfigError(f"{self.where(f'trained.{name}')}: '{name}' is not a trained model "
                                  f"(trained models: {', '.join(FEEDS)})")

    def where(self, dotted: str) -> str:
        return f"{self.recipe}:{self.lines[dotted]}" if dotted in self.lines else self.recipe

    def dir(self, stage: str) -> Path:
        return self.run_dir / stage

    def model(self, stage: str) -> str:
        """A trained model's folder: the committed checkpoint the recipe names, or the run's own."""
        return self.trained.get(stage) or str(self.dir(stage))

    # the models
    def lm_config(self, name: str) -> dict[str, Any]:
        """The base, larger or revision LM; with --from-scratch, the toy models this run trained."""
        if name == "reviser":
            return to_dict(LMConfig(model=self.model("train_reviser"), backend=self.cfg.reviser_backend))
        lm = self.cfg.base if name == "base" else self.cfg.large
        if self.cfg.from_scratch:
            lm = dataclasses.replace(lm, model=str(self.dir("toy_base_careless" if name == "base" else "toy_large_careless")))
        return to_dict(lm)

    def lm(self, name: str) -> LM:
        if name not in self.engines:
            log.info("loading the %s model (once for every stage that samples from it)", name)
            self.engines[name] = load_lm(LMConfig(**self.lm_config(name)))
        return self.engines[name]

    def release(self, keep: set[str] = frozenset()) -> None:
        for name in [n for n in self.engines if n not in keep]:
            getattr(self.engines.pop(name), "close", lambda: None)()

    # the stages' settings
    def settings(self, stage: Stage) -> dict[str, Any]:
        """The stage's config values: its toy recipe, then its recipe entry, then the demo's paths.
        Plain data (no import), so a cached stage is checked without loading its module."""
        entry = copy.deepcopy(self.cfg.stages.get(stage.name, {}))
        recipe = entry.pop("recipe", None)
        paths = stage.paths(self)
        for key in paths:
            if has_key(entry, key):
                raise ConfigError(f"{self.where(f'stages.{stage.name}.{key}')}: stages.{stage.name}.{key} is set by "
                                  "the demo (paths, models and problems come from the run)")
        base = read_yaml(Path(recipe))[0] if recipe else {}
        return merge_settings(merge_settings(base, entry), nested(paths))

    def build(self, stage: Stage, values: dict[str, Any]) -> Any:
        """The stage's typed config; errors name the toy recipe or the demo recipe, with the line."""
        cls = stage.config_class()
        recipe = self.cfg.stages.get(stage.name, {}).get("recipe")
        if recipe:
            parse_config(cls, ["--config", recipe])  # the toy recipe on its own: its own file and lines
        return build_dataclass(cls, values, self.recipe, self.lines, f"stages.{stage.name}.")

    # caching
    def done(self, stage: Stage, values: dict[str, Any]) -> bool:
        marker = self.dir(stage.name) / DONE
        if not marker.exists():
            return False
        before = json.loads(marker.read_text()).get("settings")
        if before != json.loads(json.dumps(values)):
            raise ConfigError(f"{marker.parent}: finished with other settings than {self.recipe} now gives "
                              f"({first_difference(before, values)}): delete that folder or use another --run_dir")
        return True

    def mark_done(self, stage: Stage, values: dict[str, Any], seconds: float) -> None:
        marker = self.dir(stage.name) / DONE
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"stage": stage.name, "seconds": round(seconds, 2),
                                      "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                      "settings": values}, indent=1) + "\n")


def first_difference(a: Any, b: Any, at: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return first_difference(a.get(key), b.get(key), f"{at}.{key}" if at else key)
    return f"{at or 'settings'}: {a!r:.60} then, {b!r:.60} now"


def trained_curves(demo: Demo) -> None:
    """The committed models' log histories into the run, where the report finds every trainer's."""
    for stage, folder in demo.trained.items():
        history = Path(folder) / "log_history.json"
        if history.is_file():
            demo.dir(stage).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(history, demo.dir(stage) / history.name)


def run(demo: Demo) -> list[str]:
    """Every stage not done yet, in order; returns the names of those that ran."""
    trained_curves(demo)
    chosen = [s for s in demo.stages if not demo.cfg.only or s.name in demo.cfg.only]
    planned = [(stage, demo.settings(stage)) for stage in chosen]
    todo = [(stage, values) for stage, values in planned if not demo.done(stage, values)]
    ran = {stage.name for stage, _ in todo}
    if len(todo) < len(planned):
        log.info("cached (DONE): %s", ", ".join(s.name for s, _ in planned if s.name not in ran))
    configs = [demo.build(stage, values) for stage, values in todo]  # every error before any work
    total = time.perf_counter()
    try:
        with tqdm(total=len(planned), initial=len(planned) - len(todo), desc="demo", unit="stage") as bar:
            for i, ((stage, values), cfg) in enumerate(zip(todo, configs)):
                bar.set_postfix_str(stage.name)
                start = time.perf_counter()
                save_config(cfg, demo.dir(stage.name) / "config.yaml")  # what ran, beside its outputs
                stage.run(demo, cfg)
                seconds = time.perf_counter() - start
                demo.mark_done(stage, values, seconds)
                log.info("stage %s done in %.1f s", stage.name, seconds)
                demo.release(keep={m for later, _ in todo[i + 1:] for m in later.models})
                bar.update()
    finally:
        demo.release()
    if todo:
        log.info("%d stage(s) in %.1f s", len(todo), time.perf_counter() - total)
    return [stage.name for stage, _ in todo]


def parse(argv: list[str]) -> Demo:
    """`--from-scratch`, `--retrain`, `--preset NAME` (configs/toy/demo_NAME.yaml) and the recipe's
    flags (`--config`, default configs/toy/demo.yaml)."""
    flags = []
    for a in argv:
        flags += ["--from_scratch", "true"] if a == "--from-scratch" else ["--retrain", "true"] if a == "--retrain" else [a]
    if "--preset" in flags:
        i = flags.index("--preset")
        if i + 1 == len(flags):
            raise ConfigError("--preset needs a name (configs/toy/demo_NAME.yaml)")
        preset = Path(RECIPE).with_name(f"demo_{flags[i + 1]}.yaml")
        if not preset.exists():
            raise ConfigError(f"--preset {flags[i + 1]}: no recipe {preset}")
        flags[i: i + 2] = ["--config", str(preset)]
    if not any(a == "--config" or a.startswith("--config=") for a in flags):
        flags = ["--config", RECIPE, *flags]
    cfg = parse_config(DemoConfig, flags)
    i = next(i for i, a in enumerate(flags) if a == "--config" or a.startswith("--config="))
    recipe = flags[i].partition("=")[2] or flags[i + 1]
    return Demo(cfg, recipe, key_lines(Path(recipe).read_text()))


def cli(argv: list[str]) -> None:
    """`ttc demo [--run_dir DIR] [--from-scratch] [--key value ...]`."""
    from eval.report import write

    if {"-h", "--help"} & set(argv):
        print(__doc__)
        return
    demo = parse(argv)
    run(demo)
    print(write(demo.run_dir))
