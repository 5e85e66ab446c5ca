"""A stage job requeued mid-run, on the CI's real one-node Slurm (issue 25): by `scontrol requeue`
(what preemption does: SIGTERM to the step) and by the time-limit warning (`--signal=B:USR1`,
sent here at once with `scancel --batch --signal USR1`, which the script answers by requeueing).
Each time `ttc` stops cleanly (status 143), the job starts again and resumes the finished units,
and the samples are the bytes of an uninterrupted run."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.slurm.test_pipeline import REPO, slurm_available, wait
from ttc.pipeline import cli

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not slurm_available() and os.environ.get("TTC_REQUIRE_SLURM") != "1",
        reason="no Slurm cluster here (CI starts one with .ci/slurm-up)",
    ),
]
# ~300 hf calls on the toy base model: long enough to interrupt, seconds to finish
SAMPLE = [
    "sample",
    "--config",
    "configs/toy/sample.yaml",
    "--lm.model",
    str(REPO / "train/checkpoints/toy-base"),
    "--lm.backend",
    "hf",
    "--data.split",
    "test",
    "--data.levels",
    "[1,2,3,4,5]",
    "--data.per_level",
    "40",
    "--sampling.n",
    "8",
    "--sampling.max_tokens",
    "64",
    "--batch_problems",
    "1",
]


def units_done(out: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in out.glob("*.partial"))


def interrupted_job(out: Path, log: Path, interrupt: list[str]) -> str:
    """A sample job, interrupted by `interrupt` (job id appended) once it saved a few units."""
    job = subprocess.run(
        [
            "sbatch",
            "--parsable",
            f"--output={log}",
            f"--export=ALL,PYTHON={sys.executable}",
            str(REPO / "slurm" / "stage.sbatch"),
            *SAMPLE,
            "--output_dir",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deadline = time.time() + 600
    while units_done(out) < 3:
        assert time.time() < deadline and not (out / "samples.jsonl").exists(), log.read_text()[-2000:]
        time.sleep(0.5)
    subprocess.run([*interrupt, job], check=True)
    return job


@pytest.mark.parametrize(
    "interrupt",
    [["scontrol", "requeue"], ["scancel", "--batch", "--signal", "USR1"]],
    ids=["preempted", "time-limit-warning"],
)
def test_a_requeued_stage_job_resumes_to_the_same_bytes(tmp_path, interrupt):
    job = interrupted_job(tmp_path / "slurm", tmp_path / "job.out", interrupt)
    states = wait([job], timeout_s=900)
    shown = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True).stdout
    log = (tmp_path / "job.out").read_text()
    assert states == {f"{job}_": "COMPLETED"} and "Restarts=1" in shown, log[-3000:]
    assert "Exited with exit code 143" in log  # ttc stopped cleanly on SIGTERM, its engines with it
    assert "resuming" in log  # the requeued job kept the first run's units
    cli.main([*SAMPLE, "--output_dir", str(tmp_path / "direct")])
    assert (tmp_path / "slurm" / "samples.jsonl").read_bytes() == (tmp_path / "direct" / "samples.jsonl").read_bytes()
