"""Fault injection: every sharded stage (`ttc sample`, `label`, `trajectories`, `chains`, `eval`)
is killed with SIGKILL at several random points, resumed, and must end with the same bytes as
an uninterrupted run; two runs started at once on one folder must not both write.

Each run is the real command (`ttc.pipeline.cli.main(argv)`, hf backend, the committed toy models, tiny
sizes) in a child forked from this process, so that no run pays the interpreter's and torch's
start-up (about 10 s each on a CPU); one test also kills an exec'd `ttc sample`. The child
pauses briefly after each saved unit (the only harness change), so that a kill can land between
any two units, inside a batch, during a model call or the final merge. The kill points are drawn
from a seed shown in every failure message: `TTC_FAULT_SEED=<seed>` replays them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tqdm import tqdm

from tests.support.runs import REPO
from ttc.pipeline import cli

pytestmark = pytest.mark.e2e  # real runs, killed

tqdm.monitor_interval = 0  # no monitor thread to hold the progress lock when a child is forked

BASE = str(REPO / "train" / "checkpoints" / "toy-base")
PRM = str(REPO / "train" / "checkpoints" / "toy-prm")
SEED = int(os.environ.get("TTC_FAULT_SEED", random.SystemRandom().randrange(1 << 30)))
PAUSE_S = 0.05  # after each saved unit, in the child only
TOY = ["--data.split", "test", "--data.levels", "[1,2]", "--data.per_level", "3"]  # 6 problems

SAMPLE = [
    "sample",
    "--config",
    "configs/toy/sample.yaml",
    "--lm.model",
    BASE,
    *TOY,
    "--sampling.n",
    "2",
    "--sampling.max_tokens",
    "24",
    "--batch_problems",
    "2",
]


def fresh_progress_lock() -> None:
    """A forked child inherits the parent's locks as they were at the fork: tqdm's write lock,
    held by one of the parent's threads at that moment, once hung a child for good. New ones."""
    from tqdm import std

    # types-tqdm leaves out tqdm.std's lock class and TRLock
    std.TqdmDefaultWriteLock.th_lock = std.TRLock()  # pyright: ignore[reportAttributeAccessIssue]
    std.TqdmDefaultWriteLock.mp_lock = None  # pyright: ignore[reportAttributeAccessIssue]
    std.tqdm.set_lock(std.TqdmDefaultWriteLock())  # pyright: ignore[reportAttributeAccessIssue]


def fork_run(argv: list[str], log: Path, pause_s: float = PAUSE_S) -> int:
    """`ttc <argv>` in a forked child (its output to `log`); returns the child's pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        fresh_progress_lock()
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)  # not pytest's capture
        from data.shards import ShardWriter

        write = ShardWriter.write

        def paused(self, unit_id, records):
            write(self, unit_id, records)
            time.sleep(pause_s)

        ShardWriter.write = paused
        cli.main(argv)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def status(pid: int) -> int:
    """The exit status of a finished child; -9 for one killed by SIGKILL."""
    _, raw = os.waitpid(pid, 0)
    return -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)


def units_saved(out: Path, name: str, shard: str = "00000-of-00001") -> int:
    """Units in the shard's partial file (all of them once it is finished)."""
    for suffix in ("partial", "jsonl"):
        try:
            return (out / f"{name}.shard-{shard}.{suffix}").read_bytes().count(b"\n")
        except FileNotFoundError:
            continue
    return -1 if not (out / f"{name}.shard-{shard}.settings.json").exists() else 0


def kill_after(pid: int, out: Path, name: str, units: int, delay_s: float, timeout_s: float = 120) -> int:
    """SIGKILL the child `delay_s` after it has saved `units` units (0: once it has claimed the
    output); returns its status (0 if it finished first)."""
    deadline = time.monotonic() + timeout_s
    while units_saved(out, name) < units:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            return -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
        assert time.monotonic() < deadline, f"seed {SEED}: the child saved no unit in {timeout_s} s"
        time.sleep(0.002)
    time.sleep(delay_s)
    os.kill(pid, signal.SIGKILL)
    return status(pid)


def run(argv: list[str], log: Path) -> None:
    code = status(fork_run(argv, log, pause_s=0))
    assert code == 0, f"seed {SEED}: ttc {' '.join(argv)} exited {code}:\n{log.read_text()[-3000:]}"


def killed_and_resumed(argv: list[str], out: Path, name: str, units: int, rng: random.Random, log: Path) -> list[str]:
    """Run `argv` into `out`, SIGKILLed at 3 random points (units saved, then a random delay;
    once a kill cut a line in half), then resumed to the end; returns what happened."""
    argv = [*argv, "--output_dir", str(out)]
    story = []
    points = sorted(rng.sample(range(units + 1), 3))
    for i, point in enumerate(points):
        delay = rng.uniform(0, 2 * PAUSE_S)
        code = kill_after(fork_run(argv, log), out, name, point, delay)
        story.append(f"killed after {point} unit(s) + {delay * 1000:.0f} ms: status {code}")
        assert code in (-signal.SIGKILL, 0), f"seed {SEED}: {story}\n{log.read_text()[-3000:]}"
        partial = out / f"{name}.shard-00000-of-00001.partial"
        if i == 0 and partial.exists():  # a kill in the middle of a write: half a line
            with open(partial, "a") as handle:
                handle.write('{"id": "cut-by-a-kill", "records": [{"schema"')
            story.append("half a line appended")
    run(argv, log)
    return story


@pytest.fixture(scope="module")
def reference(tmp_path_factory, toy_base_path) -> Path:
    """Uninterrupted runs of every stage, the later stages on the first one's samples."""
    if str(toy_base_path) != BASE:
        pytest.skip("the runs name the committed toy models")
    root = tmp_path_factory.mktemp("reference")
    log = root / "log.txt"
    run([*SAMPLE, "--output_dir", str(root / "samples")], log)
    return root


def stages(samples: Path) -> dict[str, tuple[list[str], str, int]]:
    """Stage -> (argv without --output_dir, output name, units)."""
    return {
        "sample": (SAMPLE, "samples", 6),
        "label": (
            [
                "label",
                "--config",
                "configs/toy/label.yaml",
                "--lm.model",
                BASE,
                "--lm.backend",
                "hf",
                *TOY,
                "--samples",
                str(samples),
                "--samples_per_problem",
                "1",
                "--rollouts.k",
                "2",
                "--rollouts.max_tokens",
                "16",
                "--batch_problems",
                "2",
            ],
            "labels",
            6,
        ),
        "trajectories": (
            [
                "trajectories",
                "--config",
                "configs/toy/trajectories.yaml",
                *TOY,
                "--samples",
                str(samples),
                "--min_attempts",
                "0",
                "--batch_problems",
                "1",
            ],
            "trajectories",
            6,
        ),
        "chains": (
            [
                "chains",
                "--config",
                "configs/toy/chains_eval.yaml",
                "--reviser.model",
                BASE,
                "--reviser.backend",
                "hf",
                *TOY,
                "--chains",
                "2",
                "--length",
                "2",
                "--max_tokens",
                "16",
                "--batch_problems",
                "2",
            ],
            "chains",
            6,
        ),
        "eval": (
            [
                "eval",
                "--config",
                "configs/toy/eval_search.yaml",
                "--lm.model",
                BASE,
                "--lm.backend",
                "hf",
                "--prm.path",
                PRM,
                "--prm.backend",
                "hf",
                *TOY,
                "--max_budget",
                "4",
                "--seeds",
                "[0]",
                "--strategies",
                "{weighted: {strategy: best_of_n, selection: weighted, max_tokens: 24}}",
                "--batch_problems",
                "2",
            ],
            "results",
            3,
        ),
    }


@pytest.mark.parametrize("stage", ["sample", "label", "trajectories", "chains", "eval"])
def test_kill_9_at_random_points_then_resume_gives_the_same_bytes(stage, reference, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    rng = random.Random(f"{SEED}:{stage}")
    argv, name, units = stages(reference / "samples" / "samples.jsonl")[stage]
    log = tmp_path / "log.txt"
    if stage == "sample":
        expected = (reference / "samples" / "samples.jsonl").read_bytes()
    else:
        run([*argv, "--output_dir", str(tmp_path / "whole")], log)
        expected = (tmp_path / "whole" / f"{name}.jsonl").read_bytes()
    assert expected.count(b"\n") > 0
    story = killed_and_resumed(argv, tmp_path / "killed", name, units, rng, log)
    got = (tmp_path / "killed" / f"{name}.jsonl").read_bytes()
    assert got == expected, f"seed {SEED}: {stage}: {story}"
    assert not (tmp_path / "killed" / f"{name}.shard-00000-of-00001.partial").exists()


def test_shards_killed_and_resumed_merge_to_one_runs_bytes(reference, tmp_path, monkeypatch):
    """Two shards of `ttc sample` at once on one folder (each holds only its own lock), shard 1
    killed at a random point and resumed, then `ttc merge`: the bytes of one uninterrupted run."""
    monkeypatch.chdir(REPO)
    rng = random.Random(f"{SEED}:shards")
    out, log = tmp_path / "two", tmp_path / "log.txt"
    argv = [*SAMPLE, "--output_dir", str(out), "--num_shards", "2"]
    first = fork_run([*argv, "--shard", "0"], log)
    second = fork_run([*argv, "--shard", "1"], log)
    point = rng.randrange(3)
    deadline = time.monotonic() + 120
    while units_saved(out, "samples", "00001-of-00002") < point and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(second, signal.SIGKILL)
    assert status(first) == 0, log.read_text()[-3000:]
    assert status(second) in (-signal.SIGKILL, 0)
    run([*argv, "--shard", "1"], log)
    run(
        [
            "merge",
            "sample",
            "--config",
            "configs/toy/sample.yaml",
            "--lm.model",
            BASE,
            "--output_dir",
            str(out),
            "--num_shards",
            "2",
        ],
        log,
    )
    assert (out / "samples.jsonl").read_bytes() == (reference / "samples" / "samples.jsonl").read_bytes(), (
        f"seed {SEED}: shard 1 killed after {point} unit(s)"
    )


def test_two_runs_started_at_once_on_one_folder(reference, tmp_path, monkeypatch):
    """A double start (or a Slurm requeue while the old job still runs): the second fails at once
    with one line naming the first, the first finishes, and no record is lost."""
    monkeypatch.chdir(REPO)
    out = tmp_path / "twice"
    argv = [*SAMPLE, "--output_dir", str(out)]
    logs = [tmp_path / "first.txt", tmp_path / "second.txt"]
    first = fork_run(argv, logs[0])
    while units_saved(out, "samples") < 0:  # the first has claimed the folder
        time.sleep(0.002)
    started = time.monotonic()
    second = fork_run(argv, logs[1])
    assert status(second) == 2
    assert time.monotonic() - started < 30  # at once: before any model would load
    lines = logs[1].read_text().strip().splitlines()
    assert lines[-1].startswith(f"ttc sample: {out}: samples shard 0/1 is being written by pid {first} on ")
    assert lines[-1].endswith("another run on this output folder (wait for it to end, or use another --output_dir)")
    assert status(first) == 0, logs[0].read_text()[-3000:]
    assert (out / "samples.jsonl").read_bytes() == (reference / "samples" / "samples.jsonl").read_bytes()


def test_an_execd_ttc_sample_killed_with_sigkill_resumes_to_the_same_bytes(reference, tmp_path):
    """The same through the installed command in its own interpreter: kill -9 after a random
    number of saved units, rerun, compare; the rerun takes over the dead run's lock."""
    rng = random.Random(f"{SEED}:exec")
    out = tmp_path / "execd"
    argv = [sys.executable, "-m", "ttc.pipeline.cli", *SAMPLE, "--output_dir", str(out), "--batch_problems", "1"]
    env = {**os.environ, "TTC_LOG": "WARNING"}
    point = rng.randrange(1, 6)
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while units_saved(out, "samples") < point and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "samples.jsonl").read_bytes() == (reference / "samples" / "samples.jsonl").read_bytes(), (
        f"seed {SEED}: killed after {point} unit(s)"
    )
