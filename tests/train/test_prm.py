"""PRM training (soft labels) and our one-pass scorer, on the toy base model."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from data.config import ConfigError
from data.prm_format import FORMAT_FILE, PRMFormat, trained_aggregation, trained_prompt
from data.prompts import PromptFormat
from data.records import RecordError, StepLabels, to_json, write_atomic
from tests.support.runs import synthetic_labels, train_tiny_prm
from train import prm
from ttc.verifiers import aggregate
from ttc.verifiers.hf_prm import HFPRM
from ttc.verifiers.spec import VerifierConfig, default_aggregation, load_verifier


def test_soft_label_loss_is_bce_on_the_logit_difference():
    logits = torch.randn(2, 5, 10)
    values = torch.full((2, 5), prm.IGNORE)
    values[0, 1], values[1, 3] = 0.25, 1.0
    loss = prm.soft_label_loss(logits, values, good=4, bad=7)
    diff = torch.stack([logits[0, 1, 4] - logits[0, 1, 7], logits[1, 3, 4] - logits[1, 3, 7]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(diff, torch.tensor([0.25, 1.0]))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.fixture(scope="module")
def trained_prm(tmp_path_factory, toy_base_path):
    return train_tiny_prm(tmp_path_factory.mktemp("prm"), toy_base_path, synthetic_labels(40)), toy_base_path


def test_training_changes_the_model_and_learns_the_labels(trained_prm):
    out, base = trained_prm
    a, b = load_file(str(base / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert any(not torch.equal(a[k].float(), b[k].float()) for k in a)
    scorer = HFPRM(str(out))
    records = synthetic_labels(48)[80:]  # questions the PRM never saw
    values = scorer.score([r.question for r in records], [r.steps for r in records])
    assert all(0.0 <= v <= 1.0 for vs in values for v in vs)
    good = [aggregate(v, "last") for v, r in zip(values, records) if r.values[-1] == 1.0]
    bad = [aggregate(v, "last") for v, r in zip(values, records) if r.values[-1] == 0.0]
    assert sum(good) / len(good) > sum(bad) / len(bad) + 0.2
    assert scorer.forward_passes == len(records)  # one forward per solution, not per step


def test_the_training_prompt_is_recorded_beside_the_prm(trained_prm):
    out, _ = trained_prm
    recorded = json.loads((out / FORMAT_FILE).read_text())["prompt"]
    assert recorded == {
        "template": "Problem: {question}\nSolution:\n",
        "num_shots": 0,
        "chat_template": False,
        "system": PromptFormat().system,
    }  # no shots file: a zero-shot prompt reads none
    assert trained_prompt(out) == PromptFormat()


def test_the_prm_is_scored_on_its_training_prompt_whatever_the_policys(trained_prm):
    """Trained zero-shot, scored for a 4-shot policy: the PRM reads the input it learned, not the
    policy's ~10x longer prompt (before: other values, and the shots' tokens in the ledger)."""
    out, _ = trained_prm
    records = synthetic_labels(4)
    questions, steps = [r.question for r in records], [r.steps for r in records]
    zero_shot = load_verifier(VerifierConfig(path=str(out)), PromptFormat())
    four_shot = load_verifier(VerifierConfig(path=str(out)), PromptFormat(num_shots=4))
    assert four_shot.score(questions, steps) == zero_shot.score(questions, steps)
    assert four_shot.tokens_scored == zero_shot.tokens_scored


def test_a_few_shot_training_prompt_travels_with_the_checkpoint(tmp_path):
    prompt = PromptFormat(num_shots=2)
    (tmp_path / "prm").mkdir()
    PRMFormat().save(tmp_path / "prm", prompt)
    shutil.copytree(tmp_path / "prm", tmp_path / "moved")  # the recipe's shots file is not read again
    recorded = trained_prompt(tmp_path / "moved")
    assert recorded.shots_file == str(tmp_path / "moved" / "prompt_shots.jsonl")
    assert recorded.render("Compute 1+2.") == prompt.render("Compute 1+2.")


def test_a_prm_folder_without_a_recorded_prompt_reads_the_zero_shot_default(tmp_path, caplog):
    (tmp_path / FORMAT_FILE).write_text(json.dumps({"step_tag": "<step>", "good": "<good>", "bad": "<bad>"}))
    with caplog.at_level(logging.WARNING):
        assert trained_prompt(tmp_path) == PromptFormat()
    assert "no 'prompt' recorded" in caplog.text
    (tmp_path / FORMAT_FILE).write_text(json.dumps({"step_tag": "<step>", "prompt": {"num_shots": -1}}))
    with pytest.raises(ValueError, match=r"prm_format.json: field 'prompt': num_shots must be >= 0"):
        trained_prompt(tmp_path)


def test_scores_do_not_depend_on_the_batch(trained_prm):
    out, _ = trained_prm
    records = synthetic_labels(6)
    together = HFPRM(str(out), batch_size=8).score([r.question for r in records], [r.steps for r in records])
    alone = [HFPRM(str(out), batch_size=1).score([r.question], [r.steps])[0] for r in records[:2]]
    for a, b in zip(alone, together):
        assert a == pytest.approx(b, abs=1e-5)


@pytest.mark.parametrize(
    "values, message",
    [([1.5, 1.0, 1.0], "outside"), ([1.0], "entries for 3 steps")],
)
def test_bad_labels_name_file_line_and_field(tmp_path, toy_base_path, values, message):
    good = synthetic_labels(1)[0]
    bad = StepLabels("q9", 0, good.question, good.steps[:3], values, [1, 1, 0])
    write_atomic(tmp_path / "l.jsonl", [to_json(good), to_json(bad)])
    cfg = prm.PRMTrainConfig(
        model=str(toy_base_path), labels_file=str(tmp_path / "l.jsonl"), output_dir=str(tmp_path / "o")
    )
    with pytest.raises(RecordError, match=rf"l.jsonl:2: field '(values|steps)'.*{message}"):
        prm.load_splits(cfg)


def test_prm_folder_without_the_step_tag_is_refused(tmp_path, toy_base_path):
    with pytest.raises(ValueError, match="not a single token"):
        PRMFormat(step_tag=" ки").token_ids(AutoTokenizer.from_pretrained(toy_base_path))
    with pytest.raises(ValueError, match="not a ttc PRM folder"):
        HFPRM(str(toy_base_path))


def test_validation_split_is_by_question():
    ids = {f"q{i}" for i in range(50)}
    val = prm.validation_questions(ids, 0.1, seed=0)
    assert len(val) == 5 and val == prm.validation_questions(ids, 0.1, seed=0)
    assert prm.validation_questions({"only"}, 0.1, seed=0) == {"only"}


def test_unknown_trainer_argument_is_a_config_error(tmp_path, toy_base_path):
    write_atomic(tmp_path / "l.jsonl", [to_json(r) for r in synthetic_labels(4)])
    cfg = prm.PRMTrainConfig(
        model=str(toy_base_path),
        labels_file=str(tmp_path / "l.jsonl"),
        output_dir=str(tmp_path / "o"),
        trainer={"warmup_ratoi": 0.1},
    )
    with pytest.raises(ConfigError, match="trainer: .*warmup_ratoi"):
        prm.main(cfg)


def test_within_question_metric_reads_the_last_labelled_tag():
    from transformers import EvalPrediction

    ignore = prm.IGNORE
    margins = np.array([[0.0, 2.0, 0.0], [0.0, -1.0, 5.0], [3.0, 0.0, 0.0], [9.0, 0.0, 0.0]])
    values = np.array([[1.0, 1.0, ignore], [1.0, 1.0, 0.0], [0.0, ignore, ignore], [1.0, ignore, ignore]])
    metric = prm.within_question_metric(["a", "a", "b", "c"])
    # question a: the good solution's last margin 2.0 is below the bad one's 5.0 -> AUC 0; b and c
    # hold one class each and rank nothing
    assert metric(EvalPrediction(margins, values)) == {"within_question_auc": 0.0}


def test_selecting_by_within_question_auc_keeps_the_best_ranking_checkpoint(tmp_path, toy_base_path):
    write_atomic(tmp_path / "labels.jsonl", [to_json(r) for r in synthetic_labels(40)])
    cfg = prm.PRMTrainConfig(
        model=str(toy_base_path),
        labels_file=str(tmp_path / "labels.jsonl"),
        output_dir=str(tmp_path / "out"),
        learning_rate=3e-3,
        batch_size=16,
        per_device_batch_size=16,
        num_epochs=4,
        eval_every=5,
        select_by="within_question_auc",
    )
    prm.main(cfg)
    states = (tmp_path / "out" / "checkpoints").glob("checkpoint-*/trainer_state.json")
    state = json.loads(max(states, key=lambda p: int(p.parent.name.split("-")[1])).read_text())
    aucs = [h["eval_within_question_auc"] for h in state["log_history"] if "eval_within_question_auc" in h]
    assert len(aucs) >= 3 and all(0.0 <= a <= 1.0 for a in aucs)
    assert state["best_model_checkpoint"].endswith(f"checkpoint-{5 * (aucs.index(max(aucs)) + 1)}")
    assert state["best_metric"] == max(aucs)


def recipe_config(**recipe) -> prm.PRMTrainConfig:
    return prm.PRMTrainConfig(model="m", labels_file="l", output_dir="o", **recipe)


@pytest.mark.parametrize(
    "recipe, targets, aggregation",
    [
        (dict(), [0.0, 0.25, 0.5, 1.0], "last"),  # soft: the MC value itself, a value estimate
        (dict(label_recipe="hard"), [0.0, 1.0, 1.0, 1.0], "min"),  # negative only when every rollout failed
        (dict(label_recipe="threshold"), [0.0, 0.0, 1.0, 1.0], "min"),  # good from 0.5 on
        (dict(label_recipe="threshold", label_threshold=0.2), [0.0, 1.0, 1.0, 1.0], "min"),
        (dict(label_recipe="hard", aggregation="prod"), [0.0, 1.0, 1.0, 1.0], "prod"),  # set, not inferred
    ],
)
def test_a_label_recipe_turns_mc_values_into_targets_and_sets_the_default_aggregation(recipe, targets, aggregation):
    cfg = recipe_config(**recipe)
    assert cfg.targets([0.0, 0.25, 0.5, 1.0]) == targets
    assert cfg.default_aggregation == aggregation


def test_a_label_threshold_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match=r"label_threshold must be in \(0, 1\], got 0"):
        recipe_config(label_recipe="threshold", label_threshold=0)


def test_the_dataset_holds_the_recipes_targets_at_the_step_tags(toy_base_path):
    tokenizer = AutoTokenizer.from_pretrained(toy_base_path)
    record = StepLabels("q", 0, "Compute 1+2+3.", ["=3+3", "=6", "\\boxed{6}"], [0.25, 0.0, 0.0], [4, 4, 0])
    for recipe, expected in (("soft", [0.25, 0.0, 0.0]), ("hard", [1.0, 0.0, 0.0])):
        ((_, values),) = prm.StepLabelDataset([record], recipe_config(label_recipe=recipe), tokenizer).items
        assert values[values != prm.IGNORE].tolist() == expected


def test_a_hard_label_prm_records_its_recipe_and_is_scored_with_min(tmp_path, toy_base_path):
    """Trained on hard labels, the PRM's format file says so, and every scorer's default follows it."""
    labels = synthetic_labels(20)
    write_atomic(tmp_path / "labels.jsonl", [to_json(r) for r in labels])
    out = prm.main(
        prm.PRMTrainConfig(
            model=str(toy_base_path),
            labels_file=str(tmp_path / "labels.jsonl"),
            output_dir=str(tmp_path / "hard"),
            label_recipe="hard",
            learning_rate=3e-3,
            batch_size=16,
            per_device_batch_size=16,
            num_epochs=1,
            eval_every=10,
        )
    )
    recorded = json.loads((out / FORMAT_FILE).read_text())
    assert (recorded["labels"], recorded["aggregation"]) == ({"recipe": "hard"}, "min")
    assert default_aggregation(VerifierConfig(path=str(out))) == "min"
    assert load_verifier(VerifierConfig(path=str(out)), PromptFormat()).aggregation == "min"


def test_a_soft_label_prm_and_one_from_before_the_recipe_was_recorded_aggregate_by_the_last_step(trained_prm, tmp_path):
    out, _ = trained_prm
    assert json.loads((out / FORMAT_FILE).read_text())["labels"] == {"recipe": "soft"}
    assert default_aggregation(VerifierConfig(path=str(out))) == "last"
    (tmp_path / FORMAT_FILE).write_text(json.dumps({"step_tag": "<step>", "good": "<good>", "bad": "<bad>"}))
    assert trained_aggregation(tmp_path) == "last"
    (tmp_path / FORMAT_FILE).write_text(json.dumps({"aggregation": "mean"}))
    with pytest.raises(ValueError, match=r"prm_format.json: field 'aggregation': expected one of last, min, prod"):
        trained_aggregation(tmp_path)


def test_binary_search_labels_train_only_with_the_hard_recipe(tmp_path):
    """Steps it inferred have no MC value (rollouts 0): soft or thresholded targets would be made up."""
    searched = StepLabels("q", 0, "Compute 1+2+3.", ["=3+3", "=6", "\\boxed{7}"], [1.0, 0.0, 0.0], [0, 4, 0])
    write_atomic(tmp_path / "labels.jsonl", [to_json(searched)])
    for recipe in ("soft", "threshold"):
        with pytest.raises(RecordError, match=r"labels.jsonl:1: field 'rollouts': a step labelled without rollouts"):
            prm.load_splits(
                prm.PRMTrainConfig(
                    model="m", labels_file=str(tmp_path / "labels.jsonl"), output_dir="o", label_recipe=recipe
                )
            )
    prm.check(searched, "x", recipe_config(label_recipe="hard"))
    prm.check(searched, "x", recipe_config(labels="last"))  # an outcome model reads the last step alone (orm_data)
