"""The output lock: one writer per output, held for the process's life, gone with a dead process."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from data import lock
from data.config import ConfigError
from data.lock import LockError, hold, lock_output, waiting

pytestmark = pytest.mark.e2e  # processes contending for a lock

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def holder(path):
    """A separate process that takes the lock at `path`, says so, and waits to be killed."""
    code = textwrap.dedent(f"""
        import sys, time
        from data.lock import hold
        hold({str(path)!r}, "x shard 0/1")
        print("held", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "held\n"
    return proc


def test_a_second_process_is_refused_naming_the_holder_and_a_dead_ones_lock_is_taken_over(tmp_path):
    path = tmp_path / ".lock-x"
    proc = holder(path)
    try:
        with pytest.raises(
            LockError,
            match=rf"{tmp_path}: x shard 0/1 is being written by pid {proc.pid} on "
            r"\S+ since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d",
        ):
            hold(path, "x shard 0/1")
        assert json.loads(path.read_text())["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    hold(path, "x shard 0/1")  # the kernel dropped the dead holder's lock: no stale lock to clear
    assert lock.held(path) and json.loads(path.read_text())["pid"] == os.getpid()
    hold(path)  # this process holds it already: a no-op


def test_a_forked_child_does_not_share_its_parents_lock(tmp_path):
    path = tmp_path / ".lock-y"
    hold(path, "y")
    pid = os.fork()
    if pid == 0:  # the child: must be refused
        try:
            hold(path, "y")
            os._exit(1)
        except LockError:
            os._exit(0)
        finally:
            os._exit(2)
    assert os.waitpid(pid, 0)[1] == 0


def test_output_folder_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"output_dir .*file: is a file, expected a folder"):
        lock_output(tmp_path / "file", "eval-prm")
    with pytest.raises(ConfigError, match=r"cannot make the folder"):
        lock_output(tmp_path / "file" / "below", "eval-prm")
    assert lock_output(tmp_path / "new" / "out", "eval-prm") == tmp_path / "new" / "out" / ".lock-eval-prm"


def test_waiting_lock_is_released_after_the_block(tmp_path):
    with waiting(tmp_path / ".lock-m"):
        pass
    with waiting(tmp_path / ".lock-m"):  # would block forever if the first were still held
        pass
