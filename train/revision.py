"""Train the revision model: SFT of the base model on `ttc trajectories`, loss on the target only.

    python -m train.revision --config configs/toy/revision.yaml
    torchrun --nproc_per_node 8 -m train.revision --config configs/qwen2.5-math-1.5b/revision.yaml
    sbatch --gpus-per-node=8 slurm/train.sbatch --module train.revision --config configs/qwen2.5-math-1.5b/revision.yaml

Each trajectory is one prompt-completion example for TRL's SFTTrainer: the prompt is the
question with its incorrect attempts (data/revision_format.py `revision_prompt`, the text the
reviser sees at inference), the completion is the correct solution plus EOS. SFTTrainer masks
the prompt out of the loss (`completion_only_loss`), so only the final answer is learned.

The paper stops by hand: validation loss (10% of the questions, held out) is off-policy, so it
takes a checkpoint slightly past the validation-loss minimum. Every checkpoint is kept (or the
`keep_checkpoints` most recent and the best), training stops `patience` evaluations after the
minimum, `<output_dir>/checkpoints.json` lists (step, eval_loss) of every evaluation, and the
checkpoint picked by `choose` (`min`, or `past_min`: the first saved one after the minimum) is
written as `<output_dir>` itself: a `save_pretrained` folder with its tokenizer (a LoRA adapter
is merged), beside `training_args.json` and `log_history.json` (train/prm.py `save_log_history`).
The paper's arguments are defaults that `trainer:` overrides, tracking included (`report_to`:
TensorBoard by default). Full fine-tuning or LoRA; DeepSpeed and multi-node through the
launcher; a rerun resumes from the newest checkpoint.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, EarlyStoppingCallback
from trl.trainer.sft_config import SFTConfig  # trl's lazy __init__ names them for checkers only privately
from trl.trainer.sft_trainer import SFTTrainer

from data.config import parse_config, run_cli, save_config
from data.lock import lock_output
from data.models import check_model
from data.prompts import PromptFormat
from data.records import RecordError, Trajectory, read_records
from data.revision_format import MAX_ATTEMPTS, ContextError, Fit, revision_prompt
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
from train.prm import LoraSettings, lora_config, merge_adapter, split_by_question
from ttc.stages.spec import StageSpec

log = logging.getLogger(__name__)
CHECKPOINTS_FILE = "checkpoints.json"


@dataclass
class RevisionTrainConfig:
    model: str  # base checkpoint (folder or hub id): the model that sampled the trajectories
    trajectories_file: str  # trajectories.jsonl from `ttc trajectories`
    output_dir: str
    prompt: PromptFormat = field(default_factory=PromptFormat)  # as the reviser will be prompted
    max_attempts: int = MAX_ATTEMPTS  # attempts kept in context, as at inference (paper: 4)
    lora: LoraSettings = field(default_factory=LoraSettings)
    val_fraction: float = 0.1  # of questions, not trajectories
    learning_rate: float = 1e-5  # paper: AdamW, lr 1e-5, betas (0.9, 0.95)
    batch_size: int = 128  # global: per_device x accumulation x processes (paper: 128)
    per_device_batch_size: int = 16
    num_epochs: float = 2.0
    dropout: float = 0.0  # paper: 0.0 (Llama's attention_dropout)
    max_length: int | None = 4096  # tokens of prompt + target: oldest attempts dropped to fit, as in chains
    eval_every: int = 50  # steps between evaluations, each saved as a checkpoint
    patience: int | None = 3  # evaluations past the minimum before stopping; None: all epochs
    keep_checkpoints: int | None = None  # None keeps every checkpoint; n: the n newest and the best
    choose: Literal["min", "past_min"] = "past_min"
    seed: int = 0
    threads: int = 1
    trainer: dict[str, Any] = field(default_factory=dict)  # any SFTConfig field, over the defaults

    def __post_init__(self) -> None:
        if not 0 < self.val_fraction < 1:
            raise ValueError("val_fraction must be in (0, 1)")
        if self.batch_size % self.per_device_batch_size:
            raise ValueError("batch_size must be a multiple of per_device_batch_size")
        if self.keep_checkpoints is not None and self.keep_checkpoints < 1:
            raise ValueError("keep_checkpoints must be >= 1 or None (keep all)")


# --- data --------------------------------------------------------------------------------


def load_splits(cfg: RevisionTrainConfig) -> tuple[list[Trajectory], list[Trajectory]]:
    """Trajectories split by question: a question's trajectories never straddle the split."""
    records = read_records(cfg.trajectories_file, Trajectory)
    if not records:
        raise RecordError(f"{cfg.trajectories_file}: no trajectories")
    for number, t in enumerate(records, 1):
        where = f"{cfg.trajectories_file}:{number}"
        if not t.target.strip():
            raise RecordError(f"{where}: field 'target' is empty")
        if len(t.previous_indices) != len(t.previous):
            raise RecordError(
                f"{where}: field 'previous_indices' has {len(t.previous_indices)} "
                f"entries for {len(t.previous)} previous attempts"
            )
    return split_by_question(records, cfg.val_fraction, cfg.seed, cfg.trajectories_file)


def to_dataset(records: list[Trajectory], cfg: RevisionTrainConfig, tokenizer) -> Dataset:
    """SFTTrainer's prompt-completion format (the completion gets EOS from the trainer). Each
    prompt keeps as many of its most recent attempts as fit `max_length` with its target, fitted
    as the chains fit the reviser's context (`fit_attempts`), so training sees the contexts
    inference does; a trajectory whose question and target alone do not fit is dropped."""
    rows, dropped_attempts = [], 0
    for t in records:
        try:
            prompt = revision_prompt(
                cfg.prompt,
                t.question,
                t.previous,
                tokenizer,
                cfg.max_attempts,
                target_fit(t, cfg.max_length, tokenizer),
            )
        except ContextError:
            continue  # counted in the warning below
        dropped_attempts += prompt.dropped
        rows.append({"prompt": prompt.text, "completion": t.target})
    if dropped_attempts or len(rows) < len(records):
        log.warning(
            "max_length %s: dropped %d oldest attempts from prompts and %d of %d trajectories whose question "
            "and target alone do not fit",
            cfg.max_length,
            dropped_attempts,
            len(records) - len(rows),
            len(records),
        )
    return Dataset.from_list(rows)


def target_fit(t: Trajectory, max_length: int | None, tokenizer) -> Fit | None:
    """A prompt leaves room in `max_length` for the target and its EOS."""
    if max_length is None:
        return None
    target = len(tokenizer(t.target, add_special_tokens=False)["input_ids"]) + 1
    return Fit(
        lambda text: len(tokenizer(text)["input_ids"]),
        max_length - target,
        f"problem {t.problem_id}: max_length {max_length} less the target's {target} tokens",
    )


def drop_long(dataset: Dataset, max_length: int | None, name: str) -> Dataset:
    """Whole trajectories that fit, never truncated ones (a cut target teaches a cut answer): the
    guard after `to_dataset`'s fitting, on the trainer's own tokenization of prompt + completion."""
    if max_length is None:
        return dataset
    kept = dataset.filter(lambda ex: len(ex["input_ids"]) <= max_length)
    if len(kept) < len(dataset):
        log.warning(
            "%s: dropped %d of %d trajectories longer than max_length %d tokens",
            name,
            len(dataset) - len(kept),
            len(dataset),
            max_length,
        )
    return kept


# --- trainer -----------------------------------------------------------------------------


def sft_arguments(cfg: RevisionTrainConfig, out: Path, world: int) -> dict[str, Any]:
    """The paper's arguments; every evaluation saved, so a checkpoint past the minimum can be
    chosen after training. `cfg.trainer` overrides any of them."""
    return {
        **paper_arguments(cfg, out, world),
        "save_total_limit": cfg.keep_checkpoints,
        "load_best_model_at_end": cfg.patience is not None,  # early stopping needs it; keeps the best
        "completion_only_loss": True,
        "max_length": None,  # no truncation: drop_long removes what does not fit
        "model_init_kwargs": {"dtype": "float32", "attention_dropout": cfg.dropout},
        "bf16": torch.cuda.is_available(),  # TRL's bf16 autocast on a CPU without bf16 units is ~20x slower
    }


def build_trainer(cfg: RevisionTrainConfig) -> SFTTrainer:
    """The SFTTrainer with its tokenized, prompt-masked, length-filtered datasets."""
    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    train, val = load_splits(cfg)
    log.info("%d training and %d validation trajectories", len(train), len(val))
    args = launch_arguments(SFTConfig, sft_arguments, cfg, Path(cfg.output_dir), "revision")
    trainer = SFTTrainer(
        model=cfg.model,
        args=args,
        train_dataset=to_dataset(train, cfg, tokenizer),
        eval_dataset=to_dataset(val, cfg, tokenizer),
        processing_class=tokenizer,
        peft_config=lora_config(cfg.lora),
        callbacks=[EarlyStoppingCallback(early_stopping_patience=cfg.patience)] if cfg.patience else [],
    )
    # SFTTrainer keeps both as datasets' Datasets (tokenized)
    trainer.train_dataset = drop_long(cast(Dataset, trainer.train_dataset), cfg.max_length, "train")
    trainer.eval_dataset = drop_long(cast(Dataset, trainer.eval_dataset), cfg.max_length, "validation")
    return trainer


# --- checkpoint choice -------------------------------------------------------------------


def checkpoint_table(log_history: list[dict], checkpoints_dir: Path) -> list[dict]:
    """(step, eval_loss, path) of every evaluation; path is None where no checkpoint is kept."""
    table = []
    for entry in log_history:
        if "eval_loss" in entry:
            folder = checkpoints_dir / f"checkpoint-{entry['step']}"
            table.append(
                {
                    "step": entry["step"],
                    "eval_loss": entry["eval_loss"],
                    "path": str(folder) if folder.is_dir() else None,
                }
            )
    return table


def choose_checkpoint(table: list[dict], rule: Literal["min", "past_min"]) -> dict:
    """`min`: the lowest validation loss; `past_min`: the first kept checkpoint after it (the
    paper's "slightly past the minimum"), or the minimum when training stopped there."""
    kept = [row for row in table if row["path"]]
    if not kept:
        raise RuntimeError("no evaluated checkpoint is kept: lower eval_every or raise num_epochs")
    best = min(kept, key=lambda row: (row["eval_loss"], row["step"]))
    if rule == "past_min":
        return next((row for row in kept if row["step"] > best["step"]), best)
    return best


def export(cfg: RevisionTrainConfig, checkpoint: Path, out: Path, tokenizer) -> None:
    """The chosen checkpoint as a plain save_pretrained folder (LoRA merged into the base)."""
    if cfg.lora.enabled:
        merge_adapter(cfg.model, checkpoint, out)
    else:
        from transformers.integrations.deepspeed import unset_hf_deepspeed_config

        unset_hf_deepspeed_config()  # a plain load on this process, whatever the run was sharded with
        model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
        model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


# --- main --------------------------------------------------------------------------------


@save_faults  # a failed save (a full disk): one line naming the folder, status 75
@single_process_launch  # DeepSpeed without torchrun
def main(cfg: RevisionTrainConfig) -> Path:
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.output_dir)
    check_model(cfg.model, "model")  # bad input is refused before anything is written
    load_splits(cfg)
    lock_output(out, "train-reviser")  # one training per folder (the first process of a launch holds it)
    trainer = build_trainer(cfg)
    if first_process():
        save_config(cfg, out / "train_config.yaml")  # once every setting is checked
    checkpoints = Path(cast(str, trainer.args.output_dir))  # trainer_arguments sets it
    # Resume after preemption from the newest whole checkpoint (train/arguments.py).
    trainer.train(resume_from_checkpoint=last_checkpoint(checkpoints))
    if trainer.is_world_process_zero():
        table = checkpoint_table(trainer.state.log_history, checkpoints)
        chosen = choose_checkpoint(table, cfg.choose)
        (out / CHECKPOINTS_FILE).write_text(
            json.dumps({"rule": cfg.choose, "chosen": chosen["step"], "checkpoints": table}, indent=2) + "\n"
        )
        save_log_history(trainer, out, chosen["step"])
        export(cfg, Path(chosen["path"]), out, trainer.processing_class)
        log.info(
            "reviser saved to %s: checkpoint %d (eval loss %.4f, rule %s)",
            out,
            chosen["step"],
            chosen["eval_loss"],
            cfg.choose,
        )
    finish_distributed()
    return out


STAGE = StageSpec(config=RevisionTrainConfig, main=main, launch="trainer", report=curves.PART)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    run_cli(
        "train.revision", lambda: main(parse_config(RevisionTrainConfig, sys.argv[1:]))
    )  # bad input: one line, exit 2
