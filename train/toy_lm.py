"""Train a toy-world language model from scratch (a tiny Llama with a character tokenizer).

    python -m train.toy_lm --config configs/toy/lm_base.yaml
    python -m train.toy_lm --config configs/toy/lm_base_context.yaml   # its phase 2 (init_from)
    python -m train.toy_lm --config configs/toy/lm_base_careless.yaml  # phase 3: the careless writers
    python -m train.toy_lm --config configs/toy/lm_large.yaml --threads 2
    python -m train.toy_lm --config configs/toy/lm_large_careless.yaml   # the same corpus as phase 3

The run is resumable: rerun the same command and it continues from the newest checkpoint in
`<output_dir>/checkpoints`. The final model is written with `save_pretrained` (bf16
safetensors) beside its tokenizer and `training_record.json` (config, steps, tokens,
hardware, wall time, git commit), so transformers and vLLM load it like a hub model, with
`training_args.json` and `log_history.json`. `trainer:` (or `--trainer.<field>`) overrides any
TrainingArguments field, tracking included (`report_to`: TensorBoard by default, or wandb/trackio).
"""

from __future__ import annotations

import json
import logging
import platform
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch.utils.data import Dataset
from transformers import (
    DataCollatorForSeq2Seq,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
)

from data import toy
from data.config import parse_config, run_cli, save_config, to_dict
from data.lock import lock_output
from data.models import check_model
from data.prompts import PromptFormat
from train import curves
from train.arguments import last_checkpoint, save_faults, save_log_history, trainer_arguments
from train.tokenizer import build_char_tokenizer
from ttc.stages.spec import StageSpec

log = logging.getLogger(__name__)


@dataclass
class ToyLMConfig:
    output_dir: str
    hidden_size: int = 64
    num_layers: int = 4
    num_heads: int = 2
    intermediate_size: int = 176
    max_position_embeddings: int = 1024
    max_steps: int = 6000
    batch_size: int = 32
    learning_rate: float = 4e-3
    warmup_steps: int = 200
    weight_decay: float = 0.1
    adam_beta2: float = 0.98
    save_steps: int = 250
    logging_steps: int = 50
    seed: int = 0
    threads: int = 1
    save_dtype: str = "bfloat16"
    # Up to this many other solved problems before an example's own, in the few-shot layout
    # (uniform 0..max_shots): a base that has only ever seen one problem at the start of its
    # context is lost when anything precedes it, e.g. a reviser's previous attempts.
    max_shots: int = 0
    init_from: str | None = None  # continue from this checkpoint (a later pretraining phase)
    # The careless writers (data/toy.py): each solution's writer drops the copied tail's last
    # term with this probability after every reduction that leaves a tail.
    slip: float = 0.0
    # This share of examples are corrections by other writers: 1..max_corrected slipped answers
    # to the example's own question come first (context, not targets), then a careful answer.
    corrections: float = 0.0
    max_corrected: int = 3
    trainer: dict[str, Any] = field(default_factory=dict)  # any TrainingArguments field, over the defaults

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be a multiple of num_heads")
        if self.max_shots < 0:
            raise ValueError(f"max_shots must be >= 0, got {self.max_shots}")
        if not 0.0 <= self.slip <= 1.0 or not 0.0 <= self.corrections <= 1.0:
            raise ValueError(f"slip and corrections must be in [0, 1], got {self.slip}, {self.corrections}")
        if self.max_corrected < 1:
            raise ValueError(f"max_corrected must be >= 1, got {self.max_corrected}")
        if self.save_dtype not in ("bfloat16", "float16", "float32"):
            raise ValueError(f"save_dtype must be bfloat16, float16 or float32, not {self.save_dtype}")


class ToyStream(Dataset):
    """Example i of the training stream, generated on demand: a pure function of (seed, i).

    With `max_shots`, k ~ U{0..max_shots} other problems, solved, come first in the few-shot
    layout of data/prompts.py (each solution ends with a blank line). Every solution is a target
    and the example's own ends with EOS; the blank lines are not targets (as targets they taught
    the model to follow an answer with blank lines, never reaching EOS). Solutions are written
    with `slip` (data/toy.py); a `corrections` share of examples first answer their own question
    with slipped attempts, in the reviser's layout (data/revision_format.py), then carefully.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerFast,
        size: int,
        seed: int,
        max_shots: int = 0,
        slip: float = 0.0,
        corrections: float = 0.0,
        max_corrected: int = 3,
    ):
        self.tokenizer, self.size, self.seed, self.max_shots = tokenizer, size, seed, max_shots
        self.slip, self.corrections, self.max_corrected = slip, corrections, max_corrected
        self.prompt = PromptFormat()

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        rng = random.Random(f"toy-shots:{self.seed}:{i}")
        shots = [toy.training_example(rng.randrange(2**62), self.seed) for _ in range(rng.randint(0, self.max_shots))]
        own = toy.training_example(i, self.seed)
        pieces = [(p.question, toy.careless_solution(p.expression, rng, self.slip), True) for p in shots]
        if toy.slip_chances(own.expression) and rng.random() < self.corrections:
            pieces += [
                (own.question, self.slipped(own.expression, rng), False)
                for _ in range(rng.randint(1, self.max_corrected))
            ]
            answer = toy.solve(own.expression)  # the correcting writer is careful
        else:
            answer = toy.careless_solution(own.expression, rng, self.slip)
        pieces.append((own.question, answer, True))
        ids, labels = [cast(int, self.tokenizer.bos_token_id)], [-100]  # the char tokenizer's special tokens
        for n, (question, steps, is_target) in enumerate(pieces):
            last = n == len(pieces) - 1
            prompt = self.tokenizer.encode(self.prompt.render(question), add_special_tokens=False)
            solution = self.tokenizer.encode(
                "\n".join(steps) + (cast(str, self.tokenizer.eos_token) if last else ""), add_special_tokens=False
            )
            separator = [] if last else self.tokenizer.encode("\n\n", add_special_tokens=False)
            ids += prompt + solution + separator
            labels += (
                [-100] * len(prompt) + (solution if is_target else [-100] * len(solution)) + [-100] * len(separator)
            )
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}

    def slipped(self, expression: str, rng: random.Random) -> list[str]:
        """A careless answer with at least one slip (an earlier attempt that a correction fixes)."""
        reference = toy.solve(expression)
        while True:
            steps = toy.careless_solution(expression, rng, max(self.slip, 0.5))
            if steps != reference:
                return steps


def build_model(cfg: ToyLMConfig, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=cast(int, tokenizer.bos_token_id),  # the char tokenizer's: ids
        eos_token_id=cast(int, tokenizer.eos_token_id),
        pad_token_id=cast(int, tokenizer.pad_token_id),
    )
    torch.manual_seed(cfg.seed)
    return LlamaForCausalLM(config)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def toy_arguments(cfg: ToyLMConfig, out: Path) -> dict[str, Any]:
    """The pretraining defaults (AdamW, cosine decay after warmup); `cfg.trainer` overrides any."""
    return dict(
        output_dir=str(out / "checkpoints"),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        adam_beta1=0.9,
        adam_beta2=cfg.adam_beta2,
        max_grad_norm=1.0,
        save_steps=cfg.save_steps,
        save_total_limit=2,
        logging_steps=cfg.logging_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available(),
        dataloader_num_workers=0,
        include_num_input_tokens_seen=True,
    )


@save_faults  # a failed save (a full disk): one line naming the folder, status 75
def main(cfg: ToyLMConfig) -> Path:
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.output_dir)
    if cfg.init_from:
        check_model(cfg.init_from, "init_from")  # bad input is refused before anything is written
    lock_output(out, "train-lm")  # one training per folder
    args = trainer_arguments(
        TrainingArguments, toy_arguments(cfg, out), cfg.trainer, out, "toy_lm"
    )  # checks `trainer:`
    save_config(cfg, out / "config.yaml")
    tokenizer = build_char_tokenizer(cfg.max_position_embeddings)
    model = (
        LlamaForCausalLM.from_pretrained(cfg.init_from, dtype=torch.float32)
        if cfg.init_from
        else build_model(cfg, tokenizer)
    )
    log.info("model: %.3fM parameters", model.num_parameters() / 1e6)

    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=ToyStream(
            tokenizer,
            cfg.max_steps * cfg.batch_size,
            cfg.seed,
            cfg.max_shots,
            cfg.slip,
            cfg.corrections,
            cfg.max_corrected,
        ),
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100),
    )
    start = time.time()
    trainer.train(resume_from_checkpoint=last_checkpoint(cast(str, args.output_dir)))  # trainer_arguments sets it
    wall = time.time() - start

    model = cast(LlamaForCausalLM, trainer.model).to(getattr(torch, cfg.save_dtype))  # the model given it
    model.config.dtype = cfg.save_dtype
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    record = {
        "config": to_dict(cfg),
        "parameters": model.num_parameters(),
        "steps": trainer.state.global_step,
        "tokens": trainer.state.num_input_tokens_seen,
        "final_loss": next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None),
        "wall_time_s_last_session": round(wall, 1),
        "hardware": {
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            "processor": platform.processor() or platform.machine(),
            "threads": cfg.threads,
        },
        "torch": torch.__version__,
        "git_commit": git_commit(),
    }
    if cfg.init_from:  # the earlier phase's record, so the checkpoint's whole history stays with it
        record["init"] = json.loads((Path(cfg.init_from) / "training_record.json").read_text())
    (out / "training_record.json").write_text(json.dumps(record, indent=2) + "\n")
    save_log_history(trainer, out)
    return out


STAGE = StageSpec(config=ToyLMConfig, main=main, report=curves.PART)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    run_cli("train.toy_lm", lambda: main(parse_config(ToyLMConfig, sys.argv[1:])))  # bad input: one line, exit 2
