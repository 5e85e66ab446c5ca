"""One run layout (issue 27): a stage's recipe holds its settings, never paths. In a run the graph
sets them, and a stage's recipe that sets one is refused at its line; on its own (`ttc <command>
--config R`) the paths come as flags, and one neither gives is one error naming its flag."""

import pytest

from data.config import ConfigError, parse_config
from eval import search
from eval.prm_bench import BenchPRMConfig
from tests.support.runs import REPO
from ttc.pipeline import command, graph

TOY = REPO / "configs" / "toy" / "demo.yaml"
EVAL_SEARCH = "configs/toy/eval_search.yaml"


def run_with_eval_search_recipe(tmp_path, text: str):
    """The toy run with its eval_search stage over a recipe of `text` (the committed one's lines first)."""
    stage_recipe, recipe = tmp_path / "eval_search.yaml", tmp_path / "demo.yaml"
    stage_recipe.write_text((REPO / EVAL_SEARCH).read_text() + text)
    recipe.write_text(TOY.read_text().replace(f"recipe: {EVAL_SEARCH}", f"recipe: {stage_recipe}"))
    run, _ = command.parse(["--config", str(recipe), "--run_dir", str(tmp_path / "run")])
    return run, graph.stage("eval_search"), len((REPO / EVAL_SEARCH).read_text().splitlines())


@pytest.mark.parametrize(
    "text, key", [("output_dir: runs/x\n", "output_dir"), ("data:\n  per_level: 3\n", "data"), ("prm_extra: 1\n", None)]
)
def test_a_stage_recipe_that_sets_what_the_graph_sets_is_refused_at_its_line(tmp_path, text, key):
    run, stage, lines = run_with_eval_search_recipe(tmp_path, text)
    if key is None:  # not the graph's: the stage's own check names the recipe's line
        with pytest.raises(ConfigError, match=rf"eval_search.yaml:{lines + 1}: unknown key 'prm_extra'"):
            run.build(stage, run.settings(stage))
        return
    with pytest.raises(ConfigError, match=rf"eval_search.yaml:{lines + 1}: {key} is set by the run"):
        run.settings(stage)


def test_a_stage_recipes_lm_section_sets_only_its_placement(tmp_path):
    text = (REPO / EVAL_SEARCH).read_text()
    assert "\nlm:\n  gpu_memory_utilization: 0.6" in text  # the share of the GPU beside the PRM's engine
    run, stage, _ = run_with_eval_search_recipe(tmp_path, "")
    assert run.settings(stage)["lm"]["gpu_memory_utilization"] == 0.6
    edited = tmp_path / "eval_search.yaml"
    edited.write_text(text.replace("\nlm:\n", "\nlm:\n  model: somewhere\n"))
    with pytest.raises(ConfigError, match=r"eval_search.yaml:\d+: lm.model is set by the run"):
        run.settings(stage)
    edited.write_text(text.replace("\nlm:\n", "\nlm:\n  backend: hf\n"))
    with pytest.raises(ConfigError, match=r"eval_search.yaml:\d+: lm.backend is set by the run"):
        run.settings(stage)


def test_a_stage_recipe_on_its_own_takes_its_paths_as_flags(monkeypatch):
    monkeypatch.chdir(REPO)
    paths = [
        "--output_dir",
        "out",
        "--lm.model",
        "train/checkpoints/toy-base",
        "--prm.path",
        "train/checkpoints/toy-prm",
    ]
    cfg = parse_config(search.SearchEvalConfig, ["--config", EVAL_SEARCH, *paths])
    assert (cfg.output_dir, cfg.prm.path, cfg.prm.backend, cfg.lm.gpu_memory_utilization) == (
        "out",
        "train/checkpoints/toy-prm",
        "vllm",
        0.6,
    )  # the recipe's settings under the flags' paths
    with pytest.raises(ConfigError, match=r"^configs/toy/eval_search.yaml: no prm.path .*: give --prm.path$"):
        parse_config(search.SearchEvalConfig, ["--config", EVAL_SEARCH, *paths[:4]])
    with pytest.raises(ConfigError, match=r": no output_dir .*: give --output_dir$"):
        parse_config(search.SearchEvalConfig, ["--config", EVAL_SEARCH])
    with pytest.raises(ConfigError, match=r"bench_prm.yaml: no verifiers.prm.path .*: give --verifiers.prm.path$"):
        parse_config(BenchPRMConfig, ["--config", "configs/qwen2.5-math-1.5b/bench_prm.yaml", "--output_dir", "out"])
