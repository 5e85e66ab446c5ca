"""A trainer preempted while saving a checkpoint resumes from the newest whole one, not fails on
the cut one forever (transformers writes `trainer_state.json` last)."""

import json
import logging
import os
import signal
from pathlib import Path

from transformers.trainer_callback import TrainerState

from data.records import to_json, write_atomic
from tests.support.runs import synthetic_labels
from train import prm
from train.arguments import last_checkpoint


def checkpoint(folder: Path, step: int, state: str | None) -> Path:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"weights")
    if state is not None:
        (path / "trainer_state.json").write_text(state)
    return path


def test_the_newest_whole_checkpoint_is_resumed_and_the_cut_ones_removed(tmp_path, caplog):
    whole = checkpoint(tmp_path, 5, json.dumps({"global_step": 5}))
    checkpoint(tmp_path, 40, json.dumps({"global_step": 40}))
    cut = [checkpoint(tmp_path, 45, None), checkpoint(tmp_path, 50, '{"global_st')]  # killed mid-save
    (tmp_path / "checkpoint-x").mkdir()
    with caplog.at_level(logging.WARNING):
        assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-40")  # 40 sorts after 5 by step
    assert not any(p.exists() for p in cut) and whole.exists()
    assert all(f"checkpoint-{s}: its save never finished" in caplog.text for s in (45, 50))
    assert last_checkpoint(tmp_path / "absent") is None


def test_a_sigterm_inside_a_checkpoint_save_then_a_rerun_finishes(tmp_path, toy_base_path):
    write_atomic(tmp_path / "labels.jsonl", [to_json(r) for r in synthetic_labels(40)])
    cfg = prm.PRMTrainConfig(
        model=str(toy_base_path),
        labels_file=str(tmp_path / "labels.jsonl"),
        output_dir=str(tmp_path / "out"),
        learning_rate=3e-3,
        batch_size=16,
        per_device_batch_size=16,
        num_epochs=4,
        eval_every=2,
    )
    pid = os.fork()
    if pid == 0:  # the preempted run: Slurm's SIGTERM lands while checkpoint-4 is being written
        save = TrainerState.save_to_json

        def preempted(self: TrainerState, json_path: str) -> None:
            if "checkpoint-4" in str(json_path):
                os.kill(os.getpid(), signal.SIGTERM)
            save(self, json_path)

        TrainerState.save_to_json = preempted
        try:
            prm.main(cfg)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    checkpoints = tmp_path / "out" / "checkpoints"
    assert (checkpoints / "checkpoint-2" / "trainer_state.json").exists()
    assert not (checkpoints / "checkpoint-4" / "trainer_state.json").exists()  # the cut save
    prm.main(cfg)  # the requeued job
    state = json.loads((checkpoints / last_checkpoint(checkpoints) / "trainer_state.json").read_text())
    assert state["global_step"] > 4 and (tmp_path / "out" / "model.safetensors").exists()
