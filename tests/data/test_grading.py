import logging
import multiprocessing
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import pytest

from data import grading
from data.grading import is_correct

pytestmark = pytest.mark.e2e  # grader worker processes

# The real worker loop, with math-verify made to hang on one prediction.
SLOW_WORKER = [
    sys.executable,
    "-c",
    textwrap.dedent(
        """
        import time
        import data.grading as g
        verify = g._verify
        g._verify = lambda gold, pred: time.sleep(60) if pred == "999" else verify(gold, pred)
        g._serve()
        """
    ),
]


@pytest.mark.parametrize(
    "pred, gold",
    [
        ("0.5", "\\frac{1}{2}"),
        ("\\frac{1}{2}", "0.5"),
        ("\\sqrt{12}", "2\\sqrt{3}"),
        ("(1, 2)", "(1,2)"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\frac{\\pi}{2})"),
        ("$5$", "5"),
    ],
)
def test_equivalent_forms_are_correct(pred, gold):
    assert is_correct(pred, gold, "math")


@pytest.mark.parametrize(
    "pred, gold",
    [
        ("\\frac{1}{3}", "\\frac{1}{2}"),
        ("\\sqrt{11}", "2\\sqrt{3}"),
        ("(2, 1)", "(1,2)"),
        ("6", "5"),
        ("", "5"),
    ],
)
def test_wrong_answers(pred, gold):
    assert not is_correct(pred, gold, "math")


def test_missing_prediction_is_wrong():
    assert not is_correct(None, "5", "math")
    assert not is_correct(None, "5", "toy")


def test_toy_is_exact_integer_comparison():
    assert is_correct("32", "32", "toy")
    assert is_correct(" 32 ", "32", "toy")
    assert not is_correct("33", "32", "toy")
    assert not is_correct("32.0", "32", "toy")  # a MATH grader would accept it
    assert not is_correct("=32", "32", "toy")
    assert is_correct("-0", "0", "toy") and is_correct("007", "7", "toy") and not is_correct("-7", "7", "toy")


def test_toy_answers_of_any_length_are_graded():
    """Issue 25: an answer over 4,300 digits (Python's int-string limit) raised and ended the stage."""
    huge = "9" * 5000
    assert is_correct(huge, huge, "toy") and not is_correct(huge + "1", huge, "toy")


def test_what_one_answer_may_cost_is_bounded(fresh_worker):
    """Issue 25: the grader's time was bounded, its memory not (600 MB for a 1 MB answer). A
    prediction longer than any answer is wrong unparsed; the worker's address space is capped."""
    assert not is_correct("1+" * 500_000 + "1", "5", "math")
    assert grading._worker is None  # never sent to the worker
    assert is_correct("0.5", "\\frac{1}{2}", "math")
    worker = cast("grading._Worker", grading._worker)  # started by the call above
    limits = open(f"/proc/{worker.proc.pid}/limits").read()
    address_space = next(line for line in limits.splitlines() if line.startswith("Max address space"))
    assert address_space.split()[3] == str(grading.WORKER_MEMORY_BYTES)


def test_unparsable_prediction_is_wrong_and_logged(caplog):
    with caplog.at_level(logging.INFO, logger="data.grading"):
        assert not is_correct("\\frac{", "5", "math")
    assert "cannot grade" in caplog.text


@pytest.fixture
def fresh_worker():
    grading.close_worker()
    yield
    grading.close_worker()


def test_timeout_is_wrong_and_the_next_call_works(monkeypatch, caplog, fresh_worker):
    monkeypatch.setattr(grading, "WORKER_COMMAND", SLOW_WORKER)
    with caplog.at_level(logging.WARNING, logger="data.grading"):
        assert not is_correct("999", "5", "math", timeout_s=0.5)
    assert "timed out" in caplog.text
    assert grading._worker is None  # killed
    assert is_correct("0.5", "\\frac{1}{2}", "math")  # a new worker answers


CASES = [
    ("0.5", "\\frac{1}{2}", True),
    ("\\sqrt{12}", "2\\sqrt{3}", True),
    ("3", "4", False),
    ("(1, 2)", "(1,2)", True),
]


def test_from_threads():
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: is_correct(case[0], case[1], "math"), CASES * 2))
    assert results == [expected for *_, expected in CASES * 2]


def _grade(case: tuple[str, str, bool]) -> bool:
    return is_correct(case[0], case[1], "math")


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_from_daemonic_pool_workers(method):
    is_correct("0.5", "\\frac{1}{2}", "math")  # a forked child must not reuse this worker's pipes
    with multiprocessing.get_context(method).Pool(2) as pool:
        assert pool.map(_grade, CASES) == [expected for *_, expected in CASES]


def test_no_gold_answer_is_never_correct():
    assert not is_correct("5", None, "math")
    assert not is_correct("5", "", "toy")
    assert not is_correct("5", "  ", "math")


def test_the_worker_dies_with_its_parent_even_mid_answer():
    """kill -9 of the process that started the worker, while the worker is stuck in an answer:
    the worker must not be left burning CPU."""
    import os
    import signal
    import subprocess
    import time

    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import data.grading as g
        g.WORKER_COMMAND = {SLOW_WORKER!r}
        worker = g._Worker()
        worker.proc.stdin.write(b'{{"gold": "5", "pred": "999"}}\\n')  # hangs for 60 s
        worker.proc.stdin.flush()
        print(worker.proc.pid, flush=True)
        import time; time.sleep(120)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    time.sleep(0.5)  # the worker is inside the hanging answer
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = open(f"/proc/{worker}/stat").read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            break
        if state == "Z":  # exited, not yet reaped by its new parent
            break
        time.sleep(0.1)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the grader's worker outlived its parent")
