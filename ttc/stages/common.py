"""What the sharded stages (`ttc sample`, `ttc label`, `ttc chains`) share around their own work."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from data.config import save_config
from data.shards import merge
from ttc.backends import LMConfig, load_lm
from ttc.lm import LM

log = logging.getLogger(__name__)


def finish(cfg: Any, name: str, shard_file: Path) -> Path:
    """A lone shard is the whole stage: merge it into `<name>.jsonl` right away."""
    return merge(cfg.output_dir, name, 1) if cfg.num_shards == 1 else shard_file


def run_stage(cfg: Any, run: Callable[[Any, LM], Path], model: LMConfig | None = None) -> Path:
    """Record the resolved config, load the LM (`model`, else `cfg.lm`), run this shard and log
    its compute."""
    save_config(cfg, Path(cfg.output_dir) / f"config.shard-{cfg.shard}.yaml")
    lm = load_lm(model or cfg.lm)
    path = run(cfg, lm)
    log.info("shard %d/%d done: %s", cfg.shard, cfg.num_shards, lm.ledger)
    return path
