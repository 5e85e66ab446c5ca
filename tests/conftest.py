"""Shared fixtures: the committed toy base model and both LM backends on it, started once.

`TTC_TOY_MODEL=/path/to/model` points the fixtures at another save_pretrained folder of the
same format (e.g. a short training run while the committed model is being retrained).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

# Set before transformers, tokenizers or vLLM are imported: no network, no thread oversubscription.
os.environ.update(TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")

import pytest
import torch

from tests.support.runs import REPO, Interrupted
from ttc.lm import LMBase
from ttc.lm.spec import LMConfig, load_lm

torch.set_num_threads(1)

TOY_BASE = REPO / "train" / "checkpoints" / "toy-base"
pytest_plugins = ["tests.support.standins"]  # its `standins` fixture: public PRM kinds at random weights
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
        pytest.fail(
            f"no toy model at {path}: train it (python -m train.toy_lm --config "
            "configs/toy/lm_base.yaml) or set TTC_TOY_MODEL"
        )
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
