"""Models that load but are wrong, and faults that used to be tracebacks, are one line (issue 25,
items 7 and 8): a PRM folder given as the policy, llama weights under another model_type, an
architecture that is no causal LM, a cut or corrupt model.safetensors (all refused before any
weight is read, data/models.py check_model), NaN weights (load_lm's probe: hf and vLLM), a
trainer's full disk (train/arguments.py save_faults, status 75), Ctrl-C (run_cli, status 130)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

from data.config import BAD_INPUT_STATUS, INTERRUPTED_STATUS, RETRY_STATUS, ConfigError, run_cli
from data.models import check_model
from tests.support.runs import REPO, tmpfs
from ttc.lm.spec import LMConfig, load_lm
from ttc.pipeline import cli

if TYPE_CHECKING:
    from ttc.lm.hf import HFBackend

pytestmark = pytest.mark.e2e  # real engines on wrong models

BASE = REPO / "train" / "checkpoints" / "toy-base"
PRM = REPO / "train" / "checkpoints" / "toy-prm"
TOY = [
    "--data.split",
    "test",
    "--data.levels",
    "[1]",
    "--data.per_level",
    "1",
    "--sampling.n",
    "1",
    "--sampling.max_tokens",
    "8",
    "--batch_problems",
    "1",
]


def status(job, capsys) -> tuple[str | int | None, list[str]]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit:
        job()
    return exit.value.code, capsys.readouterr().err.splitlines()


def sample(policy: Path, out: Path, backend: str = "hf") -> list[str]:
    return [
        "sample",
        "--config",
        "configs/toy/sample.yaml",
        "--lm.model",
        str(policy),
        "--lm.backend",
        backend,
        *TOY,
        "--output_dir",
        str(out),
    ]


def copy_model(source: Path, folder: Path, **config) -> Path:
    """`source` copied to `folder`, its config.json updated with `config`."""
    shutil.copytree(source, folder)
    settings = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**settings, **config}))
    return folder


def nan_model(folder: Path) -> Path:
    """The toy base with one NaN in its embedding (every logit turns NaN)."""
    from safetensors.torch import load_file, save_file

    copy_model(BASE, folder)
    weights = load_file(folder / "model.safetensors")
    weights["model.embed_tokens.weight"][:, 0] = float("nan")
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


# ---- 7: models that load but are wrong ----


def test_a_prm_folder_given_as_the_policy_is_one_line_before_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "samples"
    code, lines = status(lambda: cli.main(sample(PRM, out)), capsys)
    assert code == BAD_INPUT_STATUS, lines
    assert lines == [
        f"ttc sample: lm.model: {PRM} is a PRM folder (prm_format.json), not a policy or other language "
        "model: give it as a verifier's path"
    ]
    assert not out.exists()  # refused before the shard was claimed
    with pytest.raises(ConfigError, match="PRM folder"):  # whoever loads an LM, not only the stages
        load_lm(LMConfig(model=str(PRM)))
    assert check_model(str(PRM), "prm.path") == PRM  # as a verifier it is what it should be


def test_llama_weights_under_another_model_type_are_refused(tmp_path):
    folder = copy_model(BASE, tmp_path / "bert", model_type="bert")
    for lm in (True, False):  # whatever the role: they would load as a BERT, every weight unexpected
        with pytest.raises(
            ConfigError,
            match=f"model: {folder}/config.json: architecture LlamaForCausalLM is of "
            "model_type llama, but the config says model_type 'bert'",
        ):
            check_model(str(folder), "model", lm=lm)


def test_an_lm_needs_a_causal_lm_architecture(tmp_path):
    classifier = copy_model(BASE, tmp_path / "cls", architectures=["LlamaForSequenceClassification"])
    with pytest.raises(
        ConfigError,
        match="architecture LlamaForSequenceClassification is not a causal LM "
        r"\(expected e.g. LlamaForCausalLM\)",
    ):
        check_model(str(classifier), "lm.model", lm=True)
    assert check_model(str(classifier), "prm.path") == classifier  # a scorer may be one
    encoder = copy_model(BASE, tmp_path / "t5", model_type="t5", architectures=[])
    with pytest.raises(ConfigError, match="model_type 't5' has no causal LM in transformers"):
        check_model(str(encoder), "lm.model", lm=True)
    custom = copy_model(BASE, tmp_path / "custom", model_type="mine", architectures=["MyLM"], auto_map={"x": "y"})
    assert check_model(str(custom), "prm.path") == custom  # its own code: left to its loader


def cut(file: Path) -> None:
    file.write_bytes(file.read_bytes()[:-1000])


def bad_length(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes((1 << 40).to_bytes(8, "little") + data[8:])


def bad_header(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[8:12] = b"}}}}"
    file.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "corrupt, problem",
    [
        (cut, r"cut safetensors file \(\d+ bytes; its header says \d+\)"),
        (bad_length, r"corrupt or cut safetensors file \(its header says 1099511627776 bytes; the file has \d+\)"),
        (bad_header, r"corrupt safetensors header \(JSONDecodeError"),
    ],
)
def test_a_corrupt_safetensors_file_is_one_line_naming_it(tmp_path, capsys, monkeypatch, corrupt, problem):
    monkeypatch.chdir(REPO)
    folder = copy_model(BASE, tmp_path / "model")
    corrupt(folder / "model.safetensors")
    code, lines = status(lambda: cli.main(sample(folder, tmp_path / "out")), capsys)
    assert code == BAD_INPUT_STATUS and len(lines) == 1, lines
    assert lines[0].startswith(f"ttc sample: lm.model: {folder}/model.safetensors: ")
    assert re.search(problem, lines[0]) and lines[0].endswith("copy the model folder again")


def test_a_sharded_model_missing_a_shard_is_named(tmp_path):
    folder = copy_model(BASE, tmp_path / "model")
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "model.safetensors", "b": "model-00002-of-00002.safetensors"}})
    )
    with pytest.raises(ConfigError, match="names shards that are missing: model-00002-of-00002.safetensors"):
        check_model(str(folder))


def test_nan_weights_on_hf_are_one_line_naming_the_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    folder = nan_model(tmp_path / "nan")
    code, lines = status(lambda: cli.main(sample(folder, tmp_path / "out")), capsys)
    assert code == BAD_INPUT_STATUS, lines
    assert [line for line in lines if line.startswith("ttc")] == [
        f"ttc sample: model: {folder}: the weights give non-finite logits (NaN/Inf weights?): copy or retrain the model"
    ]
    assert cast("HFBackend", load_lm(LMConfig(model=str(BASE)))).finite_logits()  # sound weights pass the probe


def test_nan_weights_on_vllm_are_one_line_not_empty_samples(tmp_path):
    """One vLLM engine, started in a process of its own (vLLM spawns its workers)."""
    pytest.importorskip("vllm")
    folder = nan_model(tmp_path / "nan")
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "ttc.pipeline.cli", *sample(folder, out, "vllm")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == BAD_INPUT_STATUS, run.stderr[-3000:]
    assert run.stderr.splitlines()[-1] == (
        f"ttc sample: model: {folder}: the weights give non-finite logits (NaN/Inf weights?): copy or retrain the model"
    )
    assert not list(out.glob("samples*.jsonl"))  # no stage of empty samples


# ---- 8: faults that used to be tracebacks ----


def test_ctrl_c_is_one_line_and_status_130(capsys):
    def interrupted():
        raise KeyboardInterrupt

    try:
        code, lines = status(lambda: run_cli("ttc sample", interrupted), capsys)
    except KeyboardInterrupt:  # would end pytest itself
        pytest.fail("Ctrl-C escaped run_cli")
    assert (code, lines) == (INTERRUPTED_STATUS, ["ttc sample: interrupted"])


def test_a_real_sigint_is_one_line_and_status_130():
    script = (
        "import time; from data.config import run_cli\n"
        "run_cli('ttc x', lambda: (print('ready', flush=True), time.sleep(60)))"
    )
    # as from a terminal: a job started in the background (CI's, nohup's) begins with SIGINT ignored
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert (child.returncode, err.splitlines()) == (130, ["ttc x: interrupted"])


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError(
            "[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file data/0: "
            "file write failed"
        ),
        RuntimeError("basic_ios::clear: iostream error"),
    ],
)
def test_a_trainer_save_that_fails_is_a_retryable_line_naming_the_folder(tmp_path, capsys, error):
    from dataclasses import dataclass

    from train.arguments import save_faults

    @dataclass
    class Cfg:
        output_dir: str

    @save_faults
    def main(cfg):
        raise error

    out = tmp_path / "prm"
    status_code, lines = status(lambda: run_cli("train.prm", lambda: main(Cfg(str(out)))), capsys)
    assert status_code == RETRY_STATUS and len(lines) == 1, lines
    assert lines[0].startswith(f"train.prm: {out}: writing failed: ") and "retry once it is fixed" in lines[0]

    @save_faults
    def buggy(cfg):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes"):  # a bug stays a bug
        buggy(Cfg(str(out)))


@pytest.fixture
def small_disk(tmp_path):
    """A mounted 256 KiB tmpfs: room for the labels, not for a checkpoint (needs the right to mount)."""
    with tmpfs(tmp_path / "disk", "256k") as disk:
        yield disk


def test_a_trainer_on_a_full_disk_names_its_folder_and_status_75(small_disk, capsys):
    from tests.support.runs import synthetic_labels, train_tiny_prm

    code, lines = status(
        lambda: run_cli("train.prm", lambda: train_tiny_prm(small_disk, BASE, synthetic_labels(8))), capsys
    )
    lines = [line for line in lines if line.startswith("train.prm")]  # after the loading and progress bars
    assert code == RETRY_STATUS and len(lines) == 1, lines
    print(lines[0])
    assert lines[0].startswith(f"train.prm: {small_disk}/out") and "No space left on device" in lines[0]
    assert lines[0].endswith("(a fault of this machine, not of the input: retry once there is room)")
