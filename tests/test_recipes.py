"""Every recipe under configs/ parses into its entry point's config (no model is loaded), and the
launcher configs they name are valid: a typo in a recipe fails here, not hours into a GPU job."""

import json
from pathlib import Path

import pytest
import yaml

from data.config import parse_config
from eval import policy, search
from eval.compute_optimal import ComputeOptimalConfig
from eval.difficulty import DifficultyConfig
from eval.flops_matched import FlopsMatchedConfig
from eval.prm import PRMEvalConfig
from eval.prm_bench import BenchPRMConfig
from eval.revision import RevisionEvalConfig
from train.prm import PRMTrainConfig
from train.toy_lm import ToyLMConfig
from train.revision import RevisionTrainConfig
from train import orm_data
from ttc.stages import chains, label, sample, solve, trajectories
from ttc.pipeline import command
from ttc.pipeline.run import PipelineConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LAUNCHERS = ("accelerate", "deepspeed")  # not recipes: read by accelerate and DeepSpeed
ENTRY_POINTS = {"sample": sample.SampleConfig, "label": label.LabelConfig, "prm": PRMTrainConfig, "lm_": ToyLMConfig,
                "orm_data": orm_data.ORMDataConfig, "orm": PRMTrainConfig,  # orm_data first: the longer prefix
                "eval_prm": PRMEvalConfig, "bench_prm": BenchPRMConfig, "eval_revision": RevisionEvalConfig,
                "eval_search": search.SearchEvalConfig, "eval_policy": policy.PolicyEvalConfig, "solve": solve.SolveConfig,
                "difficulty": DifficultyConfig, "compute_optimal": ComputeOptimalConfig,
                "flops_matched": FlopsMatchedConfig,
                "trajectories": trajectories.TrajectoriesConfig, "chains": chains.ChainsConfig, "revision": RevisionTrainConfig,
                "demo": PipelineConfig, "pipeline": PipelineConfig}
RECIPES = sorted(p for p in CONFIGS.glob("*/*.yaml") if p.parent.name not in LAUNCHERS)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_parses(path):
    known = [cls for prefix, cls in ENTRY_POINTS.items() if path.stem.startswith(prefix)]
    assert known, f"no entry point known for {path.name}: add its prefix to ENTRY_POINTS"
    cfg = parse_config(known[0], ["--config", str(path)])
    assert path.read_text().startswith("#"), "a recipe opens with a comment saying what hardware it is for"
    deepspeed = getattr(cfg, "trainer", {}).get("deepspeed")
    if deepspeed:  # relative to the repository root, where the launchers run
        assert (CONFIGS.parent / deepspeed).is_file(), deepspeed


@pytest.mark.parametrize("path", [p for p in RECIPES if p.stem.startswith(("demo", "pipeline"))],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
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
