"""bench/gpu_check.py, the check a user runs on one GPU before the full run: without a GPU it stops
at once and says so; --cpu-smoke runs every measurement (sampling, the larger model, revision
chains, PRM scoring, both trainers) through the stages' code on the Qwen run's recipe with tiny
stand-ins, then estimates each stage of the run; a recipe without `large:` just has no large row."""

import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.support.runs import REPO

pytestmark = pytest.mark.e2e  # runs bench/gpu_check.py in a subprocess

SCRIPT = REPO / "bench" / "gpu_check.py"
QWEN = "configs/qwen2.5-math-1.5b/pipeline.yaml"


def run(*flags: str, timeout: int = 150) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *flags], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )


def rows(out: str) -> dict[str, list[str]]:
    """The measurement table: stage kind -> its columns."""
    table = out.split("\nstage ")[1].split("\n\n")[0].splitlines()[1:]
    return {line.split()[0]: line.split() for line in table}


def estimated(out: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for m in re.finditer(r"^  (\w+) +([\d.]+) h", out, re.M)}


def test_without_a_gpu_it_stops_at_once_and_names_the_smoke_mode():
    done = run("--config", QWEN, timeout=60)
    assert done.returncode == 2
    assert "no CUDA GPU" in done.stderr and "--cpu-smoke" in done.stderr


def test_cpu_smoke_measures_every_stage_kind_of_the_qwen_run_and_estimates_it():
    done = run("--config", QWEN, "--cpu-smoke", "--peak-tflops", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    table = rows(done.stdout)
    assert set(table) == {"sample", "large", "revise", "score", "train_prm", "train_reviser"}
    assert all(float(r[1].replace(",", "")) > 0 for r in table.values())  # tokens/s
    assert table["train_prm"][5].endswith("%") and table["sample"][5] == "-"  # MFU: trainers only
    assert "4-shot" in done.stdout and "train/prm.py" in done.stdout and "train/revision.py" in done.stdout
    hours = estimated(done.stdout)
    for stage in (
        "sample_train",
        "label",
        "train_prm",
        "train_reviser",
        "eval_search",
        "difficulty",
        "chains_test",
        "large_greedy",
        "total",
    ):
        assert stage in hours, stage
    assert "12,000 questions x 16 samples" in done.stdout  # the PRM800K train split at sample.yaml's n


def test_a_recipe_without_a_larger_model_has_no_large_row(tmp_path):
    recipe = yaml.safe_load((REPO / QWEN).read_text())
    del recipe["large"]
    recipe["skip"] = ["large_greedy", "flops_matched", "flops_matched_revisions"]
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(recipe))
    done = run(
        "--config",
        str(tmp_path / "pipeline.yaml"),
        "--cpu-smoke",
        "--skip",
        "revise",
        "score",
        "train_prm",
        "train_reviser",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert set(rows(done.stdout)) == {"sample"}
    assert "large_greedy" not in estimated(done.stdout) and "sample_train" in estimated(done.stdout)
