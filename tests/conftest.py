"""Shared fixtures: the committed toy base model and both LM backends on it, started once.

`TTC_TOY_MODEL=/path/to/model` points the fixtures at another save_pretrained folder of the
same format (e.g. a short training run while the committed model is being retrained).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

# Set before transformers, tokenizers or vLLM are imported: no network, no thread oversubscription.
os.environ.update(TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")

import pytest
import torch

from ttc.lm.spec import LMConfig, load_lm
from ttc.lm import LMBase

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
TOY_BASE = REPO / "train" / "checkpoints" / "toy-base"
# A test is `e2e` when it runs a real model, engine, trainer or subprocess: it is marked so, or uses
# one of these fixtures, or is `slow`; every other test is `unit` (`pytest -m unit`: the fast loop).
HEAVY_FIXTURES = frozenset({"toy_base_path", "hf_lm", "vllm_lm", "vllm_toy_prm", "dies_after_first_call"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("e2e") or item.get_closest_marker("unit"):
            continue
        heavy = item.get_closest_marker("slow") or HEAVY_FIXTURES & set(getattr(item, "fixturenames", ()))
        item.add_marker(pytest.mark.e2e if heavy else pytest.mark.unit)


@pytest.fixture(scope="session")
def toy_base_path() -> Path:
    path = Path(os.environ.get("TTC_TOY_MODEL", TOY_BASE))
    if not (path / "config.json").is_file():
        pytest.fail(f"no toy model at {path}: train it (python -m train.toy_lm --config "
                    "configs/toy/lm_base.yaml) or set TTC_TOY_MODEL")
    return path


@pytest.fixture(scope="session")
def hf_lm(toy_base_path: Path):
    return load_lm(LMConfig(model=str(toy_base_path), backend="hf", dtype="float32", threads=1))


@pytest.fixture(scope="session")
def vllm_lm(toy_base_path: Path) -> Iterator:
    # fp32 like hf_lm, so that greedy completions match token for token.
    lm = load_lm(LMConfig(model=str(toy_base_path), backend="vllm", dtype="float32"))
    yield lm
    lm.close()


@pytest.fixture(scope="session")
def vllm_toy_prm() -> Iterator:
    """The committed toy PRM on vLLM (fp32 on CPU)."""
    from data.prompts import PromptFormat
    from ttc.verifiers.spec import VerifierConfig, load_verifier

    prm = load_verifier(VerifierConfig(path=str(REPO / "train/checkpoints/toy-prm"), backend="vllm"), PromptFormat())
    yield prm
    prm.close()


class Interrupted(Exception):
    """Raised by `dies_after_first_call` where a pre-empted job would have been killed."""


class _DiesAfterFirstCall(LMBase):  # the base: no chat template
    def __init__(self, lm):
        self.lm, self.ledger, self.calls = lm, lm.ledger, 0

    def generate(self, requests):
        self.calls += 1
        if self.calls > 1:
            raise Interrupted
        return self.lm.generate(requests)


@pytest.fixture
def dies_after_first_call():
    """Wraps a real LM so that its second call is a kill: for resume tests."""
    return _DiesAfterFirstCall


def synthetic_labels(n: int) -> list:
    """Reference toy solutions (all steps good) and ones with a wrong first step (bad from there on)."""
    from data import toy
    from data.records import StepLabels

    records = []
    for i in range(n):
        p = toy.generate(3, i, seed="prm-test")
        steps = toy.solve(p.expression)
        records.append(StepLabels(f"q{i}", 0, p.question, steps, [1.0] * len(steps), [4] * (len(steps) - 1) + [0]))
        wrong = [steps[0] + "1"] + steps[1:]
        records.append(StepLabels(f"q{i}", 1, p.question, wrong, [0.0] * len(wrong), [4] * (len(wrong) - 1) + [0]))
    return records


def train_tiny_prm(folder: Path, base: Path, labels: list) -> Path:
    """A PRM fine-tuned from `base` on `labels` in seconds (lr 3e-3, 6 epochs)."""
    from data.records import to_json, write_atomic
    from train import prm

    write_atomic(folder / "labels.jsonl", [to_json(r) for r in labels])
    cfg = prm.PRMTrainConfig(
        model=str(base), labels_file=str(folder / "labels.jsonl"), output_dir=str(folder / "out"),
        learning_rate=3e-3, batch_size=16, per_device_batch_size=16, num_epochs=6, eval_every=10,
    )
    return prm.main(cfg)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A real small disk: a tmpfs of `size` mounted on `folder` (made here) for the block; the test
    is skipped where mounting is not allowed. Unmounted lazily: a failed command may hold a file."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
