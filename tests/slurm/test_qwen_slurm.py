"""The Qwen run a user starts on day one, as they start it: `slurm/pipeline.sh --config
configs/qwen2.5-math-1.5b/pipeline.yaml`, nothing skipped, on the CI's real one-node Slurm, over the
stand-in world at tiny sizes (tests/support/qwen.py). Every job must end COMPLETED, asking the cluster
for what the recipe says (resources, overridden only to fit the one CPU node), and the report must
hold every part. tests/ttc/pipeline/test_qwen_run.py runs the same in one process."""

import os
import subprocess
import sys

import pytest

from tests.slurm.test_pipeline import REPO, slurm_available, wait
from tests.support.qwen import CLUSTER, RECIPE, build_qwen_world, tiny_flags
from tests.ttc.pipeline.test_qwen_run import check_report

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not slurm_available() and os.environ.get("TTC_REQUIRE_SLURM") != "1",
        reason="no Slurm cluster here (CI starts one with .ci/slurm-up)",
    ),
]


def test_the_qwen_run_as_one_slurm_chain(tmp_path):
    world = build_qwen_world()
    run = tmp_path / "qwen"
    done = subprocess.run(
        [
            str(REPO / "slurm" / "pipeline.sh"),
            "--config",
            RECIPE,
            "--run_dir",
            str(run),
            "--shards",
            "2",
            *tiny_flags(world),
            *CLUSTER,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **world.env(), "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stderr
    jobs = done.stdout.split()
    states = wait(jobs, timeout_s=3000)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted((run / "logs").glob("*.out")))
    failed = {job: state for job, state in states.items() if state != "COMPLETED"}
    assert not failed, f"{failed}\n{logs}"
    # the report's job, the last to end (so still listed): a CPU job as the recipe's resources say
    shown = subprocess.run(["scontrol", "-o", "show", "job", jobs[-1]], capture_output=True, text=True).stdout
    assert "MinMemoryNode=2G" in shown and f"Command={REPO}/slurm/stage.sbatch" in shown
    check_report(run, world)
