"""The whole run as one Slurm chain (slurm/pipeline.sh) on a real one-node cluster, with the toy
recipes shrunk to seconds per stage: every job must end COMPLETED and the report must exist.

CI starts the cluster (.ci/slurm-up) and sets TTC_REQUIRE_SLURM=1, so there this test fails
rather than skips when Slurm is missing (as test_chain.py).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_chain import slurm_available, wait

from data.records import Sample, read_records
from eval.search_report import EvalResult

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "configs" / "toy"

pytestmark = pytest.mark.skipif(
    not slurm_available() and os.environ.get("TTC_REQUIRE_SLURM") != "1",
    reason="no Slurm cluster here (CI starts one with .ci/slurm-up)",
)


def merged(base: dict, override: dict) -> dict:
    """`override` on `base`, section by section; the grid's `strategies` are replaced whole."""
    out = dict(base)
    for key, value in override.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict) and key != "strategies"
        out[key] = merged(out[key], value) if nested else value
    return out


def tiny_recipes(folder: Path, base: Path, large: Path) -> Path:
    """configs/toy's recipes with tiny sizes, the transformers backend (no vLLM start-up) and
    absolute model paths (the jobs run in the test's folder)."""
    hf = {"model": str(base), "backend": "hf"}
    train = {"source": "toy", "split": "pipeline-train", "levels": [2, 3], "per_level": 4}  # L2-L3: mixed outcomes
    test = {"source": "toy", "split": "test", "levels": [1, 2, 3, 4, 5], "per_level": 2}
    short = {"n": 4, "max_tokens": 48}
    tiny = {
        "sample_train": {"lm": hf, "data": train, "sampling": short},
        "label": {"lm": hf, "data": train, "rollouts": {"k": 2, "max_tokens": 48}, "batch_problems": 4},
        "prm": {"model": str(base), "batch_size": 8, "per_device_batch_size": 8, "num_epochs": 1, "eval_every": 5},
        "sample_trajectories": {"lm": hf, "data": train, "sampling": {"n": 8, "max_tokens": 48}, "batch_problems": 4},
        "trajectories": {"data": train},
        "revision": {"model": str(base), "batch_size": 8, "per_device_batch_size": 8, "num_epochs": 1,
                     "eval_every": 5, "max_length": 512, "val_fraction": 0.25},
        "sample_eval": {"lm": hf, "data": test, "sampling": short},
        "eval_search": {"lm": hf, "prm": {"backend": "hf"}, "data": test, "max_budget": 4, "seeds": [0],
                        "batch_problems": 5, "strategies": {
                            "Best-of-N weighted": {"strategy": "best_of_n", "selection": "weighted", "max_tokens": 48},
                            "Majority": {"strategy": "best_of_n", "selection": "majority", "max_tokens": 48},
                            "Beam; M=sqrt(N)": {"strategy": "beam", "beam_width": "sqrt", "max_step_tokens": 16}}},
        "difficulty": {"data": test, "num_samples": 4},
        "compute_optimal": {},
        "sample_large": {"lm": {"model": str(large), "backend": "hf"}, "data": test, "sampling": {"max_tokens": 48}},
        "flops_matched": {"small_model": str(base), "large_model": str(large)},
        "eval_policy": {"lm": hf, "data": {**test, "split": "pipeline-heldout", "levels": [1, 4]},
                        "probe": {"max_tokens": 48}, "budgets": [2, 4], "seeds": [0]},
        "orm_data": {"reviser": hf, "data": train, "chains": 2, "length": 2, "budget": 2, "max_tokens": 48},
        "orm": {"model": str(base), "batch_size": 8, "per_device_batch_size": 8, "num_epochs": 1, "eval_every": 5},
        "eval_revision": {"reviser": hf, "data": test, "chains": 2, "length": 2, "budget": 2, "max_tokens": 48},
    }
    folder.mkdir()
    for name, override in tiny.items():
        base_recipe = yaml.safe_load((TOY / f"{name}.yaml").read_text())
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(merged(base_recipe, override)))
    return folder


def test_the_whole_toy_run_as_one_slurm_chain(tmp_path, toy_base_path):
    configs = tiny_recipes(tmp_path / "configs", toy_base_path, REPO / "train" / "checkpoints" / "toy-large")
    run = tmp_path / "run"
    submitted = subprocess.run([str(REPO / "slurm" / "pipeline.sh"), str(configs), str(run), "--shards", "2"],
                               cwd=tmp_path, capture_output=True, text=True,
                               env={**os.environ, "PYTHON": sys.executable})
    assert submitted.returncode == 0, submitted.stderr
    jobs = submitted.stdout.split()
    assert len(jobs) == 24  # 7 sharded stages x 2 (array, merge), 3 trainers, 6 analyses, the report
    states = wait(jobs, timeout_s=900)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted((tmp_path / "logs").glob("*.out")))
    failed = {job: state for job, state in states.items() if state != "COMPLETED"}
    assert not failed and len(states) == 24 + 7, f"{failed}\n{logs}"  # + the second task of each array

    assert len(read_records(run / "eval" / "samples" / "samples.jsonl", Sample)) == 10 * 4
    grid = read_records(run / "eval" / "search" / "results.jsonl", EvalResult)
    assert {r.name for r in grid} == {"Best-of-N weighted", "Majority", "Beam; M=sqrt(N)"}
    for path in ["prm/model/config.json", "revision/model/config.json", "eval/difficulty/bins_predicted.json",
                 "eval/compute_optimal/policy_predicted.json", "eval/flops_matched/flops_matched.md",
                 "eval/policy/policy.md", "eval/policy/policy.png", "orm/model/prm_format.json",
                 "eval/revision/revision_eval.md", "report.md"]:
        assert (run / path).is_file(), path
