"""One writer per output: an exclusive lock file held for the life of the process.

    hold(Path("runs/x/.lock-samples.shard-00000-of-00001"), "ttc sample")

`hold` takes an `fcntl.flock` on the file and keeps it until the process exits; the kernel drops
it when the process dies however it dies (kill -9, OOM, a node lost), so a lock is never stale:
a Slurm requeue or a rerun after a crash simply takes it again. The holder writes who it is
(host, pid, start time, command) into the file; a second process that finds the lock taken fails
at once with one `LockError` line naming that holder. Taking a lock this process already holds
is a no-op (a stage that checks its output before loading a model and again when it runs).

flock is per open file: a child forked without exec (not one of `subprocess`, whose file
descriptors are closed) would share the lock, so a forked child forgets the locks it inherited
and takes its own. Across hosts (Slurm jobs on a shared file system) flock holds where the file
system passes it to the server (NFSv4, Lustre mounted with `flock`); on one that keeps locks
local to a host, two hosts could each take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from data.config import ConfigError, rank_zero


class LockError(ConfigError):
    """Another live process holds this output: one line naming it."""


_held: dict[str, int] = {}  # resolved lock path -> open file descriptor, for this process's life


def hold(path: Path | str, what: str = "") -> Path:
    """Take the lock at `path` for the rest of this process (or fail with the holder's name)."""
    path = Path(path)
    key = str(path.resolve())
    if key in _held:
        return path
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by exec'd children
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _describe(os.pread(fd, 4096, 0))
        os.close(fd)
        raise LockError(
            f"{path.parent}: {what or path.name} is being written by {holder}, another run on this "
            "output folder (wait for it to end, or use another --output_dir)"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    info = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300],
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    _held[key] = fd
    return path


def output_folder(out_dir: Path | str) -> Path:
    """The output folder, made if needed; one error if it is a file or cannot be made."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output_dir {out_dir}: is a file, expected a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"output_dir {out_dir}: cannot make the folder ({e.strerror})") from e
    return out_dir


def lock_output(out_dir: Path | str, name: str) -> Path | None:
    """The output folder of a stage that is not sharded, locked for this process as
    `.lock-<name>` (by the first process of a launch only: every rank of a torchrun runs this)."""
    folder = output_folder(out_dir)
    return hold(folder / f".lock-{name}", name) if rank_zero() else None


def held(path: Path | str) -> bool:
    """Whether this process holds the lock at `path`."""
    return str(Path(path).resolve()) in _held


def _describe(raw: bytes) -> str:
    try:
        info = json.loads(raw.decode())
        return f"pid {info['pid']} on {info['host']} since {info['started']}"
    except (ValueError, KeyError, TypeError):
        return "another process (it has not written its name yet)"


def _forget_in_child() -> None:
    # The inherited descriptors stay open (closing one would not release the parent's lock, and
    # closing it in the parent's stead is not ours to do); the child takes its own locks.
    _held.clear()


os.register_at_fork(after_in_child=_forget_in_child)


@contextlib.contextmanager
def waiting(path: Path | str) -> Iterator[None]:
    """The lock at `path` for the length of a `with` block, waiting for any other holder (two
    shards that finish together both merge, one after the other, to the same bytes)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases it
