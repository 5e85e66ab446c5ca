"""PRM training beyond one plain process: LoRA (merged on save), DeepSpeed ZeRO-2 and ZeRO-3
under torchrun with 2 CPU processes (gloo), and DeepSpeed in one process with no launcher, all
real runs on the toy base model.

The first DeepSpeed run on a machine compiles its shared-memory comm op (1.5-4 min), cached
in ~/.cache/torch_extensions; after that each run takes under a minute on a busy 2-core CPU.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from data import toy
from data.config import parse_config
from data.records import StepLabels, to_json, write_atomic
from tests.support.runs import REPO
from train import prm
from ttc.verifiers import aggregate
from ttc.verifiers.hf_prm import HFPRM

TIMEOUT_S = 900  # a first compile under load, with room to spare


def labels(first: int, n: int) -> list[StepLabels]:
    """Toy solutions, each reference (all steps good) paired with one wrong from its first step."""
    records = []
    for i in range(first, first + n):
        problem = toy.generate(3, i, seed="prm-dist")
        question, steps = problem.question, toy.solve(problem.expression)
        records.append(StepLabels(f"q{i}", 0, question, steps, [1.0] * len(steps), [4] * (len(steps) - 1) + [0]))
        wrong = [steps[0] + "1"] + steps[1:]
        records.append(StepLabels(f"q{i}", 1, question, wrong, [0.0] * len(wrong), [4] * (len(wrong) - 1) + [0]))
    return records


UNSEEN = labels(40, 8)  # questions no run trains on


@pytest.fixture(scope="module")
def labels_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("labels") / "labels.jsonl"
    write_atomic(path, [to_json(r) for r in labels(0, 40)])
    return path


def recipe(tmp: Path, model: Path, labels_file: Path, **overrides) -> Path:
    """A recipe file; global batch 16, at a learning rate for a tiny model trained from scratch."""
    values = dict(
        model=str(model),
        labels_file=str(labels_file),
        output_dir=str(tmp / "out"),
        learning_rate=3e-3,
        batch_size=16,
        per_device_batch_size=8,
        num_epochs=6,
        eval_every=10,
    )
    values.update(overrides)
    (tmp / "recipe.yaml").write_text(yaml.safe_dump(values))
    return tmp / "recipe.yaml"


def scores(out: Path) -> tuple[list[float], list[float]]:
    """Last-step PRM values of the unseen good and bad solutions."""
    values = HFPRM(str(out)).score([r.question for r in UNSEEN], [r.steps for r in UNSEEN])
    assert all(0.0 <= v <= 1.0 for vs in values for v in vs)
    assert [len(v) for v in values] == [len(r.steps) for r in UNSEEN]
    last = [aggregate(v, "last") for v in values]
    return last[0::2], last[1::2]


def changed_tensors(base: Path, out: Path) -> list[str]:
    a, b = load_file(str(base / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert set(a) <= set(b) and not any("lora" in k for k in b)  # a plain checkpoint, adapter merged
    return [k for k in a if not torch.equal(a[k].float(), b[k].float())]


def torchrun(recipe: Path, stage: int) -> Path:
    """`torchrun --nproc_per_node 2 -m train.prm --config <recipe> --trainer.deepspeed <zero json>`."""
    tmp = recipe.parent
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "train.prm",
        "--config",
        str(recipe),
        "--trainer.deepspeed",
        f"configs/deepspeed/zero{stage}.json",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(tmp / "log.txt", "w") as log:
        # A session of its own, so that a timeout ends the workers too.
        run = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = run.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            pytest.fail(
                f"ZeRO-{stage} run passed {TIMEOUT_S} s (log: {tmp / 'log.txt'}); a compile killed "
                "earlier leaves a `lock` in ~/.cache/torch_extensions/*/deepspeed_shm_comm that every "
                "later run waits on: delete it"
            )
    assert code == 0, (tmp / "log.txt").read_text()[-5000:]
    return tmp / "out"


@pytest.fixture(scope="module")
def zero2_prm(tmp_path_factory, toy_base_path, labels_file) -> Path:
    return torchrun(recipe(tmp_path_factory.mktemp("zero2"), toy_base_path, labels_file), stage=2)


@pytest.fixture(scope="module")
def zero3_prm(tmp_path_factory, toy_base_path, labels_file) -> Path:
    return torchrun(recipe(tmp_path_factory.mktemp("zero3"), toy_base_path, labels_file), stage=3)


def test_lora_training_merges_into_a_loadable_prm(tmp_path, toy_base_path, labels_file):
    path = recipe(tmp_path, toy_base_path, labels_file, lora={"enabled": True}, num_epochs=2)
    out = prm.main(parse_config(prm.PRMTrainConfig, ["--config", str(path), "--per_device_batch_size", "16"]))
    changed = changed_tensors(toy_base_path, out)
    # all-linear LoRA moves every projection and nothing else (embeddings, norms).
    assert changed and all(k.endswith("_proj.weight") for k in changed)
    assert len(changed) == 7 * 4  # q, k, v, o, gate, up, down in each of the 4 layers
    scores(out)


def test_zero2_trains_a_loadable_prm(zero2_prm, toy_base_path):
    assert changed_tensors(toy_base_path, zero2_prm)
    good, bad = scores(zero2_prm)
    assert sum(good) / len(good) > sum(bad) / len(bad) + 0.2


def test_zero3_trains_the_same_model_as_zero2(zero3_prm, zero2_prm):
    # ZeRO-3 shards the weights as well, yet computes the same updates: save_model gathers them.
    a, b = load_file(str(zero2_prm / "model.safetensors")), load_file(str(zero3_prm / "model.safetensors"))
    for name, tensor in b.items():  # ZeRO-2's copy also holds the tied lm_head, equal to the embeddings
        assert a[name].shape == tensor.shape and torch.allclose(a[name].float(), tensor.float(), atol=1e-3), name
    scores(zero3_prm)


def test_zero3_lora_gathers_and_merges_the_adapter(tmp_path, toy_base_path, labels_file):
    out = torchrun(recipe(tmp_path, toy_base_path, labels_file, lora={"enabled": True}, num_epochs=2), stage=3)
    assert len(changed_tensors(toy_base_path, out)) == 7 * 4
    scores(out)


TWICE = """
import os, sys
from data.config import parse_config
from train import prm
for out in sys.argv[2:]:
    prm.main(parse_config(prm.PRMTrainConfig, ["--config", sys.argv[1], "--output_dir", out,
                                               "--trainer.deepspeed", "configs/deepspeed/zero2.json"]))
    assert "RANK" not in os.environ  # the next stage of the process sees no launcher
"""


def test_deepspeed_runs_without_a_launcher_twice_in_one_process(tmp_path, toy_base_path, labels_file):
    """`python -m train.prm` or a one-process `ttc pipeline` (the PRM, then the ORM) with DeepSpeed
    and no torchrun: DeepSpeed looked for its ranks through MPI (`No module named 'mpi4py'`)."""
    path = recipe(tmp_path, toy_base_path, labels_file, num_epochs=1)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    outs = [str(tmp_path / "prm"), str(tmp_path / "orm")]
    run = subprocess.run(
        [sys.executable, "-c", TWICE, str(path), *outs],
        cwd=REPO,
        env={**env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    for out in outs:
        assert json.loads((Path(out) / "training_args.json").read_text())["deepspeed"] == "configs/deepspeed/zero2.json"
        scores(Path(out))


def test_a_batch_the_processes_cannot_share_evenly_is_refused(tmp_path, toy_base_path, labels_file, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")  # 16 = 8 per device x 3 processes x ? accumulation steps
    with pytest.raises(ValueError, match="not a multiple of per_device_batch_size 8 x 3 processes"):
        prm.main(parse_config(prm.PRMTrainConfig, ["--config", str(recipe(tmp_path, toy_base_path, labels_file))]))
