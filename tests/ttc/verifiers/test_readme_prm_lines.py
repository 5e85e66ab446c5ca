"""Each `ttc` command of the README's "Use a public PRM" section, run as written on a CPU against
the stand-ins of the checkpoints it names, in the hub cache where `hf download` puts them
(tests/support/qwen.py's world: the policy Qwen/Qwen2.5-Math-1.5B, the public PRMs, a MATH release
folder). Appended to each line: where the data is and sizes (two problems, a budget of 4), and
what a CPU needs instead of the GPU's settings (float32; transformers for both models: two vLLM
engines per line would take minutes on a CPU, and vLLM's step values are transformers' for every
kind, tests/ttc/verifiers/test_public_prm_vllm.py). "Ours" reads the PRM that prm.yaml trains
from runs/qwen/train_prm (a Qwen run's): there, a stand-in in prm.yaml's format.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data.config import load_yaml
from data.prm_format import PRMFormat
from data.prompts import PromptFormat
from tests.support.qwen import POLICY, build_qwen_world
from tests.support.runs import REPO

PRM_RECIPE = REPO / "configs/qwen2.5-math-1.5b/prm.yaml"


def readme_commands() -> list[str]:
    """The section's `ttc ...` lines, continuations joined."""
    section = (REPO / "README.md").read_text().split("\n## Use a public PRM\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.strip() for line in block.replace("\\\n", " ").splitlines()]
    return [line for line in lines if line.startswith("ttc ")]


COMMANDS = readme_commands()


def our_prm(folder: Path, policy: Path) -> None:
    """The PRM prm.yaml would train, untrained: the policy stand-in with prm.yaml's format and prompt."""
    recipe = load_yaml(PRM_RECIPE.read_text())
    shutil.copytree(policy, folder)
    PRMFormat(**recipe["format"]).save(folder, PromptFormat(**recipe.get("prompt", {})))


def test_the_section_has_a_line_per_kind():
    assert len(COMMANDS) == 5 and all(" eval " in f" {c} " for c in COMMANDS)


@pytest.mark.slow
@pytest.mark.parametrize(
    "command", COMMANDS, ids=["ours", "likelihood", "math-shepherd", "rlhflow", "qwen2.5-math-prm"]
)
def test_readme_line_runs_as_written(command, tmp_path):
    world = build_qwen_world()
    (tmp_path / "configs").symlink_to(REPO / "configs")  # the lines' relative paths, from the repository
    our_prm(tmp_path / "runs/qwen/train_prm", world.model(POLICY))
    sizes = [
        "--data.source",
        str(world.math),
        "--data.limit",
        "2",
        "--max_budget",
        "4",
        "--batch_problems",
        "2",
    ]  # beam M=4 needs N>=4
    cpu = ["--lm.backend", "hf", "--lm.dtype", "float32", "--prm.backend", "hf", "--prm.dtype", "float32"]
    argv = [str(Path(sys.executable).with_name("ttc")), *shlex.split(command)[1:], *sizes, *cpu]
    run = subprocess.run(
        argv, cwd=tmp_path, env={**os.environ, **world.env()}, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    output = tmp_path / argv[argv.index("--output_dir") + 1] if "--output_dir" in argv else None
    written = list((output or tmp_path / "runs").rglob("*.jsonl"))
    assert written and any(json.loads(line) for f in written for line in f.read_text().splitlines()), run.stderr[-3000:]
