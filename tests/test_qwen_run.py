"""The Qwen run a user starts on day one, rehearsed in one process: `ttc pipeline` on
configs/qwen2.5-math-1.5b/pipeline.yaml as written, nothing skipped, on the stand-in world (real
Qwen2.5 vocabulary and hub ids, MATH in the release's layout with the PRM800K split), at tiny sizes
on the CPU (tests/qwen_run.py). tests/slurm/test_qwen_run.py submits the same run to Slurm."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from qwen_run import RECIPE, tiny_flags
from qwen_standins import LARGE, build_qwen_world

from data.prm_format import FORMAT_FILE
from ttc.lm import count_parameters
from ttc.pipeline.report import PARTS

REPO = Path(__file__).resolve().parents[1]


def check_report(run: Path, world) -> None:
    """Every part of the report present, nothing skipped, the PRM's training prompt recorded, the
    larger model's size counted from its config.json."""
    report = (run / "report.md").read_text()
    assert f"{len(PARTS)} of {len(PARTS)} parts found." in report, report[:2000]
    assert "missing" not in report and "skipped by the recipe" not in report
    assert json.loads((run / "run.json").read_text())["skipped"].keys() <= {
        "toy_base", "toy_base_context", "toy_base_careless", "toy_large", "toy_large_careless"}
    assert json.loads((run / "train_prm" / FORMAT_FILE).read_text())["prompt"]["num_shots"] == 0  # prm.yaml's
    sizes = (run / "flops_matched" / "flops_matched.md").read_text()
    assert f"larger: {count_parameters(str(world.model(LARGE))):,}, 19,000,000,000,000" in sizes


@pytest.mark.slow
def test_the_qwen_run_in_one_process(tmp_path):
    world = build_qwen_world()
    run = tmp_path / "qwen"
    command = [sys.executable, "-m", "ttc.cli", "pipeline", "--config", RECIPE, "--run_dir", str(run), *tiny_flags(world)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=3600,
                          env={**os.environ, **world.env()})
    assert done.returncode == 0, done.stderr[-5000:]
    check_report(run, world)
