"""Helpers of the end-to-end tests: the demo recipe at tiny sizes (`TINY`, every model trained in the
run on the hf backends: seconds a stage), tiny trained PRMs, a real small disk, a pre-empted job."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "--retrain",
    "--base.backend",
    "hf",
    "--reviser.backend",
    "hf",
    "--train_data.per_level",
    "2",
    "--test_data.per_level",
    "2",
    "--stages.sample_train.sampling.n",
    "4",
    "--stages.label.rollouts.k",
    "4",
    "--stages.sample_trajectories.sampling.n",
    "8",
    "--stages.sample_test.sampling.n",
    "8",
    "--stages.train_prm.eval_every",
    "1",
    "--stages.eval_search.max_budget",
    "4",
    "--stages.train_reviser.eval_every",
    "1",
    "--stages.chains_train.chains",
    "2",
    "--stages.chains_train.length",
    "2",
    "--stages.train_orm.eval_every",
    "1",
    "--stages.chains_test.chains",
    "2",
    "--stages.chains_test.length",
    "2",
    "--stages.eval_revision.budget",
    "2",
    "--stages.eval_prm.max_n",
    "8",
    "--stages.bench_prm.min_per_kind",
    "1",
    "--stages.eval_revision_grid.max_budget",
    "2",
    "--stages.policy.budgets",
    "[2, 4]",
]


class Interrupted(Exception):
    """Raised by `dies_after_first_call` where a pre-empted job would have been killed."""


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
        model=str(base),
        labels_file=str(folder / "labels.jsonl"),
        output_dir=str(folder / "out"),
        learning_rate=3e-3,
        batch_size=16,
        per_device_batch_size=16,
        num_epochs=6,
        eval_every=10,
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
