"""The `ttc` command. Every pipeline stage is a subcommand (the rule; trainers also keep
`python -m train.<name>` for launchers that need a module, e.g. `torchrun -m train.prm`):

    ttc <stage command> --config recipe.yaml [--key value ...] [--shard i --num_shards n]
    ttc merge <sharded command> --config recipe.yaml --num_shards n
    ttc pipeline --config configs/toy/demo.yaml --run_dir R [--slurm [--shards n] [--dry-run]]
    ttc demo [--preset full] [--retrain] [--from-scratch] [--key value ...]
    ttc report RUN_DIR

A stage command reads a YAML recipe (`--config`) overridden by `--key value` flags (nested keys as
`--section.key`); an unknown key is an error. The stage commands are those of the stage graph
(ttc/pipeline/graph.py), plus `solve` and `toy-models`; each module declares its `STAGE`
(ttc/stages/spec.py).

Bad input of any command (a recipe, a flag, a record, a model folder, an output folder another
run holds, a rerun with other settings) is one line `ttc <command>: <what, where>` on stderr and
exit status 2, before any model loads (TTC_TRACEBACK=1 adds the traceback). A fault of the
machine, not the input (a full disk or quota, an I/O error), is one line naming the path and exit
status 75 (EX_TEMPFAIL: the same command may succeed later; data/config.py run_cli). Before a stage's
own code runs, the models its config names are checked (ttc/stages/common.py) and, for a stage
that is not sharded, its output folder is locked for this run (`.lock-<command>`; a sharded
stage locks each shard, data/shards.py).

SIGTERM (Slurm's preemption and scancel, `kill`) stops a command cleanly, with exit status 143
(128 + SIGTERM, as a shell reports a process the signal killed; a stopped stage never counts as
done): the signal unwinds the command from wherever it is, so the work it has saved stays (a
sharded stage's finished units; a rerun resumes) and its engines are shut down on the way out
(ttc/lm/vllm.py). A second SIGTERM kills at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from data.config import BAD_INPUT_STATUS, ConfigError, parse_config, run_cli
from data.lock import lock_output
from ttc.pipeline.graph import commands
from ttc.stages.spec import StageSpec, load_spec

EXTRA = {"solve": "ttc.stages.solve", "toy-models": "eval.toy_models"}  # stage modules outside the graph
OWN = ("pipeline", "demo", "report")  # commands with their own flags


def stage_commands() -> dict[str, str]:
    """`ttc` command -> the stage module it runs (named, not imported: `ttc --help` stays light)."""
    return {**commands(), **EXTRA}


def stage_spec(command: str) -> StageSpec[Any]:
    return load_spec(stage_commands()[command])


def own(command: str, argv: list[str]) -> None:
    """A command of OWN, imported only when it runs."""
    if command == "report":
        from ttc.pipeline.report import cli as report

        return report(argv)
    from ttc.pipeline.command import demo, pipeline

    (demo if command == "demo" else pipeline)(argv)


def run_stage(command: str, argv: list[str]) -> None:
    spec = stage_spec(command)
    cfg = parse_config(spec.config, argv)
    guard(command, spec, cfg)
    print(spec.main(cfg))


def guard(command: str, spec: StageSpec[Any], cfg: Any) -> None:
    """Before a stage's own code: the models its config names are model folders, and the output
    folder of a stage that is not sharded is ours (sharded stages claim each shard themselves)."""
    from ttc.stages.common import check_models

    check_models(cfg)
    if not spec.sharded and cfg.output_dir:
        lock_output(cfg.output_dir, command)


def merge(argv: list[str]) -> None:
    from data.shards import merge as merge_shards

    sharded = {c: (spec.config, spec.records) for c in stage_commands() if (spec := stage_spec(c)).records is not None}
    if not argv or argv[0] not in sharded:
        raise ConfigError(f"ttc merge <{'|'.join(sharded)}> --config recipe.yaml --num_shards n")
    config, records = sharded[argv[0]]
    cfg = parse_config(config, argv[1:])
    print(merge_shards(cfg.output_dir, records, cfg.num_shards))


STOPPED_STATUS = 128 + signal.SIGTERM


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Inside, SIGTERM raises SystemExit(STOPPED_STATUS) in the main thread, so that `finally`
    blocks and exit hooks run (Python's default dies on the spot, leaving engines behind);
    the handler is one-shot, and the one before is back on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return

    def stop(signum: int, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise SystemExit(STOPPED_STATUS)

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    names = [*stage_commands(), "merge", *OWN]
    usage = f"usage: ttc {{{','.join(names)}}} --config recipe.yaml [--key value ...]"
    if not argv or argv[0] in ("-h", "--help"):
        print(f"{usage}\n{__doc__}", file=sys.stderr)
        raise SystemExit(0 if argv else BAD_INPUT_STATUS)
    if argv[0] not in names:
        print(f"ttc: unknown command {argv[0]!r}; {usage}", file=sys.stderr)
        raise SystemExit(BAD_INPUT_STATUS)
    logging.basicConfig(level=os.environ.get("TTC_LOG", "INFO"), format="%(asctime)s %(name)s: %(message)s")
    with stop_on_sigterm():
        if argv[0] == "merge":
            run_cli("ttc merge", lambda: merge(argv[1:]))
        elif argv[0] in OWN:
            run_cli(f"ttc {argv[0]}", lambda: own(argv[0], argv[1:]))
        else:
            run_cli(f"ttc {argv[0]}", lambda: run_stage(argv[0], argv[1:]))


if __name__ == "__main__":
    main()
