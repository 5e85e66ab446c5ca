"""The PRM chain on a real Slurm cluster: sample array -> merge -> label array -> merge -> train.

CI starts a one-node cluster (.ci/slurm-up) and sets TTC_REQUIRE_SLURM=1, so there this test
fails rather than skips when Slurm is missing.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from data.records import Sample, StepLabels, read_records
from ttc.verifiers.hf_prm import HFPRM

REPO = Path(__file__).resolve().parents[2]


def slurm_available() -> bool:
    return shutil.which("sbatch") is not None and subprocess.run(["sinfo", "-h"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(
    not slurm_available() and os.environ.get("TTC_REQUIRE_SLURM") != "1",
    reason="no Slurm cluster here (CI starts one with .ci/slurm-up)",
)


def wait(job_ids: list[str], timeout_s: float = 1200) -> dict[str, str]:
    """Poll squeue until the jobs are gone, then read each job's (or array task's) final state."""
    deadline = time.time() + timeout_s
    while subprocess.run(["squeue", "-h", "-j", ",".join(job_ids), "-o", "%i"],
                         capture_output=True, text=True).stdout.strip():
        assert time.time() < deadline, f"Slurm jobs {job_ids} still running after {timeout_s}s"
        time.sleep(0.5)
    states = {}
    for job in job_ids:
        shown = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True).stdout
        for line in shown.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            states[fields["JobId"] + "_" + fields.get("ArrayTaskId", "")] = fields["JobState"]
    return states


def recipe(path: Path, values: dict) -> str:
    path.write_text(yaml.safe_dump(values))
    return str(path)


def test_label_chain_trains_a_prm(tmp_path, toy_base_path):
    data = {"source": "toy", "split": "slurm", "levels": [1, 3], "per_level": 6}
    model = str(toy_base_path)
    sample = recipe(tmp_path / "sample.yaml", {
        "output_dir": str(tmp_path / "samples"), "lm": {"model": model}, "data": data,
        "sampling": {"n": 4, "max_tokens": 48}})
    label = recipe(tmp_path / "label.yaml", {
        "output_dir": str(tmp_path / "labels"), "samples": str(tmp_path / "samples" / "samples.jsonl"),
        "lm": {"model": model}, "data": data, "rollouts": {"k": 4, "max_tokens": 48}})
    prm = recipe(tmp_path / "prm.yaml", {
        "model": model, "labels_file": str(tmp_path / "labels" / "labels.jsonl"),
        "output_dir": str(tmp_path / "prm"), "learning_rate": 1e-3, "batch_size": 8,
        "per_device_batch_size": 8, "num_epochs": 1, "eval_every": 5})
    submitted = subprocess.run(
        [str(REPO / "slurm" / "submit.sh"), "--sample", sample, "--label", label, "--prm", prm, "--shards", "2"],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable},
    )
    assert submitted.returncode == 0, submitted.stderr
    jobs = submitted.stdout.split()
    assert len(jobs) == 5
    states = wait(jobs)
    logs = "\n".join(p.read_text()[-2000:] for p in sorted((tmp_path / "logs").glob("*.out")))
    assert set(states.values()) == {"COMPLETED"} and len(states) == 7, f"{states}\n{logs}"

    samples = read_records(tmp_path / "samples" / "samples.jsonl", Sample)
    labels = read_records(tmp_path / "labels" / "labels.jsonl", StepLabels)
    assert len(samples) == 12 * 4
    assert len(labels) == sum(s.answer is not None and bool(s.steps) for s in samples)
    assert all(0 <= v <= 1 for r in labels for v in r.values)
    scores = HFPRM(str(tmp_path / "prm")).score([labels[0].question], [labels[0].steps])
    assert len(scores[0]) == len(labels[0].steps)
