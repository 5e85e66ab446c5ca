"""The `ttc` command. Every pipeline stage is a subcommand (the rule; trainers also keep
`python -m train.<name>` for launchers that need a module, e.g. `torchrun -m train.prm`):

    ttc <stage command> --config recipe.yaml [--key value ...] [--shard i --num_shards n]
    ttc merge <sharded command> --config recipe.yaml --num_shards n
    ttc pipeline --config configs/toy/demo.yaml --run_dir R [--slurm [--shards n] [--dry-run]]
    ttc demo [--preset full] [--retrain] [--from-scratch] [--key value ...]
    ttc report RUN_DIR

A stage command reads a YAML recipe (`--config`) overridden by `--key value` flags (nested keys as
`--section.key`); an unknown key is an error. The stage commands are those of the stage graph
(ttc/pipeline/graph.py), plus `solve` and `toy-models`.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

from data.config import ConfigError, parse_config
from data.records import RecordError
from ttc.pipeline.graph import commands

EXTRA = {"solve": "ttc.stages.solve:Config", "toy-models": "eval.toy_models:ToyModelsConfig"}
OWN = {"pipeline": "ttc.pipeline.command:pipeline", "demo": "ttc.pipeline.command:demo",
       "report": "ttc.pipeline.report:cli"}  # commands with their own flags: function(argv)


def stage_commands() -> dict[str, str]:
    return {**commands(), **EXTRA}


def load(target: str):
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def run_stage(command: str, argv: list[str]) -> None:
    config = stage_commands()[command]
    cls = load(config)
    print(importlib.import_module(config.split(":")[0]).main(parse_config(cls, argv)))


def merge(argv: list[str]) -> None:
    from data.shards import merge as merge_shards

    sharded = {c: t for c, t in stage_commands().items() if hasattr(importlib.import_module(t.split(":")[0]), "NAME")}
    if not argv or argv[0] not in sharded:
        raise ConfigError(f"ttc merge <{'|'.join(sharded)}> --config recipe.yaml --num_shards n")
    cfg = parse_config(load(sharded[argv[0]]), argv[1:])
    print(merge_shards(cfg.output_dir, importlib.import_module(sharded[argv[0]].split(":")[0]).NAME, cfg.num_shards))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    names = [*stage_commands(), "merge", *OWN]
    if not argv or argv[0] not in names:
        sys.exit(f"usage: ttc {{{','.join(names)}}} --config recipe.yaml [--key value ...]\n{__doc__}")
    logging.basicConfig(level=os.environ.get("TTC_LOG", "INFO"), format="%(asctime)s %(name)s: %(message)s")
    try:
        if argv[0] == "merge":
            merge(argv[1:])
        elif argv[0] in OWN:
            load(OWN[argv[0]])(argv[1:])
        else:
            run_stage(argv[0], argv[1:])
    except (ConfigError, RecordError, FileNotFoundError) as e:
        sys.exit(f"ttc {argv[0]}: {e}")


if __name__ == "__main__":
    main()
