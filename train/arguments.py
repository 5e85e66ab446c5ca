"""What every trainer here passes to transformers: the paper's arguments as defaults under the
recipe's `trainer:` overrides, tracking, the log history the report draws curves from, the
single-process launch, the checkpoint a rerun resumes from, and what a failed save means
(`save_faults`). Used by the PRM/ORM trainer, the reviser and the toy LM."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import os
import re
import shutil
import socket
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol, TypeVar, cast

import torch
from transformers import Trainer, TrainingArguments
from transformers.integrations.integration_utils import get_available_reporting_integrations

from data.config import ConfigError

log = logging.getLogger(__name__)


class Saved(Protocol):
    """A trainer's config as `save_faults` reads it."""

    @property
    def output_dir(self) -> str: ...


class Launched(Protocol):
    """A trainer's config as `single_process_launch` reads it."""

    @property
    def trainer(self) -> Mapping[str, Any]: ...


A = TypeVar("A", bound=TrainingArguments)  # a TrainingArguments class
C = TypeVar("C", bound=Saved)  # a trainer's config
L = TypeVar("L", bound=Launched)  # a trainer's config

PAPER_OPTIMISER = {"adam_beta1": 0.9, "adam_beta2": 0.95}  # AdamW's betas, for the PRM and the reviser
LOG_HISTORY_FILE = "log_history.json"


def first_process() -> bool:
    """The one process of a launch that writes the run's files."""
    return int(os.environ.get("RANK", 0)) == 0


# How torch.save and safetensors report a write that failed (a full disk, an I/O error): as a
# RuntimeError or SafetensorError, without the errno or the file (`basic_ios::clear: iostream error`).
WRITE_FAILURES = re.compile(
    r"basic_ios::clear|iostream error|PytorchStreamWriter failed|file write failed|"
    r"unexpected pos \d+ vs \d+|Error while serializing"
)
OS_ERROR = re.compile(r"os error (\d+)")  # safetensors' "I/O error: No space left on device (os error 28)"
ROOM = 64 << 20  # bytes: less free space than this where the trainer writes is a full disk


def save_faults(main: Callable[[C], Path]) -> Callable[[C], Path]:
    """A trainer's `main` whose failed save (a checkpoint's, the final model's: `WRITE_FAILURES`)
    is an OSError naming the output folder, with the errno the writer reported (else ENOSPC when
    the folder's disk has under ROOM free, else EIO): `run_cli` prints it as one line, status 75
    (retry once there is room), not as a traceback of the writer."""

    @functools.wraps(main)
    def guarded(cfg: C) -> Path:
        try:
            return main(cfg)
        except Exception as e:  # SafetensorError is no RuntimeError
            writer = isinstance(e, RuntimeError) or type(e).__name__ == "SafetensorError"
            if not (writer and WRITE_FAILURES.search(str(e))):
                raise
            folder = Path(cfg.output_dir)
            message = " ".join(str(e).split())
            raise OSError(write_errno(folder, message), f"writing failed: {message}", str(folder)) from e

    return guarded


def write_errno(folder: Path, message: str) -> int:
    """The errno of a failed write into `folder`: the writer's own, else the disk's state."""
    if found := OS_ERROR.search(message):
        return int(found.group(1))
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    return errno.ENOSPC if shutil.disk_usage(existing).free < ROOM else errno.EIO


def single_process_launch(main: Callable[[L], Path]) -> Callable[[L], Path]:
    """A trainer's `main` that, run with DeepSpeed (`trainer.deepspeed`) but no launcher (no RANK
    or WORLD_SIZE: `python -m train.prm`, `ttc train-prm`, a one-process `ttc pipeline`), runs in
    `one_process()`. DeepSpeed otherwise looks for its ranks through MPI and dies without mpi4py.
    Plain runs are left as they are."""

    @functools.wraps(main)
    def launched(cfg: L) -> Path:
        launcher = "RANK" in os.environ or "WORLD_SIZE" in os.environ
        if launcher or not cfg.trainer.get("deepspeed"):
            return main(cfg)
        with one_process():
            return main(cfg)

    return launched


@contextlib.contextmanager
def one_process() -> Iterator[None]:
    """The environment torchrun gives one process (rank 0 of 1, a free local port), while it lasts;
    what the environment already sets stays (a user's MASTER_PORT)."""
    env = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": free_port()}
    added = {k: v for k, v in env.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:  # a later stage of the same process sees no launcher
        for key in added:
            os.environ.pop(key, None)


def last_checkpoint(folder: str | Path) -> str | None:
    """The newest `checkpoint-N` of `folder` a trainer can resume from (None: start afresh).
    transformers writes a checkpoint file by file and its `trainer_state.json` last, so a save
    cut by a preemption (SIGTERM), a kill or a full disk leaves a folder without a readable one;
    resuming from it fails on every rerun. Such newer folders are removed, with a warning naming
    each (their files are partial, and the next save of that step writes into the same folder),
    and the run resumes from the newest whole checkpoint before them."""
    folder = Path(folder)
    steps = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.removeprefix("checkpoint-").isdigit()]
    for path in sorted(steps, key=lambda p: int(p.name.removeprefix("checkpoint-")), reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text())
            return str(path)
        except (OSError, ValueError):
            log.warning(
                "%s: its save never finished (no readable trainer_state.json); removed, resuming from "
                "the checkpoint before it",
                path,
            )
            shutil.rmtree(path, ignore_errors=True)  # every rank of a launch may get here first
    return None


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def finish_distributed() -> None:
    """Every process waits for the others (the first may still be writing, e.g. merging an
    adapter) and leaves the process group: a rank that exits first with the group alive can abort
    in its communication threads' teardown ("terminate called without an active exception")."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        deepspeed = sys.modules.get("deepspeed")
        if deepspeed is not None and deepspeed.comm.comm.cdb is not None:
            # its cached groups too: a later trainer of this process makes new ones
            deepspeed.comm.destroy_process_group()
        else:
            dist.destroy_process_group()


def paper_arguments(cfg: Any, out: Path, world: int) -> dict[str, Any]:
    """The defaults of the PRM/ORM trainer and the reviser: the paper's optimiser (AdamW, betas
    0.9/0.95), the global batch through accumulation, and an evaluation and a checkpoint every
    `eval_every` steps scored by the validation loss. `cfg.trainer` overrides any of them."""
    return dict(
        output_dir=str(out / "checkpoints"),
        learning_rate=cfg.learning_rate,
        **PAPER_OPTIMISER,
        per_device_train_batch_size=cfg.per_device_batch_size,
        per_device_eval_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=cfg.batch_size // (cfg.per_device_batch_size * world),
        num_train_epochs=cfg.num_epochs,
        eval_strategy="steps",
        eval_steps=cfg.eval_every,
        save_strategy="steps",
        save_steps=cfg.eval_every,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=max(1, cfg.eval_every // 5),
        seed=cfg.seed,
        use_cpu=not torch.cuda.is_available(),
    )


def paper_deviations(overrides: dict[str, Any]) -> list[str]:
    """The `trainer:` overrides that leave the paper's optimiser (AdamW, betas 0.9/0.95)."""
    off = [
        f"{key}={overrides[key]} (paper: {value})"
        for key, value in PAPER_OPTIMISER.items()
        if overrides.get(key, value) != value
    ]
    if "adamw" not in str(overrides.get("optim", "adamw")):
        off.append(f"optim={overrides['optim']} (paper: AdamW)")
    return off


def trainer_arguments(cls: type[A], defaults: dict[str, Any], overrides: dict[str, Any], out: Path, kind: str) -> A:
    """`cls` (TrainingArguments or TRL's subclass) from `defaults` under the recipe's `trainer:`,
    which may set any of its fields; written to `<out>/training_args.json`. Tracking: TensorBoard
    by default (a few scalars a logging step, under `<output_dir>/checkpoints/runs/`), W&B or
    trackio by `report_to` when installed, offline unless the environment says otherwise (W&B's
    `wandb sync`; trackio is local unless given a Space); the run is named `kind:<run folder>`.
    A misspelled key, a bad value or a tracker that is not installed is a config error."""
    tracking = dict(report_to=["tensorboard"], run_name=f"{kind}:{out.parent.name}/{out.name}", project="ttc")
    try:
        args = cls(**{**tracking, **defaults, **overrides})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"trainer: {e}") from e
    report_to = cast(list[str], args.report_to)  # TrainingArguments.__post_init__ makes it a list
    if missing := set(report_to) - set(get_available_reporting_integrations()):
        raise ConfigError(
            f"trainer: report_to {sorted(missing)}: not installed (installed: "
            f"{', '.join(get_available_reporting_integrations()) or 'none'})"
        )
    if "wandb" in report_to:
        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_PROJECT", args.project)
    if first_process():
        out.mkdir(parents=True, exist_ok=True)
        (out / "training_args.json").write_text(args.to_json_string() + "\n")
    return args


def launch_arguments(
    cls: type[A], defaults: Callable[[Any, Path, int], dict[str, Any]], cfg: Any, out: Path, kind: str
) -> A:
    """`trainer_arguments` over the paper's `defaults(cfg, out, world)` for this launch's number
    of processes (WORLD_SIZE, set by torchrun, accelerate and our srun wrapper). The global batch
    must split evenly over them, else it would silently change; an override that leaves the
    paper's optimiser is logged."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if cfg.batch_size % (cfg.per_device_batch_size * world):
        raise ConfigError(
            f"batch_size {cfg.batch_size} is not a multiple of per_device_batch_size "
            f"{cfg.per_device_batch_size} x {world} processes"
        )
    if (deviations := paper_deviations(cfg.trainer)) and first_process():
        log.warning("trainer: not the paper's optimiser: %s", ", ".join(deviations))
    return trainer_arguments(cls, defaults(cfg, out, world), cfg.trainer, out, kind)


def save_log_history(trainer: Trainer, out: Path, chosen_step: int | None = None) -> Path:
    """`<out>/log_history.json`: the trainer's log (train loss, eval loss and metrics by step),
    its best checkpoint, and `chosen_step`, the step whose weights are the output (by default
    the best when the trainer loads it at the end, else the last), for train/curves.py."""
    state, args = trainer.state, trainer.args
    if chosen_step is None:
        chosen_step = (
            state.best_global_step if args.load_best_model_at_end and state.best_global_step else state.global_step
        )
    path = out / LOG_HISTORY_FILE
    path.write_text(
        json.dumps(
            {
                "schema": 1,
                "metric_for_best_model": args.metric_for_best_model,
                "best_metric": state.best_metric,
                "best_model_checkpoint": state.best_model_checkpoint,
                "chosen_step": chosen_step,
                "global_step": state.global_step,
                "log_history": state.log_history,
            },
            indent=2,
        )
        + "\n"
    )
    return path
