"""`ttc demo`: the stage list and what each stage reads, the recipe's errors, and one whole run at
tiny sizes on the real engines (the committed toy models; every stage trains or evaluates for
real), then a rerun that skips every stage without loading a model, a resume of one stage, and
a changed setting refused (~50 s on one idle core: hf backends, 2 problems per level)."""

import time
from pathlib import Path

import pytest

from data.config import ConfigError
from tests.support.runs import REPO, TINY
from ttc.pipeline import command
from ttc.pipeline.graph import GRAPH
from ttc.pipeline.local import run_all as run
from ttc.pipeline.local import trained_curves
from ttc.pipeline.report import write
from ttc.pipeline.run import DONE

pytestmark = pytest.mark.e2e  # the demo run

ORDER = [
    "sample_train",
    "label",
    "sample_trajectories",
    "sample_test",
    "train_prm",
    "eval_search",
    "trajectories",
    "train_reviser",
    "chains_train",
    "orm_data",
    "train_orm",
    "chains_test",
    "eval_revision",
    "eval_revision_grid",
    "eval_prm",
    "bench_prm",
    "difficulty",
    "large_greedy",
    "compute_optimal",
    "compute_optimal_revisions",
    "flops_matched",
    "flops_matched_revisions",
    "policy",
]
RECIPE = REPO / "configs" / "toy" / "demo.yaml"


def parse(argv):
    return command.parse(argv)[0]


def demo(tmp_path, *flags):
    return parse(["--config", str(RECIPE), "--run_dir", str(tmp_path / "run"), *flags])


def run_paths(values, run_dir: Path) -> list[Path]:
    """Every path under run_dir among a stage's settings (any depth)."""
    if isinstance(values, dict):
        return [p for v in values.values() for p in run_paths(v, run_dir)]
    if isinstance(values, list):
        return [p for v in values for p in run_paths(v, run_dir)]
    return [Path(values)] if isinstance(values, str) and values.startswith(str(run_dir)) else []


def test_the_stages_in_order_each_reading_only_earlier_outputs(tmp_path):
    d = demo(tmp_path, "--retrain")
    assert [s.name for s in d.stages] == ORDER
    finished = set()
    for stage in d.stages:
        values = d.settings(stage)
        assert values["output_dir"] == str(d.dir(stage.name))
        inputs = {p.relative_to(d.run_dir).parts[0] for p in run_paths(values, d.run_dir)} - {stage.name}
        assert inputs <= finished, f"{stage.name} reads {inputs - finished} before it is made"
        finished.add(stage.name)
    assert d.settings(d.stages[0])["lm"]["model"] == "train/checkpoints/toy-base"


def test_the_demo_starts_from_the_committed_trained_models_unless_asked_to_retrain(tmp_path):
    d = demo(tmp_path)
    trained = {
        "train_prm": "train/checkpoints/toy-prm",
        "train_reviser": "train/checkpoints/toy-reviser",
        "train_orm": "train/checkpoints/toy-orm",
    }
    assert d.cfg.trained == trained and all(Path(p, "config.json").is_file() for p in trained.values())
    evals = [
        name
        for name in ORDER
        if name
        not in {"sample_train", "label", "sample_trajectories", "trajectories", "chains_train", "orm_data", *trained}
    ]
    assert [s.name for s in d.stages] == evals
    search = d.settings(next(s for s in d.stages if s.name == "eval_search"))
    assert search["prm"]["path"] == "train/checkpoints/toy-prm"
    assert d.lm_config("reviser")["model"] == "train/checkpoints/toy-reviser"
    assert [s.name for s in demo(tmp_path, "--retrain").stages] == ORDER
    trained_curves(d)  # the committed trainers' log histories, where the report finds them
    assert all(
        (d.dir(stage) / "log_history.json").read_bytes() == Path(path, "log_history.json").read_bytes()
        for stage, path in trained.items()
    )


def test_presets_name_a_recipe_beside_the_demo_recipe(tmp_path):
    full = parse(["--preset", "full", "--run_dir", str(tmp_path / "full")])
    assert full.recipe.endswith("configs/toy/demo_full.yaml") and full.questions["test"]["per_level"] == 60
    with pytest.raises(ConfigError, match="--preset nope: no recipe .*demo_nope.yaml"):
        parse(["--preset", "nope"])
    with pytest.raises(ConfigError, match="--only: 'train_prm' is not a stage of this run"):
        demo(tmp_path, "--only", "[eval_prm, train_prm]")  # trained models are committed, not run


def test_from_scratch_trains_the_toy_models_first_and_uses_them(tmp_path):
    d = demo(tmp_path, "--from-scratch")
    assert [s.name for s in d.stages] == [
        "toy_base",
        "toy_base_context",
        "toy_base_careless",
        "toy_large",
        "toy_large_careless",
        *ORDER,
    ]
    flops = d.settings(next(s for s in d.stages if s.name == "flops_matched"))
    assert (flops["small_model"], flops["large_model"]) == (
        str(d.dir("toy_base_careless")),
        str(d.dir("toy_large_careless")),
    )
    assert d.settings(d.stages[0])["num_layers"] == 4  # configs/toy/lm_base.yaml
    assert d.settings(d.stages[1])["init_from"] == str(d.dir("toy_base"))  # phase 2 continues phase 1
    assert d.settings(d.stages[2])["init_from"] == str(d.dir("toy_base_context"))  # and phase 3 phase 2
    assert d.settings(d.stages[4])["init_from"] == str(d.dir("toy_large"))  # the larger model's corpus too


def test_settings_are_the_toy_recipe_under_the_entry_under_the_run(tmp_path):
    d = demo(tmp_path, "--retrain", "--stages.sample_train.sampling.temperature", "0.5")
    values = d.settings(next(s for s in GRAPH if s.name == "sample_train"))
    assert values["sampling"] == {"n": 8, "temperature": 0.5, "max_tokens": 128}  # recipe, entry, flag
    assert values["data"]["per_level"] == 10 and values["data"]["split"] == "train"  # the run's problems
    search = d.settings(next(s for s in GRAPH if s.name == "eval_search"))
    assert search["prm"] == {"path": str(d.dir("train_prm")), "backend": "hf"}


def test_every_stage_config_builds_from_the_recipe(tmp_path):
    d = demo(tmp_path, "--from-scratch")
    for stage in d.stages:
        cfg = d.build(stage, d.settings(stage))
        assert type(cfg) is stage.spec().config


def test_recipe_errors_name_the_file_line_and_key(tmp_path):
    recipe = tmp_path / "demo.yaml"
    text = RECIPE.read_text()
    recipe.write_text(text.replace("  label:\n", "  lable:\n"))
    with pytest.raises(ConfigError, match=r"demo.yaml:\d+: unknown stage 'lable'"):
        parse(["--config", str(recipe)])
    recipe.write_text(text.replace("    rollouts: {k: 8}\n", "    rollouts: {k: 8}\n    output_dir: elsewhere\n"))
    d = parse(["--config", str(recipe), "--retrain"])
    with pytest.raises(ConfigError, match=r"demo.yaml:\d+: stages.label.output_dir is set by the run"):
        d.settings(d.stages[1])
    recipe.write_text(text.replace("    rollouts: {k: 8}\n", "    rollouts: {kk: 8}\n"))
    d = parse(["--config", str(recipe), "--retrain"])
    line = text.splitlines().index("    rollouts: {k: 8}") + 1
    with pytest.raises(ConfigError, match=rf"demo.yaml:{line}: unknown key 'stages.label.rollouts.kk'"):
        d.build(d.stages[1], d.settings(d.stages[1]))


def test_tiny_demo_runs_every_stage_then_caches_resumes_and_refuses_changes(tmp_path):
    d = demo(tmp_path, *TINY)
    assert run(d) == ORDER
    for name in ORDER:
        assert (d.dir(name) / DONE).is_file()
    assert (d.dir("train_orm") / "model.safetensors").is_file() and (d.dir("train_reviser") / "config.json").is_file()
    assert (d.dir("compute_optimal") / "compute_optimal.json").is_file() and (d.dir("policy") / "policy.json").is_file()
    report = write(d.run_dir).read_text()  # what `ttc demo` writes last
    assert "9 of 9 parts found." in report and "### train_orm" in report  # the three trainers' curves too
    assert "picking its most likely solution is" in report  # eval_prm's baseline verifier

    again = demo(tmp_path, *TINY)  # a second call: every stage cached, no model loaded
    start = time.perf_counter()
    assert run(again) == []
    assert time.perf_counter() - start < 5

    (d.dir("compute_optimal") / DONE).unlink()  # as if killed in that stage: only it reruns
    assert run(demo(tmp_path, *TINY, "--only", "[compute_optimal]")) == ["compute_optimal"]  # --only: just it
    (d.dir("difficulty") / DONE).unlink()  # redone with the same settings: what was made from it stays done
    assert run(demo(tmp_path, *TINY)) == ["difficulty"]

    changed = list(TINY)
    changed[changed.index("--stages.label.rollouts.k") + 1] = "8"
    with pytest.raises(ConfigError, match=r"label: finished with other settings .*\(rollouts.k: 4 then, 8 now\)"):
        run(demo(tmp_path, *changed))
