"""bench/gpu_check.py, ready for a lent GPU: its flags parse, and its --tiny mode runs the same code
(random checkpoints, search with the PRM spec, PRM training under ZeRO-2) on the CPU."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "gpu_check.py"


def run(*flags: str, timeout: int) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), *flags], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_help():
    assert "--tiny" in run("--help", timeout=60)


@pytest.mark.slow
def test_tiny_mode_runs_every_part_on_the_cpu():
    out = run("--tiny", timeout=600)
    assert "(1) search on hf" in out and "best_of_n:" in out and "beam     :" in out
    assert "PRM share of wall time" in out
    assert "(2) PRM training under ZeRO-2" in out and "s/step" in out
