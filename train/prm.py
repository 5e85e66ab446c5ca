"""Train a process reward model on Monte Carlo step labels: soft, hard or thresholded.

    python -m train.prm --config configs/toy/prm.yaml
    accelerate launch --config_file configs/accelerate/zero2.yaml -m train.prm \
        --config configs/qwen2.5-math-1.5b/prm.yaml
    torchrun --nproc_per_node 8 -m train.prm --config ... --trainer '{deepspeed: configs/deepspeed/zero3.json}'
    python -m train.prm --config configs/toy/prm.yaml --trainer.report_to wandb --trainer.seed 1

The model is a causal LM in the format of data/prm_format.py: at the tag after each step it
scores a good and a bad label token. Loss: cross-entropy between the MC value p and the two-way
softmax over the label tokens (= BCE on their logit difference); TRL's PRM trainer casts
labels to int, so this is our loss on transformers' Trainer. `labels: last` trains an outcome
model (only the final step is labelled).

`label_recipe` turns each MC value v into the target (Zhang et al. 2025, arXiv 2501.07301):
`soft` (the paper's: v itself), `hard` (1 when any rollout reached the answer, v > 0: a step is
negative only when every rollout fails) or `threshold` (1 when v >= `label_threshold`). Labels
that `ttc label --mode binary_search` made are hard already (no soft value exists): only `hard`
reads them. The PRM's default aggregation follows the recipe (`aggregation`, else `last` for
soft labels, a value estimate, and `min` for hard and thresholded ones, step correctness) and is
recorded in its prm_format.json, which every scorer reads. Early stopping on a held-out 10% of the questions, by
the validation loss or (`select_by: within_question_auc`) by how well the last step's score
ranks each validation question's solutions: the loss mostly measures how hard a question is,
so it stops while the within-question ranking, which best-of-N needs, still improves.
Full fine-tuning or LoRA (merged on save); DeepSpeed and multi-node through the launcher.
The paper's TrainingArguments are defaults: `trainer:` (or `--trainer.<field>`) overrides any
field, tracking included (`report_to`: TensorBoard by default, W&B or trackio offline).
The output is a `save_pretrained` folder with its tokenizer and `prm_format.json` (the tag and
label tokens, and the prompt format it was trained on, which every scorer then reads), beside
`training_args.json` (what ran) and `log_history.json` (losses and metrics by step, the step kept).
"""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Protocol, Sequence, TypeVar, cast

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, EarlyStoppingCallback, Trainer, TrainingArguments

from data.config import ConfigError, parse_config, run_cli, save_config, to_dict
from data.lock import lock_output
from data.models import check_model
from data.prm_format import Aggregation, PRMFormat
from data.prompts import PromptFormat
from data.ranking import within_question_aucs
from data.records import RecordError, StepLabels, read_records
from train import curves
from train.arguments import (
    finish_distributed,
    first_process,
    last_checkpoint,
    launch_arguments,
    paper_arguments,
    save_faults,
    save_log_history,
    single_process_launch,
)
from ttc.stages.spec import StageSpec

if TYPE_CHECKING:
    from peft import LoraConfig

log = logging.getLogger(__name__)


class Questioned(Protocol):
    @property
    def problem_id(self) -> str: ...


R = TypeVar("R", bound=Questioned)  # a record with a problem_id
IGNORE = -100.0


@dataclass
class LoraSettings:
    enabled: bool = False
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str = "all-linear"


@dataclass
class PRMTrainConfig:
    model: str  # base checkpoint (folder or hub id)
    labels_file: str  # labels.jsonl from `ttc label`
    output_dir: str
    format: PRMFormat = field(default_factory=PRMFormat)
    prompt: PromptFormat = field(default_factory=PromptFormat)
    labels: Literal["steps", "last"] = "steps"  # "last": outcome model
    label_recipe: Literal["soft", "hard", "threshold"] = "soft"  # MC value -> target (module docstring)
    label_threshold: float = 0.5  # `threshold`: a step is good when its MC value is at least this
    aggregation: Aggregation | None = None  # recorded as the PRM's default; None: follows label_recipe
    lora: LoraSettings = field(default_factory=LoraSettings)
    val_fraction: float = 0.1  # of questions, not solutions
    learning_rate: float = 3e-5
    batch_size: int = 128  # global: per_device x accumulation x processes
    per_device_batch_size: int = 16
    num_epochs: float = 3.0
    dropout: float = 0.05  # Llama's only dropout is attention_dropout; LoRA has its own
    eval_every: int = 50
    patience: int = 3  # evaluations without improvement before stopping
    select_by: Literal["loss", "within_question_auc"] = "loss"  # the checkpoint kept and early stopping
    seed: int = 0
    threads: int = 1
    trainer: dict[str, Any] = field(default_factory=dict)  # any TrainingArguments field, over the defaults

    def __post_init__(self) -> None:
        if not 0 < self.val_fraction < 1:
            raise ValueError("val_fraction must be in (0, 1)")
        if self.batch_size % self.per_device_batch_size:
            raise ValueError("batch_size must be a multiple of per_device_batch_size")
        if not 0 < self.label_threshold <= 1:
            raise ValueError(f"label_threshold must be in (0, 1], got {self.label_threshold}")

    @property
    def default_aggregation(self) -> Aggregation:
        return self.aggregation or ("last" if self.label_recipe == "soft" else "min")

    def targets(self, values: list[float]) -> list[float]:
        """The training targets of a solution's MC values, by `label_recipe`."""
        if self.label_recipe == "hard":
            return [float(v > 0) for v in values]
        if self.label_recipe == "threshold":
            return [float(v >= self.label_threshold) for v in values]
        return values

    def recipe(self) -> dict[str, Any]:
        """The labels as prm_format.json records them."""
        return {"recipe": self.label_recipe} | (
            {"threshold": self.label_threshold} if self.label_recipe == "threshold" else {}
        )


def validation_questions(problem_ids: set[str], fraction: float, seed: int) -> set[str]:
    """A seeded random `fraction` of the questions (at least one): solutions of one question
    never straddle the split."""
    ranked = sorted(problem_ids, key=lambda pid: hashlib.sha256(f"{seed}:{pid}".encode()).digest())
    return set(ranked[: max(1, round(fraction * len(ranked)))])


def check(record: StepLabels, where: str, cfg: PRMTrainConfig | None = None) -> None:
    """One record, whole; with `cfg`, fit for its recipe: a step labelled without rollouts (`ttc
    label --rollouts.mode binary_search`'s inferred steps) has no MC value to be soft about."""
    if cfg and cfg.labels == "steps" and cfg.label_recipe != "hard" and 0 in record.rollouts[:-1]:
        raise RecordError(
            f"{where}: field 'rollouts': a step labelled without rollouts (a hard label, as "
            f"`ttc label --rollouts.mode binary_search` infers them) has no MC value: train with "
            f"label_recipe: hard (not {cfg.label_recipe})"
        )
    if not record.steps:
        raise RecordError(f"{where}: field 'steps' is empty")
    if len(record.values) != len(record.steps):
        raise RecordError(f"{where}: field 'values' has {len(record.values)} entries for {len(record.steps)} steps")
    if not all(0.0 <= v <= 1.0 for v in record.values):
        raise RecordError(f"{where}: field 'values' has a label outside [0, 1]")


class StepLabelDataset(Dataset):
    def __init__(self, records: list[StepLabels], cfg: PRMTrainConfig, tokenizer):
        self.items = []
        for r in records:
            ids, positions = cfg.format.encode(tokenizer, cfg.prompt.render(r.question, tokenizer), r.steps)
            values = torch.full((len(ids),), IGNORE)
            labelled = positions if cfg.labels == "steps" else positions[-1:]
            values[labelled] = torch.tensor(cfg.targets(r.values))[-len(labelled) :]
            self.items.append((torch.tensor(ids), values))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ids, values = self.items[i]
        return {"input_ids": ids, "step_values": values}


def collate(pad_id: int, batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    ids = pad_sequence([b["input_ids"] for b in batch], batch_first=True, padding_value=pad_id)
    return {
        "input_ids": ids,
        "attention_mask": pad_sequence([torch.ones_like(b["input_ids"]) for b in batch], batch_first=True),
        "step_values": pad_sequence([b["step_values"] for b in batch], batch_first=True, padding_value=IGNORE),
    }


def soft_label_loss(logits: torch.Tensor, values: torch.Tensor, good: int, bad: int) -> torch.Tensor:
    """Cross-entropy between (p, 1-p) and the softmax over (good, bad) at the tagged positions."""
    mask = values != IGNORE
    logp = torch.log_softmax(logits[mask][:, [good, bad]].float(), dim=-1)
    p = values[mask]
    return -(p * logp[:, 0] + (1 - p) * logp[:, 1]).mean()


class PRMTrainer(Trainer):
    def __init__(self, *args, good: int, bad: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.good, self.bad = good, bad

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        values = inputs.pop("step_values")
        outputs = model(**inputs)
        loss = soft_label_loss(outputs.logits, values, self.good, self.bad)
        return (loss, outputs) if return_outputs else loss


def tag_margins(logits: torch.Tensor, good: int, bad: int) -> torch.Tensor:
    """The good-minus-bad logit at every position: all the evaluation keeps of the logits."""
    return logits[..., good] - logits[..., bad]


def within_question_metric(problem_ids: list[str]) -> Callable[[Any], dict[str, float]]:
    """compute_metrics for the validation records (in order): the mean within-question AUC of
    the last labelled step's margin against the outcome (its MC value >= 0.5)."""

    def metric(prediction) -> dict[str, float]:
        margins, values = np.asarray(prediction.predictions), np.asarray(prediction.label_ids)
        labelled = values != IGNORE
        last = labelled.shape[1] - 1 - labelled[:, ::-1].argmax(axis=1)
        rows = np.arange(len(values))
        scores, outcomes = cast(Sequence[float], margins[rows, last]), cast(Sequence[bool], values[rows, last] >= 0.5)
        aucs = within_question_aucs(problem_ids, scores, outcomes)  # arrays, read as sequences
        return {"within_question_auc": float(np.mean(list(aucs.values()))) if aucs else 0.5}

    return metric


def load_splits(cfg: PRMTrainConfig) -> tuple[list[StepLabels], list[StepLabels]]:
    records = read_records(cfg.labels_file, StepLabels)
    if not records:
        raise RecordError(f"{cfg.labels_file}: no step labels")
    for number, r in enumerate(records, 1):
        check(r, f"{cfg.labels_file}:{number}", cfg)
    return split_by_question(records, cfg.val_fraction, cfg.seed, cfg.labels_file)


def split_by_question(records: list[R], fraction: float, seed: int, where: str) -> tuple[list[R], list[R]]:
    """(train, validation) records, the validation ones those of `validation_questions`."""
    val_ids = validation_questions({r.problem_id for r in records}, fraction, seed)
    train = [r for r in records if r.problem_id not in val_ids]
    val = [r for r in records if r.problem_id in val_ids]
    if not train:
        raise RecordError(f"{where}: too few questions for a {fraction:.0%} validation split")
    return train, val


def lora_config(lora: LoraSettings) -> LoraConfig | None:
    """PEFT's LoraConfig of our settings, None when LoRA is off (shared with train/revision.py)."""
    if not lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )


def load_model(cfg: PRMTrainConfig):
    model = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=torch.float32, attention_dropout=cfg.dropout)
    if not cfg.lora.enabled:
        return model
    from peft import get_peft_model

    return get_peft_model(model, cast("LoraConfig", lora_config(cfg.lora)))  # enabled: a config


def prm_arguments(cfg: PRMTrainConfig, out: Path, world: int) -> dict[str, Any]:
    """The paper's arguments with early stopping on the validation loss or (`select_by`) the
    within-question AUC, keeping the best checkpoint."""
    arguments = paper_arguments(cfg, out, world)
    if cfg.select_by == "within_question_auc":
        arguments.update(metric_for_best_model="eval_within_question_auc", greater_is_better=True)
    return {
        **arguments,
        "save_total_limit": 2,
        "load_best_model_at_end": True,
        "remove_unused_columns": False,
        "label_names": ["step_values"],
    }


def check_inputs(cfg: PRMTrainConfig, makers: dict[str, dict[str, Any]], where: str) -> None:
    """The run's check across stages (ttc/pipeline/run.py): labels made for a PRM format (train/
    orm_data.py fits them to the input it renders with its `format` and `prompt`) must be made for
    this trainer's. (`ttc label`'s have no format: its prompt is the policy's, not the PRM's.)"""
    made = makers.get("labels_file", {})
    if "format" not in made:
        return
    for key, own in (("format", to_dict(cfg.format)), ("prompt", to_dict(cfg.prompt))):
        if key in made and {**own, **made[key]} != own:
            raise ConfigError(
                f"{where}: {key} {own} differs from the {key} its labels were fitted to "
                f"({made[key]}): set both stages' alike"
            )


@save_faults  # a failed save (a full disk): one line naming the folder, status 75
@single_process_launch  # DeepSpeed without torchrun
def main(cfg: PRMTrainConfig) -> Path:
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.output_dir)
    check_model(cfg.model, "model")  # bad input is refused before anything is written
    train, val = load_splits(cfg)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    _, good, bad = cfg.format.token_ids(tokenizer, where=cfg.model)
    lock_output(out, "train-prm")  # one training per folder (the first process of a launch holds it)
    log.info("%d training and %d validation solutions", len(train), len(val))

    args = launch_arguments(TrainingArguments, prm_arguments, cfg, out, "orm" if cfg.labels == "last" else "prm")
    if first_process():
        save_config(cfg, out / "train_config.yaml")  # once every setting is checked

    if args.deepspeed_plugin is not None:  # ZeRO-3 shards the model in from_pretrained: join the group first
        import deepspeed

        args.device  # the process group (gloo on CPU, nccl on GPU)
        deepspeed.init_distributed()  # and DeepSpeed's view of it, which zero.Init reads
    trainer = PRMTrainer(
        model=load_model(cfg),
        args=args,
        train_dataset=StepLabelDataset(train, cfg, tokenizer),
        eval_dataset=StepLabelDataset(val, cfg, tokenizer),
        data_collator=lambda batch: collate(tokenizer.pad_token_id, batch),
        callbacks=[EarlyStoppingCallback(early_stopping_patience=cfg.patience)],
        good=good,
        bad=bad,
        **(
            dict(
                preprocess_logits_for_metrics=lambda logits, _labels: tag_margins(logits, good, bad),
                compute_metrics=within_question_metric([r.problem_id for r in val]),
            )
            if cfg.select_by == "within_question_auc"
            else {}
        ),
    )
    # Resume after preemption from the newest whole checkpoint (train/arguments.py).
    trainer.train(resume_from_checkpoint=last_checkpoint(cast(str, args.output_dir)))  # trainer_arguments sets it
    # save_model on every rank: under ZeRO-3 it gathers the sharded weights (a collective), and
    # only the main process writes. A LoRA run saves its adapter, merged below on one process.
    trainer.save_model(str(out / "adapter" if cfg.lora.enabled else out))
    if trainer.is_world_process_zero():
        if cfg.lora.enabled:
            merge_adapter(cfg.model, out / "adapter", out)
        tokenizer.save_pretrained(out)
        cfg.format.save(out, cfg.prompt, cfg.recipe(), cfg.default_aggregation)  # what every scorer reads
        save_log_history(trainer, out)
        log.info("PRM saved to %s (best %s %s)", out, args.metric_for_best_model, trainer.state.best_metric)
    finish_distributed()
    return out


def merge_adapter(base: str, adapter: Path, out: Path) -> None:
    """Base + adapter, merged into a plain checkpoint. The base is loaded afresh on this process
    alone (ZeRO-3 would have partitioned it), so this works whatever the run was sharded with."""
    from peft import PeftModel
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    unset_hf_deepspeed_config()  # from_pretrained would otherwise zero.Init across ranks
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    PeftModel.from_pretrained(model, adapter).merge_and_unload().save_pretrained(out, safe_serialization=True)


STAGE = StageSpec(config=PRMTrainConfig, main=main, launch="trainer", check_inputs=check_inputs, report=curves.PART)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    run_cli("train.prm", lambda: main(parse_config(PRMTrainConfig, sys.argv[1:])))  # bad input: one line, exit 2
