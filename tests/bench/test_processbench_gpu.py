"""bench/processbench_gpu.py, Qwen2.5-Math-PRM-7B on ProcessBench on one GPU: absent data or model
is one line naming it (before any GPU check or weight), no GPU stops at once and names --cpu, and
--cpu runs the same eval/prm_bench.py code end to end (the toy PRM on a 2-split fixture in the
published layout), printing each split's F1 and the average."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runs import REPO

pytestmark = pytest.mark.e2e  # runs bench/processbench_gpu.py in a subprocess

SCRIPT = REPO / "bench" / "processbench_gpu.py"
TOY_PRM = str(REPO / "train" / "checkpoints" / "toy-prm")


def run(*flags: str, cache: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_CACHE": str(cache)}  # an empty cache: nothing found
    return subprocess.run(
        [sys.executable, str(SCRIPT), *flags], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )


def processbench(root: Path) -> Path:
    root.mkdir()
    right, wrong = ["=119-67-20", "=52-20", "=32"], ["=119-67-20", "=53-20", "=33"]
    for split in ("gsm8k", "math"):
        items = [
            {
                "id": f"{split}-{i}",
                "generator": "toy",
                "problem": "Compute 23+96-67-20.",
                "steps": steps,
                "final_answer_correct": label == -1,
                "label": label,
            }
            for i, (steps, label) in enumerate([(right, -1), (wrong, 1), (wrong, 1)])
        ]
        (root / f"{split}.json").write_text(json.dumps(items))
    return root


def test_absent_data_or_model_is_one_line_naming_it(tmp_path):
    done = run(cache=tmp_path)
    assert done.returncode == 2
    assert "--data: 'Qwen/ProcessBench' is neither a local path nor a dataset in the Hugging Face cache" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = run("--data", str(processbench(tmp_path / "pb")), cache=tmp_path)
    assert (
        done.returncode == 2 and "--model: 'Qwen/Qwen2.5-Math-PRM-7B' is neither a local folder nor in" in done.stderr
    )


def test_without_a_gpu_it_stops_at_once_and_names_the_cpu_mode(tmp_path):
    done = run("--data", str(processbench(tmp_path / "pb")), "--model", TOY_PRM, "--kind", "prm", cache=tmp_path)
    assert done.returncode == 2 and "no CUDA GPU" in done.stderr and "--cpu" in done.stderr


def test_bad_flags_are_refused(tmp_path):
    done = run("--threshold", "olympiadbench", "--splits", "gsm8k", cache=tmp_path)
    assert done.returncode == 2 and "--threshold: a number or one of the splits run (gsm8k)" in done.stderr


def test_cpu_runs_the_bench_prm_code_and_prints_every_split_and_the_average(tmp_path):
    done = run(
        "--data",
        str(processbench(tmp_path / "pb")),
        "--model",
        TOY_PRM,
        "--kind",
        "prm",
        "--cpu",
        "--splits",
        "gsm8k",
        "math",
        "--resamples",
        "50",
        "--output-dir",
        str(tmp_path / "out"),
        cache=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert lines["gsm8k"].split()[1] == "3" and lines["math"].split()[1] == "3"
    assert "average" in lines and "published" not in lines["average"]  # the published 73.5 is Qwen's, not the toy's
    assert (tmp_path / "out" / "prm_bench.json").is_file()
    assert len((tmp_path / "out" / "predictions.jsonl").read_text().splitlines()) == 6  # one line an item
