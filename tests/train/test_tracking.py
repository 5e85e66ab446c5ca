"""Training runs one can watch: recipe/CLI overrides of any TrainingArguments field over the
defaults, TensorBoard event files, training_args.json, log_history.json and its curve plot."""

import json
import logging

import pytest
import yaml
from transformers import TrainingArguments
from trl.trainer.sft_config import SFTConfig

from data.config import ConfigError, parse_config
from data.records import to_json, write_atomic
from tests.support.runs import synthetic_labels
from train import arguments, prm, revision, toy_lm
from train import curves as training_curves

pytestmark = pytest.mark.e2e  # real trainers


@pytest.fixture(scope="module")
def watched_prm(tmp_path_factory, toy_base_path):
    """A toy PRM run from a recipe with `trainer:` overrides and more of them on the command line."""
    folder = tmp_path_factory.mktemp("watched")
    write_atomic(folder / "labels.jsonl", [to_json(r) for r in synthetic_labels(12)])
    recipe = dict(
        model=str(toy_base_path),
        labels_file=str(folder / "labels.jsonl"),
        output_dir=str(folder / "out"),
        learning_rate=3e-3,
        batch_size=8,
        per_device_batch_size=8,
        num_epochs=2,
        eval_every=2,
        select_by="within_question_auc",
        trainer={"save_total_limit": 1, "adam_beta2": 0.99, "seed": 7},
    )
    (folder / "prm.yaml").write_text(yaml.safe_dump(recipe))
    cfg = parse_config(
        prm.PRMTrainConfig,
        ["--config", str(folder / "prm.yaml"), "--trainer.report_to", "tensorboard", "--trainer.logging_steps", "1"],
    )
    return prm.main(cfg)


def test_recipe_and_command_line_override_the_defaults(watched_prm):
    args = json.loads((watched_prm / "training_args.json").read_text())
    assert args["report_to"] == ["tensorboard"] and args["save_total_limit"] == 1 and args["adam_beta2"] == 0.99
    assert args["seed"] == 7 and args["logging_steps"] == 1  # the command line merged with the recipe's trainer:
    assert args["adam_beta1"] == 0.9 and args["metric_for_best_model"] == "eval_within_question_auc"  # defaults kept
    assert args["run_name"] == f"prm:{watched_prm.parent.name}/out"


def test_tensorboard_events_hold_the_train_loss(watched_prm):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    [events] = {p.parent for p in (watched_prm / "checkpoints" / "runs").rglob("events.out.tfevents.*")}
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    assert {"train/loss", "eval/loss", "eval/within_question_auc"} <= set(accumulator.Tags()["scalars"])
    assert len(accumulator.Scalars("train/loss")) >= 4  # logging_steps 1 from the command line


def test_log_history_keeps_losses_metrics_and_the_kept_checkpoint(watched_prm):
    record = json.loads((watched_prm / arguments.LOG_HISTORY_FILE).read_text())
    history = record["log_history"]
    aucs = {h["step"]: h["eval_within_question_auc"] for h in history if "eval_within_question_auc" in h}
    assert any("loss" in h for h in history)
    assert all("eval_loss" in h for h in history if "eval_within_question_auc" in h)
    assert record["best_metric"] == max(aucs.values()) and aucs[record["chosen_step"]] == record["best_metric"]
    assert record["best_model_checkpoint"].endswith(f"checkpoint-{record['chosen_step']}")


def test_training_curve_plot_and_summary(watched_prm, tmp_path):
    png = training_curves.plot(watched_prm / arguments.LOG_HISTORY_FILE, tmp_path / "curves.png", "toy PRM")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    line = training_curves.summary(watched_prm / arguments.LOG_HISTORY_FILE)
    assert "\n" not in line and line.startswith("kept step ") and "within_question_auc" in line


def all_defaults_overridden(defaults: dict) -> dict:
    """Every default given again under `trainer:` (a different value where that is harmless)."""
    return {**defaults, "seed": 3, "logging_steps": 2, "adam_beta2": 0.98, "save_total_limit": 4, "report_to": "none"}


@pytest.mark.parametrize(
    "cls, defaults, make",
    [
        (
            TrainingArguments,
            prm.prm_arguments,
            lambda t: prm.PRMTrainConfig(model="m", labels_file="l", output_dir=str(t), trainer={}),
        ),
        (
            SFTConfig,
            revision.sft_arguments,
            lambda t: revision.RevisionTrainConfig(model="m", trajectories_file="t", output_dir=str(t), patience=3),
        ),
    ],
)
def test_every_default_of_the_paper_trainers_can_be_overridden(tmp_path, cls, defaults, make):
    cfg = make(tmp_path)
    cfg.trainer = all_defaults_overridden(defaults(cfg, tmp_path, 1))
    args = arguments.launch_arguments(cls, defaults, cfg, tmp_path, "test")
    assert (args.seed, args.logging_steps, args.adam_beta2, args.save_total_limit) == (3, 2, 0.98, 4)
    assert args.report_to == []
    assert json.loads((tmp_path / "training_args.json").read_text())["adam_beta2"] == 0.98


def test_every_default_of_the_toy_lm_can_be_overridden(tmp_path):
    cfg = toy_lm.ToyLMConfig(output_dir=str(tmp_path))
    overrides = all_defaults_overridden(toy_lm.toy_arguments(cfg, tmp_path))
    args = arguments.trainer_arguments(
        TrainingArguments, toy_lm.toy_arguments(cfg, tmp_path), overrides, tmp_path, "toy_lm"
    )
    assert (args.seed, args.adam_beta2, args.report_to) == (3, 0.98, [])


def test_leaving_the_paper_optimiser_is_logged_once(tmp_path, caplog):
    cfg = prm.PRMTrainConfig(
        model="m",
        labels_file="l",
        output_dir=str(tmp_path),
        trainer={"adam_beta2": 0.999, "optim": "adafactor", "seed": 1},
    )
    with caplog.at_level(logging.WARNING, logger="train.arguments"):
        arguments.launch_arguments(TrainingArguments, prm.prm_arguments, cfg, tmp_path, "prm")
    [warning] = [r.getMessage() for r in caplog.records if r.name == "train.arguments"]
    assert "adam_beta2=0.999 (paper: 0.95)" in warning and "optim=adafactor" in warning and "seed" not in warning


def test_an_unknown_tracker_is_a_config_error(tmp_path):
    cfg = prm.PRMTrainConfig(model="m", labels_file="l", output_dir=str(tmp_path), trainer={"report_to": "tensorbord"})
    with pytest.raises(ConfigError, match=r"report_to \['tensorbord'\]: not installed"):
        arguments.launch_arguments(TrainingArguments, prm.prm_arguments, cfg, tmp_path, "prm")


def test_toy_lm_writes_its_arguments_and_log_history(tmp_path):
    cfg = toy_lm.ToyLMConfig(
        output_dir=str(tmp_path / "lm"),
        hidden_size=16,
        num_layers=1,
        intermediate_size=32,
        max_steps=4,
        batch_size=2,
        warmup_steps=0,
        save_steps=4,
        logging_steps=1,
        save_dtype="float32",
        trainer={"report_to": "none", "seed": 5},
    )
    out = toy_lm.main(cfg)
    assert json.loads((out / "training_args.json").read_text())["seed"] == 5
    record = json.loads((out / arguments.LOG_HISTORY_FILE).read_text())
    assert record["chosen_step"] == record["global_step"] == 4 and sum("loss" in h for h in record["log_history"]) == 4
    assert training_curves.plot(out / arguments.LOG_HISTORY_FILE, tmp_path / "lm.png", "toy LM").is_file()
    assert training_curves.summary(out / arguments.LOG_HISTORY_FILE).startswith("kept step 4 of 4")
