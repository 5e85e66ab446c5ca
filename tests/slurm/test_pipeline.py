"""The whole run as one Slurm chain (slurm/pipeline.sh -> `ttc pipeline --slurm`) on a real
one-node cluster, from the same stage graph and recipe as `ttc demo`, at tiny sizes (every model
trained in the run, hf backends, two shards per sharded stage): every job must end COMPLETED,
the report must hold every part, and a second submission submits nothing but the report.

CI starts the cluster (.ci/slurm-up) and sets TTC_REQUIRE_SLURM=1, so there this test fails
rather than skips when Slurm is missing.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data.records import Sample, read_records
from eval.search_report import EvalResult
from tests.support.runs import REPO, TINY


def slurm_available() -> bool:
    return shutil.which("sbatch") is not None and subprocess.run(["sinfo", "-h"], capture_output=True).returncode == 0


pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not slurm_available() and os.environ.get("TTC_REQUIRE_SLURM") != "1",
        reason="no Slurm cluster here (CI starts one with .ci/slurm-up)",
    ),
]


def wait(job_ids: list[str], timeout_s: float) -> dict[str, str]:
    """Poll squeue until the jobs are gone, then read each job's (or array task's) final state."""
    deadline = time.time() + timeout_s
    while subprocess.run(
        ["squeue", "-h", "-j", ",".join(job_ids), "-o", "%i"], capture_output=True, text=True
    ).stdout.strip():
        assert time.time() < deadline, f"Slurm jobs {job_ids} still running after {timeout_s}s"
        time.sleep(1)
    states = {}
    for job in job_ids:
        shown = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True).stdout
        for line in shown.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            states[fields["JobId"] + "_" + fields.get("ArrayTaskId", "")] = fields["JobState"]
    return states


def submit(run: Path, *flags: str) -> list[str]:
    done = subprocess.run(
        [
            str(REPO / "slurm" / "pipeline.sh"),
            "--config",
            "configs/toy/demo.yaml",
            "--run_dir",
            str(run),
            "--shards",
            "2",
            *TINY,
            "--stages.eval_search.batch_problems",
            "5",
            "--stages.eval_revision_grid.batch_problems",
            "5",
            *flags,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_whole_toy_run_as_one_slurm_chain(tmp_path):
    run = tmp_path / "run"
    jobs = submit(run)
    assert len(jobs) == 10 * 2 + 3 + 10 + 1  # sharded stages (array, merge), trainers, the rest, the report
    states = wait(jobs, timeout_s=1200)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted((run / "logs").glob("*.out")))
    failed = {job: state for job, state in states.items() if state != "COMPLETED"}
    assert not failed and len(states) == len(jobs) + 10, f"{failed}\n{logs}"  # + the second task of each array

    assert len(read_records(run / "sample_test" / "samples.jsonl", Sample)) == 10 * 8
    grid = read_records(run / "eval_search" / "results.jsonl", EvalResult)
    assert {r.name for r in grid} >= {"Best-of-N weighted", "Majority"}
    assert json.loads((run / "train_prm" / "DONE").read_text())["stage"] == "train_prm"
    assert "9 of 9 parts found." in (run / "report.md").read_text()
    again = submit(run)
    assert len(again) == 1  # every stage DONE: only the report again
    wait(again, timeout_s=300)
