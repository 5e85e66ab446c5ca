"""Grading: is a predicted final answer equal to the gold one?

Toy answers are integers, compared exactly. MATH answers go through math-verify 0.9: gold
first (`verify` is asymmetric), both wrapped in `$...$` (bare-text gold misses `2\\sqrt{3}` vs
`\\sqrt{12}`). math-verify's own timeouts use SIGALRM, which fails outside the main thread, and
sympy can hang on some inputs; so it runs with its timeouts off in one persistent worker
process (`python -m data.grading --worker`, JSON lines over stdin/stdout), which is killed when
an answer takes longer than our limit and restarted on the next call. It is a plain `Popen`,
so grading works from any thread and from daemonic pool workers. The worker dies with its
parent, however the parent dies (kill -9 included): it watches its parent process and exits when
it is gone, even in the middle of an answer. A timeout or an unparsable answer is logged and
graded incorrect; grading never raises on an answer. Its cost is bounded: answers longer than
MAX_ANSWER_CHARS are wrong unparsed, and the worker's memory is capped (WORKER_MEMORY_BYTES). No gold
answer (None or empty: a question nobody has answered) grades incorrect; its callers report such questions as ungraded.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import resource
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, cast

from data.toy import SOURCE as TOY_SOURCE

log = logging.getLogger(__name__)

WORKER_COMMAND = [sys.executable, "-m", "data.grading", "--worker"]
STARTUP_TIMEOUT_S = 120.0  # importing sympy on a loaded machine; not charged to an answer
_INTEGER = re.compile(r"-?\d+")
# Bounds on what one answer may cost: a prediction longer than any MATH answer is graded wrong
# unparsed, and the worker's address space is capped (an answer whose value sympy cannot hold,
# `2^{2^{40}}`, fails with a MemoryError in the worker, graded wrong; the machine's memory is safe).
MAX_ANSWER_CHARS = 1000
WORKER_MEMORY_BYTES = 4 << 30


def is_correct(pred: str | None, gold: str | None, source: str, timeout_s: float = 5.0) -> bool:
    """Whether `pred` (an extracted answer; None if there was none) matches `gold` (None or
    empty when the question has no gold answer: never a match)."""
    if pred is None or gold is None or not str(gold).strip():
        return False
    if source == TOY_SOURCE:
        return _toy_correct(pred, gold)
    pred, gold = _normalize(pred), _normalize(gold)
    if pred == gold:
        return True
    if not pred or len(pred) > MAX_ANSWER_CHARS:
        return False
    return _ask_worker(gold, pred, timeout_s)


def _toy_correct(pred: str, gold: str) -> bool:
    if not _INTEGER.fullmatch(gold.strip()):
        raise ValueError(f"toy gold answer is not an integer: {gold!r}")
    pred = pred.strip()
    return bool(_INTEGER.fullmatch(pred)) and _canonical(pred) == _canonical(gold.strip())


def _canonical(integer: str) -> str:
    """An integer's digits without leading zeros or a minus on zero: compared as text, since
    `int()` refuses strings over 4,300 digits (a model can write one)."""
    digits = integer.lstrip("-").lstrip("0") or "0"
    return "-" + digits if integer.startswith("-") and digits != "0" else digits


def _normalize(answer: str) -> str:
    """Whitespace runs collapsed, one outer pair of `$` dropped: differences LaTeX ignores."""
    answer = " ".join(answer.split())
    if len(answer) >= 2 and answer[0] == answer[-1] == "$":
        answer = answer[1:-1].strip()
    return answer


# ---- the client side: one worker per process, one request at a time ----


class _Worker:
    def __init__(self) -> None:
        # The worker must import `data` from wherever the caller runs.
        root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.proc = subprocess.Popen(WORKER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.buffer = b""
        try:
            self.read_line(STARTUP_TIMEOUT_S)  # the "ready" line: imports are done
        except (TimeoutError, EOFError) as e:
            self.kill()
            # Not an answer's fault: every MATH grade would be wrong, so say so loudly.
            raise RuntimeError(f"grader worker {WORKER_COMMAND} did not start ({e!r})") from e

    @property
    def stdin(self) -> IO[bytes]:
        return cast(IO[bytes], self.proc.stdin)  # Popen(stdin=PIPE): never None

    @property
    def stdout(self) -> IO[bytes]:
        return cast(IO[bytes], self.proc.stdout)  # Popen(stdout=PIPE): never None

    def ask(self, gold: str, pred: str, timeout_s: float) -> dict:
        self.stdin.write(json.dumps({"gold": gold, "pred": pred}).encode() + b"\n")
        self.stdin.flush()
        return json.loads(self.read_line(timeout_s))

    def read_line(self, timeout_s: float) -> bytes:
        """One line of output; TimeoutError past the deadline, EOFError if the worker died."""
        deadline = time.monotonic() + timeout_s
        fd = self.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError(f"grader worker exited with {self.proc.wait()}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.stdout.close()
        with contextlib.suppress(BrokenPipeError):  # a request may still sit in the buffer
            self.stdin.close()


_lock = threading.Lock()
_worker: _Worker | None = None


def _ask_worker(gold: str, pred: str, timeout_s: float) -> bool:
    global _worker
    with _lock:
        if _worker is None:
            _worker = _Worker()
        try:
            reply = _worker.ask(gold, pred, timeout_s)
        except TimeoutError:
            log.warning("grading timed out after %.1fs (gold %.80r, pred %.80r)", timeout_s, gold, pred)
            close_worker()
            return False
        except (EOFError, OSError, ValueError) as e:
            log.error("grader worker failed (%s) on gold %.80r, pred %.80r", e, gold, pred)
            close_worker()
            return False
    if reply["error"]:
        log.info("cannot grade (%s): gold %.80r, pred %.80r", reply["error"], gold, pred)
    return reply["correct"]


def close_worker() -> None:
    """Stop this process's worker (the next call starts a new one)."""
    global _worker
    if _worker is not None:
        _worker.kill()
        _worker = None


def _after_fork_in_child() -> None:
    # A forked child must not share its parent's pipes or inherit a held lock.
    global _lock, _worker
    _lock, _worker = threading.Lock(), None


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(close_worker)


# ---- the worker side ----


def _verify(gold: str, pred: str) -> bool:
    from math_verify import verify

    return bool(verify(_parse(gold, "gold"), _parse(pred, "prediction"), timeout_seconds=None))


def _parse(answer: str, what: str) -> list:
    from math_verify import parse  # only the worker pays for importing sympy

    # math-verify takes None (no timeout) but annotates `parsing_timeout: int`
    parsed = parse(f"${answer}$", parsing_timeout=None)  # pyright: ignore[reportArgumentType]
    # Only raw strings back means no math was found; math-verify would then compare the strings
    # exactly, which the fast path in `is_correct` already did.
    if all(isinstance(p, str) for p in parsed):
        raise ValueError(f"{what} does not parse")
    return parsed


def _answer(request: dict) -> dict:
    try:
        return {"correct": _verify(request["gold"], request["pred"]), "error": None}
    except Exception as e:  # a crash on one answer must not take the worker down
        return {"correct": False, "error": f"{type(e).__name__}: {e}"}


def _die_with_parent(parent: int, every_s: float = 0.5) -> None:
    """Exit as soon as the process that started us is gone (re-parented: getppid changes). A
    kill -9 of the parent closes our stdin too, but a sympy call can run for minutes without
    reading it; this thread ends the worker even then (sympy is Python: the GIL comes round)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(0)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _serve() -> None:
    """Answer JSON requests line by line until stdin closes or the parent dies."""
    _die_with_parent(os.getppid())
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, resource.getrlimit(resource.RLIMIT_AS)[1]))
    out, sys.stdout = sys.stdout, sys.stderr  # stray prints must not corrupt the protocol
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout is disabled": we know
    _verify("1", "1")  # import and warm up before saying ready
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        out.write(json.dumps(_answer(json.loads(line))) + "\n")
        out.flush()


if __name__ == "__main__":
    if sys.argv[1:] != ["--worker"]:
        sys.exit("usage: python -m data.grading --worker  (the grader's worker process)")
    _serve()
