"""Revision SFT (TRL's SFTTrainer, loss on the target only) on the toy base model."""

import json
from collections.abc import Iterable
from typing import Any, cast

import pytest
import torch
from safetensors.torch import load_file
from transformers import PreTrainedTokenizerBase

from data import toy
from data.config import ConfigError
from data.prompts import PromptFormat
from data.records import RecordError, Trajectory, to_json, write_atomic
from data.revision_format import revision_prompt
from train import revision
from train.prm import LoraSettings
from ttc.lm import GenerationRequest
from ttc.lm.spec import LMConfig, load_lm


def toy_trajectories(n: int) -> list[Trajectory]:
    """Per question: the reference solution after 0, 1 and 2 wrong attempts (last answer off by one)."""
    records = []
    for i in range(n):
        p = toy.generate(2, i, seed="revision-test")
        steps = toy.solve(p.expression)
        wrong = ["\n".join(steps[:-1] + [f"\\boxed{{{p.answer + d}}}"]) for d in (3, 1)]
        for k in range(3):
            records.append(
                Trajectory(f"q{i}", k, p.question, wrong[2 - k :], list(range(10, 10 + k)), "\n".join(steps))
            )
    return records


def config(tmp_path, base, **overrides) -> revision.RevisionTrainConfig:
    write_atomic(tmp_path / "t.jsonl", [to_json(t) for t in toy_trajectories(16)])
    settings = dict(
        model=str(base),
        trajectories_file=str(tmp_path / "t.jsonl"),
        output_dir=str(tmp_path / "out"),
        val_fraction=0.25,
        learning_rate=3e-3,
        batch_size=8,
        per_device_batch_size=8,
        num_epochs=2,
        eval_every=2,
        patience=None,
    )
    return revision.RevisionTrainConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, toy_base_path):
    cfg = config(tmp_path_factory.mktemp("revision"), toy_base_path)
    return revision.main(cfg), cfg


def test_loss_is_on_the_target_only(tmp_path, toy_base_path):
    cfg = config(tmp_path, toy_base_path)
    trainer = revision.build_trainer(cfg)
    tokenizer = cast(PreTrainedTokenizerBase, trainer.processing_class)
    dataset = cast("Iterable[dict[str, Any]]", trainer.train_dataset)  # the tokenized SFT examples (a Dataset)
    train, _ = revision.load_splits(cfg)
    for t, example in zip(train, dataset):
        prompt = tokenizer(revision_prompt(PromptFormat(), t.question, t.previous).text)["input_ids"]
        ids, labels = example["input_ids"], example["labels"]
        assert ids[: len(prompt)] == prompt and labels[: len(prompt)] == [-100] * len(prompt)
        assert labels[len(prompt) :] == ids[len(prompt) :]  # every target token, EOS included
        assert tokenizer.decode(ids[len(prompt) :]) == t.target + cast(str, tokenizer.eos_token)
    assert any(tokenizer.decode(e["input_ids"]).count("Problem: ") == 3 for e in dataset)  # 2 attempts


def test_prompts_are_fitted_to_max_length_as_chains_fit_the_reviser(tmp_path, toy_base_path):
    """A max_length that holds the target and one attempt: the oldest attempt is dropped, as in
    chains, instead of the whole trajectory; a question and target that alone overflow are dropped."""
    cfg = config(tmp_path, toy_base_path)
    tokenizer = revision.AutoTokenizer.from_pretrained(cfg.model)
    t = toy_trajectories(1)[2]  # two attempts
    target = len(tokenizer(t.target, add_special_tokens=False)["input_ids"]) + 1
    one = revision_prompt(cfg.prompt, t.question, t.previous[-1:]).text
    fitted = revision.RevisionTrainConfig(**{**vars(cfg), "max_length": len(tokenizer(one)["input_ids"]) + target})
    assert revision.to_dataset([t], fitted, tokenizer)["prompt"] == [one]  # the attempt closest to the target kept
    assert (
        len(revision.to_dataset([t], revision.RevisionTrainConfig(**{**vars(cfg), "max_length": target}), tokenizer))
        == 0
    )


def test_training_writes_the_chosen_checkpoint_as_a_loadable_model(trained, toy_base_path):
    out, cfg = trained
    record = json.loads((out / revision.CHECKPOINTS_FILE).read_text())
    table = record["checkpoints"]
    assert [row["step"] for row in table] == [2, 4, 6, 8, 10] and all(row["path"] for row in table)
    assert record["rule"] == "past_min" and record["chosen"] == revision.choose_checkpoint(table, "past_min")["step"]
    history = json.loads((out / "log_history.json").read_text())
    assert history["chosen_step"] == record["chosen"] and sum("eval_loss" in h for h in history["log_history"]) == 5
    assert json.loads((out / "training_args.json").read_text())["adam_beta2"] == 0.95
    chosen = load_file(f"{out}/checkpoints/checkpoint-{record['chosen']}/model.safetensors")
    exported, base = load_file(str(out / "model.safetensors")), load_file(str(toy_base_path / "model.safetensors"))
    assert all(torch.equal(chosen[k], exported[k]) for k in exported)
    assert any(not torch.equal(base[k].float(), exported[k]) for k in exported)  # it trained
    lm = load_lm(LMConfig(model=str(out), backend="hf"))
    t = toy_trajectories(20)[-1]  # a question it never saw, after two wrong attempts
    [[completion]] = lm.generate(
        [GenerationRequest(revision_prompt(cfg.prompt, t.question, t.previous).text, max_tokens=64)]
    )
    assert completion.text and completion.finish_reason in ("eos", "length")


def test_lora_run_exports_a_merged_plain_checkpoint(tmp_path, toy_base_path):
    out = revision.main(
        config(tmp_path, toy_base_path, lora=LoraSettings(enabled=True, r=4, alpha=8), num_epochs=1, choose="min")
    )
    exported, base = load_file(str(out / "model.safetensors")), load_file(str(toy_base_path / "model.safetensors"))
    assert set(exported) == set(base)  # no adapter weights left: merged
    assert any(not torch.equal(base[k].float(), exported[k]) for k in base)
    assert json.loads((out / revision.CHECKPOINTS_FILE).read_text())["rule"] == "min"


def test_checkpoint_rules():
    table = [{"step": s, "eval_loss": v, "path": f"c{s}"} for s, v in [(10, 0.9), (20, 0.5), (30, 0.6), (40, 0.7)]]
    assert revision.choose_checkpoint(table, "min")["step"] == 20
    assert revision.choose_checkpoint(table, "past_min")["step"] == 30
    table[2]["path"] = None  # not kept: the next kept one after the minimum
    assert revision.choose_checkpoint(table, "past_min")["step"] == 40
    assert revision.choose_checkpoint(table[:2], "past_min")["step"] == 20  # stopped at the minimum


@pytest.mark.parametrize(
    "change, message",
    [
        ({"target": " "}, r"t.jsonl:2: field 'target' is empty"),
        ({"previous_indices": [1, 2, 3]}, r"t.jsonl:2: field 'previous_indices' has 3 entries for 0"),
        ({"previous": "=1"}, r"t.jsonl:2: field 'previous'"),
    ],
)
def test_bad_trajectories_name_file_line_and_field(tmp_path, toy_base_path, change, message):
    cfg = config(tmp_path, toy_base_path)
    lines = (tmp_path / "t.jsonl").read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[0]), **change})
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=message):
        revision.load_splits(cfg)


def test_unknown_trainer_argument_is_a_config_error(tmp_path, toy_base_path):
    with pytest.raises(ConfigError, match="trainer: .*warmup_ratoi"):
        revision.build_trainer(config(tmp_path, toy_base_path, trainer={"warmup_ratoi": 0.1}))
