"""Exit statuses of every entry point (data/config.py run_cli): bad input is 2, a fault of the
machine worth retrying (a full disk, an I/O error) is 75 (EX_TEMPFAIL); each is one line naming
the path. A real full disk: a 64 KiB tmpfs, filled (needs the right to mount; skipped otherwise)."""

from __future__ import annotations

import errno
import json
import shutil

import pytest

from data.config import BAD_INPUT_STATUS, RETRY_STATUS, ConfigError, run_cli
from data.models import check_model
from tests.support.runs import REPO, tmpfs
from ttc.pipeline import cli

pytestmark = pytest.mark.e2e  # real `ttc` processes

PRM = str(REPO / "train" / "checkpoints" / "toy-prm")


def status(job, capsys) -> tuple[str | int | None, list[str]]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit:
        job()
    return exit.value.code, capsys.readouterr().err.splitlines()


@pytest.fixture
def full_disk(tmp_path):
    """A mounted tmpfs with no space left."""
    with tmpfs(tmp_path / "disk", "64k") as disk:
        with open(disk / "filler", "wb", buffering=0) as f, pytest.raises(OSError):
            while True:
                f.write(b"\0" * 4096)
        yield disk


def test_a_full_disk_is_a_retryable_status_naming_the_path(full_disk, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = full_disk / "diff"
    argv = [
        "difficulty",
        "--config",
        "configs/toy/difficulty.yaml",
        "--prm.path",
        PRM,
        "--samples",
        "s.jsonl",
        "--output_dir",
        str(out),
    ]
    code, lines = status(lambda: cli.main(argv), capsys)
    assert code == RETRY_STATUS == 75, lines
    assert len(lines) == 1 and lines[0].startswith(f"ttc difficulty: {out}/.lock-difficulty: No space left on device")
    assert "retry" in lines[0]


def test_a_write_that_fails_names_its_file(full_disk, capsys):
    def write():
        with open(full_disk / "records.jsonl", "w") as handle:  # the error itself names no file
            handle.write("x" * 8192)

    code, lines = status(lambda: run_cli("prog", write), capsys)
    assert code == 75 and lines == [
        f"prog: {full_disk}/records.jsonl: No space left on device (a fault of this "
        "machine, not of the input: retry once there is room)"
    ]


@pytest.mark.parametrize(
    "error, code",
    [
        (OSError(errno.EIO, "Input/output error", "/x/y"), 75),
        (OSError(errno.EDQUOT, "Disk quota exceeded", "/x/y"), 75),
        (OSError(errno.ENOENT, "No such file or directory", "/x/y"), 2),
        (OSError(errno.EACCES, "Permission denied", "/x/y"), 2),
        (OSError("Can't load tokenizer for 'x'"), 2),  # no errno: a library refusing its input
    ],
)
def test_os_errors_are_bad_input_or_a_fault_by_errno(error, code, capsys):
    def job():
        raise error

    got, lines = status(lambda: run_cli("prog", job), capsys)
    assert got == code and len(lines) == 1 and (code == 2 or lines[0].startswith("prog: /x/y: "))


def test_bad_input_caused_by_a_fault_is_the_fault(capsys):
    def job():
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/x")
        except OSError as e:
            raise ConfigError("output_dir /x: cannot make the folder (No space left on device)") from e

    code, lines = status(lambda: run_cli("prog", job), capsys)
    assert code == 75 and lines[0].startswith("prog: output_dir /x: cannot make the folder (No space left on device)")
    assert BAD_INPUT_STATUS == 2


def test_a_cut_tokenizer_names_the_file(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(REPO / "train" / "checkpoints" / "toy-base", folder)
    text = (folder / "tokenizer.json").read_text()
    (folder / "tokenizer.json").write_text(text[: len(text) // 2])
    with pytest.raises(
        ConfigError,
        match=rf"^lm.model: {folder}/tokenizer.json: unreadable \(Expecting .* line \d+ "
        r"column \d+ .*\): copy the model folder again$",
    ):
        check_model(str(folder), "lm.model")


def test_json_cut_in_a_file_a_library_reads_names_the_file(tmp_path, capsys):
    cut = tmp_path / "special_tokens_map.json"
    cut.write_text('{"a": ')

    def load():
        with open(cut) as handle:
            return json.load(handle)

    code, lines = status(lambda: run_cli("prog", load), capsys)
    assert code == 2 and lines == [f"prog: {cut}: malformed JSON (Expecting value: line 1 column 7 (char 6))"]
