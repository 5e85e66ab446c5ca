"""Every recipe under configs/ parses into its entry point's config (no model is loaded), and the
launcher configs they name are valid: a typo in a recipe fails here, not hours into a GPU job."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from data.config import ConfigError, parse_config
from tests.support.runs import REPO
from ttc.pipeline import cli, command, graph
from ttc.pipeline.run import PipelineConfig
from ttc.stages.spec import load_spec

CONFIGS = REPO / "configs"
LAUNCHERS = ("accelerate", "deepspeed")  # not recipes: read by accelerate and DeepSpeed
RUNS = ("demo", "pipeline")  # run recipes: `ttc demo`, `ttc pipeline`
# what a stage recipe may lack: the paths and models a run's graph sets
PATHS = {
    "output_dir",
    "model",
    "path",
    "samples",
    "labels_file",
    "trajectories_file",
    "chains",
    "policy",
    "results",
    "bins",
    "large_greedy",
    "small_model",
    "large_model",
}
RECIPES = sorted(p for p in CONFIGS.glob("*/*.yaml") if p.parent.name not in LAUNCHERS)


def named_by_runs() -> dict[Path, set[str]]:
    """Each recipe a run recipe names (`stages.S.recipe`) -> the modules of the stages S naming it."""
    named: dict[Path, set[str]] = {}
    for run in (p for p in RECIPES if p.stem.startswith(RUNS)):
        for name, entry in (yaml.safe_load(run.read_text()).get("stages") or {}).items():
            if isinstance(entry, dict) and entry.get("recipe"):
                named.setdefault(CONFIGS.parent / entry["recipe"], set()).add(graph.stage(name).module)
    return named


def modules() -> dict[Path, str]:
    """The stage module whose config each recipe is: as a run names it, else by the longest stage
    name, `ttc` command or run-named recipe's stem prefixing its stem (eval_search_prm7b: eval_search)."""
    named = named_by_runs()
    assert all(len(m) == 1 for m in named.values()), {p.name: m for p, m in named.items() if len(m) > 1}
    by_name = {s.name: s.module for s in graph.GRAPH} | {
        c.replace("-", "_"): m for c, m in cli.stage_commands().items()
    }
    by_name |= {p.stem: m for p, [m] in named.items()}
    found = {p: m for p, [m] in named.items()}
    for p in RECIPES:
        prefixes = sorted((n for n in by_name if p.stem == n or p.stem.startswith(f"{n}_")), key=len)
        if p not in found and prefixes and not p.stem.startswith(RUNS):
            found[p] = by_name[prefixes[-1]]
    return found


MODULES = modules()
NAMED = named_by_runs()


def parsed_with_its_paths(path: Path) -> tuple[Any, list[str]]:
    """A stage recipe parsed alone, as ad-hoc work runs it: each key it lacks is named by the error
    (`give --prm.path`) and given a placeholder, until it parses. Returns the config and the flags."""
    cls, flags = load_spec(MODULES[path]).config, ["--config", str(path)]
    for _ in range(8):
        try:
            return parse_config(cls, flags), flags[2:]
        except ConfigError as e:
            missing = re.search(r"give (--[\w.]+)", str(e))
            assert missing, f"{path.name}: {e}"
            flags += [missing.group(1), "x"]
    raise AssertionError(f"{path.name}: still missing keys after {flags[2:]}")


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_parses(path):
    """A run recipe parses; a recipe no run names parses given only paths (ad-hoc work). One a run
    names is built over the run's paths (test_run_recipes_build_every_stage), which refuses any key
    the graph sets."""
    run = path.stem.startswith(RUNS)
    assert run or path in MODULES, f"{path.name}: no stage of the graph or `ttc` command for it: name it after one"
    assert path.read_text().startswith("#"), "a recipe opens with a comment saying what hardware it is for"
    if run:
        parse_config(PipelineConfig, ["--config", str(path)])
    elif path not in NAMED:
        _, given = parsed_with_its_paths(path)
        assert all(flag.split(".")[-1].lstrip("-") in PATHS for flag in given[::2]), given
    deepspeed = ((yaml.safe_load(path.read_text()) or {}).get("trainer") or {}).get("deepspeed")
    if deepspeed:  # relative to the repository root, where the launchers run
        assert (CONFIGS.parent / deepspeed).is_file(), deepspeed


def test_a_recipe_is_the_config_of_the_stage_a_run_names_it_for():
    assert MODULES[CONFIGS / "toy" / "sample_train.yaml"] == "ttc.stages.sample"
    assert MODULES[CONFIGS / "qwen2.5-math-1.5b" / "orm.yaml"] == "train.prm"  # train_orm: no prefix says so
    assert MODULES[CONFIGS / "qwen2.5-math-1.5b" / "prm_lora.yaml"] == "train.prm"  # prm.yaml's stem
    assert MODULES[CONFIGS / "qwen2.5-math-1.5b" / "eval_search_prm7b.yaml"] == "eval.search"
    assert MODULES[CONFIGS / "qwen2.5-math-1.5b" / "solve.yaml"] == "ttc.stages.solve"  # a command, no stage


@pytest.mark.parametrize(
    "path", [p for p in RECIPES if p.stem.startswith(("demo", "pipeline"))], ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_run_recipes_build_every_stage(path, tmp_path):
    """A run recipe over its per-stage recipes: every stage's config builds (all models trained in
    the run, and the toy models too where the recipe has them)."""
    flags = ["--config", str(path), "--run_dir", str(tmp_path), "--retrain"]
    run = command.parse(flags + (["--from-scratch"] if path.parent.name == "toy" else []))[0]
    for stage in run.stages:
        run.build(stage, run.settings(stage))
    assert len(run.stages) >= 15


def test_every_model_family_has_its_recipes():
    assert {p.parent.name for p in RECIPES} >= {"toy", "qwen2.5-math-1.5b"}


@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_configs(stage):
    config = json.loads((CONFIGS / "deepspeed" / f"zero{stage}.json").read_text())
    assert config["zero_optimization"]["stage"] == stage
    assert "optimizer" not in config  # the Trainer's AdamW, with train/prm.py's betas
    assert config["train_micro_batch_size_per_gpu"] == config["gradient_accumulation_steps"] == "auto"


@pytest.mark.parametrize("name", ["ddp", "zero2", "zero3"])
def test_accelerate_configs(name):
    from accelerate.commands.config.config_args import load_config_from_file

    path = CONFIGS / "accelerate" / f"{name}.yaml"
    assert path.read_text().startswith("#")
    config = load_config_from_file(str(path))  # accelerate's own checks of keys and values
    deepspeed_file = (yaml.safe_load(path.read_text()).get("deepspeed_config") or {}).get("deepspeed_config_file")
    assert (config.distributed_type.value == "DEEPSPEED") == bool(deepspeed_file)
    if deepspeed_file:
        assert (CONFIGS.parent / deepspeed_file).is_file()
