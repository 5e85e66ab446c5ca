"""No vLLM engine process outlives its `ttc` (ttc/lm/vllm.py, ttc/pipeline/cli.py).

A real `ttc sample` on the vLLM backend (the committed toy model), run in its own session, is
killed with SIGKILL, or stopped with SIGTERM (Slurm's preemption and scancel), once it has
saved a unit: every process it started (the engine core, its workers) must be gone within a
few seconds of its end, instead of living on under init with the memory of a GPU. A stopped
run exits 143 and its rerun resumes from the units it saved. The mechanism itself
(`children_die_with_parent`) is tested on plain multiprocessing children first, in seconds.
Whatever a run leaves is killed with its session at the end of each test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator

import psutil
import pytest

from tests.support.runs import REPO
from ttc.lm.vllm import die_with_parent

pytestmark = pytest.mark.e2e  # engine processes

BASE = str(REPO / "train" / "checkpoints" / "toy-base")
PROBLEMS, SAMPLES = 12, 16
# one problem a batch, so that a unit is saved long before the run ends (about a second each)
SAMPLE = [
    sys.executable,
    "-m",
    "ttc.pipeline.cli",
    "sample",
    "--config",
    "configs/toy/sample.yaml",
    "--lm.model",
    BASE,
    "--lm.backend",
    "vllm",
    "--data.split",
    "test",
    "--data.levels",
    "[1,2]",
    "--data.per_level",
    str(PROBLEMS // 2),
    "--sampling.n",
    str(SAMPLES),
    "--sampling.max_tokens",
    "128",
    "--batch_problems",
    "1",
]
STARTUP_S = 600  # an engine starts in 30-100 s on a CPU; more on a busy one
GONE_WITHIN_S = 10  # after its ttc has ended
STOPPED_WITHIN_S = 120  # a SIGTERMed ttc stops its engine and exits
STOPPED_STATUS = 128 + signal.SIGTERM


@contextmanager
def ttc_sample(out: Path, log: Path) -> Iterator[subprocess.Popen]:
    """`ttc sample` into `out` in its own session; at the end, the session is killed whole."""
    with open(log, "ab") as sink:
        proc = subprocess.Popen(
            [*SAMPLE, "--output_dir", str(out)],
            cwd=REPO,
            env={**os.environ, "TTC_LOG": "INFO"},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # ttc and anything it left behind: all in its process group
        proc.wait()


def units_saved(out: Path) -> int:
    partial = out / "samples.shard-00000-of-00001.partial"
    return partial.read_bytes().count(b"\n") if partial.exists() else 0


def engine_processes(proc: subprocess.Popen, out: Path, log: Path) -> list[psutil.Process]:
    """All processes under `proc` once it has saved a unit (its engine is up and generating)."""
    deadline = time.monotonic() + STARTUP_S
    while units_saved(out) < 1:
        assert proc.poll() is None, f"ttc sample ended ({proc.returncode}) before saving a unit:\n{tail(log)}"
        assert time.monotonic() < deadline, f"no unit saved in {STARTUP_S} s:\n{tail(log)}"
        time.sleep(0.05)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert any("EngineCore" in describe(p) for p in children), [describe(p) for p in children]
    return children


def alive(process: psutil.Process) -> bool:
    """Running (a zombie no reaper has collected yet is dead: it holds no memory)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def survivors(processes: list[psutil.Process], within_s: float = GONE_WITHIN_S) -> list[str]:
    deadline = time.monotonic() + within_s
    while (left := [p for p in processes if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [describe(p) for p in left]


def describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} {' '.join(process.cmdline())[:100] or process.name()}"
    except psutil.Error:
        return f"{process.pid} (gone)"


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


TREE = """
import multiprocessing, sys, time
from ttc.lm.vllm import children_die_with_parent

def sleep():
    time.sleep(600)

def engine():  # starts its own process, as vLLM's engine core starts its workers
    multiprocessing.get_context("spawn").Process(target=sleep).start()
    sleep()

if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    with children_die_with_parent():
        context.Process(target=engine).start()
    other = context.Process(target=sleep)  # started after: not an engine's
    other.start()
    print(other.pid, flush=True)
    sleep()
"""


@contextmanager
def session(argv: list[str], **kwargs) -> Iterator[subprocess.Popen]:
    """`argv` in its own session, killed whole at the end."""
    proc = subprocess.Popen(argv, cwd=REPO, start_new_session=True, **kwargs)
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_processes_started_inside_die_with_their_parent_and_theirs_too(method, tmp_path):
    script = tmp_path / "tree.py"
    script.write_text(TREE)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with session([sys.executable, str(script), method], env=env, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        other = psutil.Process(int(proc.stdout.readline()))
        deadline = time.monotonic() + 60
        while (
            len(
                engines := [
                    p
                    for p in psutil.Process(proc.pid).children(recursive=True)
                    if p.pid != other.pid and "resource_tracker" not in describe(p)
                ]
            )
            < 2
        ):
            assert time.monotonic() < deadline, [describe(p) for p in engines]  # the engine and its child
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        assert survivors(engines, within_s=5) == []
        assert alive(other), "a process started outside keeps its own lifetime"
        other.kill()


def test_a_process_whose_parent_died_before_it_asked_dies_at_once():
    """A parent that is not ours any more (`parent` is who started us): the request would never fire."""
    code = "import sys; from ttc.lm.vllm import die_with_parent as d; d(int(sys.argv[1])); print('alive')"
    done = subprocess.run([sys.executable, "-c", code, str(os.getpid())], cwd=REPO, capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "alive\n")
    orphan = subprocess.run(
        [sys.executable, "-c", code, "1" if os.getpid() != 1 else "2"], cwd=REPO, capture_output=True, text=True
    )
    assert (orphan.returncode, orphan.stdout) == (-signal.SIGKILL, "")


def test_die_with_parent_does_nothing_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    die_with_parent(-1)  # would kill this process on Linux


@pytest.mark.slow
def test_sigkill_of_ttc_takes_its_engine_processes_with_it(tmp_path):
    out, log = tmp_path / "out", tmp_path / "log.txt"
    with ttc_sample(out, log) as proc:
        engines = engine_processes(proc, out, log)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        assert survivors(engines) == [], f"engine processes outlived a SIGKILLed ttc by {GONE_WITHIN_S} s"


@pytest.mark.slow
def test_sigterm_stops_ttc_and_its_engines_and_a_rerun_resumes(tmp_path):
    out, log = tmp_path / "out", tmp_path / "log.txt"
    with ttc_sample(out, log) as proc:
        engines = engine_processes(proc, out, log)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=STOPPED_WITHIN_S)
        assert survivors(engines) == [], f"engine processes outlived a SIGTERMed ttc by {GONE_WITHIN_S} s"
        assert code == STOPPED_STATUS, f"status {code}:\n{tail(log)}"
    saved = units_saved(out)
    assert 1 <= saved < PROBLEMS, "the run was stopped in the middle of its work"
    with ttc_sample(out, log) as rerun:
        assert rerun.wait(timeout=STARTUP_S) == 0, tail(log)
    assert f"resuming, {saved} unit(s) already done" in log.read_text()
    lines = (out / "samples.jsonl").read_text().splitlines()
    assert len(lines) == PROBLEMS * SAMPLES
