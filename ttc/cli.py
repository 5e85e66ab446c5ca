"""The `ttc` command: one subcommand per pipeline stage.

    ttc sample --config configs/toy/sample.yaml [--key value ...]
    ttc label --config configs/toy/label.yaml [--shard i --num_shards n]
    ttc eval --config configs/toy/eval_search.yaml [--shard i --num_shards n]   # eval/search.py
    ttc merge <stage> --config <the stage's recipe> --num_shards n

Each stage reads a YAML recipe (`--config`) overridden by `--key value` flags (nested keys as
`--section.key`); an unknown key is an error. Sharded stages (`--shard i --num_shards n`) are
merged with `ttc merge`, which reads the stage's recipe for its output folder.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

from data.config import ConfigError, parse_config
from data.records import RecordError

STAGES = {"sample": "ttc.sample", "label": "ttc.label", "trajectories": "ttc.trajectories",
          "eval": "eval.search", "solve": "ttc.solve"}  # each module: Config, main (sharded ones: NAME)


def _stage(name: str, argv: list[str]) -> None:
    module = importlib.import_module(STAGES[name])
    print(module.main(parse_config(module.Config, argv)))


def _merge(argv: list[str]) -> None:
    from data.shards import merge

    sharded = [name for name in STAGES if hasattr(importlib.import_module(STAGES[name]), "NAME")]
    if not argv or argv[0] not in sharded:
        raise ConfigError(f"ttc merge <{'|'.join(sharded)}> --config recipe.yaml --num_shards n")
    module = importlib.import_module(STAGES[argv[0]])
    cfg = parse_config(module.Config, argv[1:])
    print(merge(cfg.output_dir, module.NAME, cfg.num_shards))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    own = {"demo": "ttc.demo", "report": "eval.report"}  # commands with their own flags: module.cli(argv)
    commands = [*STAGES, "merge", *own]
    if not argv or argv[0] not in commands:
        sys.exit(f"usage: ttc {{{','.join(commands)}}} --config recipe.yaml [--key value ...]\n{__doc__}")
    logging.basicConfig(level=os.environ.get("TTC_LOG", "INFO"), format="%(asctime)s %(name)s: %(message)s")
    try:
        if argv[0] == "merge":
            _merge(argv[1:])
        elif argv[0] in own:
            importlib.import_module(own[argv[0]]).cli(argv[1:])
        else:
            _stage(argv[0], argv[1:])
    except (ConfigError, RecordError, FileNotFoundError) as e:
        sys.exit(f"ttc {argv[0]}: {e}")


if __name__ == "__main__":
    main()
