"""What the sharded stages (`ttc sample`, `ttc label`, `ttc chains`, `ttc eval`) share around
their own work: everything that can refuse a run is done before a model loads.

`run_stage` checks the models the config names (model folders, data/models.py check_model; an
LM, a policy or reviser or the likelihood baseline, must be a causal LM and no PRM folder) and
the stage's inputs (its spec's `check(cfg)`, ttc/stages/spec.py), claims this shard's output (a lock, and settings
equal to those of the records already there, data/shards.py:claim), records the resolved config
beside the records, and only then loads the LM and runs.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Callable, Sequence

from data import shards
from data.config import ConfigError, save_config
from data.models import check_model
from data.records import Problem
from data.shards import Shard, merge
from ttc.lm.spec import LMConfig, load_lm
from ttc.stages.spec import StageSpec

log = logging.getLogger(__name__)


def records_of(spec: StageSpec[Any], use: str) -> str:
    """A sharded stage's records stem; `use` (a function for sharded stages only) refuses any other."""
    if spec.records is None:
        raise TypeError(f"{spec.config.__name__}: {use} is for sharded stages (no `records` declared)")
    return spec.records


def run_problems(
    cfg: Any,
    spec: StageSpec[Any],
    problems: Sequence[Problem],
    process: Callable[[list[Problem]], list[list[dict]]],
    empty_units: bool = False,
) -> Path:
    """This shard of `problems` through `process`, `batch_problems` at a time, each problem's
    records saved as its batch returns (resumable, data/shards.py run_shard); a lone shard is the
    whole stage, merged into `<records>.jsonl` right away. `empty_units`: a problem may give none."""
    records, shard = records_of(spec, "run_problems()"), Shard(cfg.shard, cfg.num_shards)
    path = shards.run_shard(
        cfg.output_dir,
        records,
        shard,
        problems,
        lambda p: p.id,
        process,
        cfg.batch_problems,
        stage_settings(cfg, spec),
        cfg.overwrite,
        empty_units=empty_units,
    )
    return merge(cfg.output_dir, records, 1) if cfg.num_shards == 1 else path


def stage_settings(cfg: Any, spec: StageSpec[Any]) -> dict[str, Any]:
    """The settings that make the stage's records (its spec's volatile fields left out)."""
    return shards.settings_of(cfg, spec.volatile)


# Plain-text config fields that name a model folder (the analyses' PRM and baseline, a trainer's
# base, a toy LM's earlier phase, the FLOPs comparison's two models, the toy models compared).
MODEL_FIELDS = frozenset({"model", "prm", "baseline", "init_from", "small_model", "large_model", "models"})


def check_models(cfg: Any, prefix: str = "") -> None:
    """Every model the config names (an `LMConfig`, a verifier's `path`, a MODEL_FIELDS text) is
    a model folder or a cached hub id: one line otherwise, before anything is loaded."""
    from ttc.verifiers.spec import VerifierConfig, resolve_path

    for f in dataclasses.fields(cfg):
        value, key = getattr(cfg, f.name), f"{prefix}{f.name}"  # a declared field, read by its name
        if isinstance(value, LMConfig):
            check_model(value.model, f"{key}.model", lm=True)  # a policy, reviser, larger model: no PRM
        elif isinstance(value, VerifierConfig):
            try:
                resolve_path(value.path, value.kind == "likelihood")  # a cached hub id's snapshot, or one line
            except ConfigError as e:
                raise ConfigError(f"{key}.{e}") from None  # "prm.path: ..."
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_models(value, f"{key}.")
        elif f.name in MODEL_FIELDS and isinstance(value, str):
            check_model(value, key)
        elif f.name in MODEL_FIELDS and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    check_model(item, f"{key}[{i}]")


def claim(cfg: Any, spec: StageSpec[Any]) -> shards.ShardWriter:
    """This shard's output for this run: locked, its settings checked (or saved), and the
    resolved config written beside it when there is work to do (a finished shard's config
    stays the one that made it). A sharded stage's config has `output_dir`, `shard`,
    `num_shards` and `overwrite` (tests/ttc/pipeline/test_stage_contract.py)."""
    records = records_of(spec, "claim()")
    writer = shards.claim(
        cfg.output_dir, records, Shard(cfg.shard, cfg.num_shards), stage_settings(cfg, spec), cfg.overwrite
    )
    if not writer.finished:
        save_config(cfg, Path(cfg.output_dir) / f"config.shard-{cfg.shard}.yaml")
    return writer


def run_stage(cfg: Any, spec: StageSpec[Any], model: LMConfig | None = None) -> Path:
    """Check the models and inputs, claim the output, load the LM (`model`, else `cfg.lm`), run
    this shard (`spec.run`) and log its compute."""
    if spec.run is None:
        raise TypeError(f"{spec.config.__name__}: run_stage() needs the spec's run(cfg, lm)")
    check_models(cfg)
    if spec.check is not None:
        spec.check(cfg)
    claim(cfg, spec)
    lm = load_lm(model or cfg.lm)
    path = spec.run(cfg, lm)
    log.info("shard %d/%d done: %s", cfg.shard, cfg.num_shards, lm.ledger)
    return path


def require(items: Any, message: str) -> Any:
    """`items`, or ConfigError(message) if there are none: an empty input is an error, not an
    empty output."""
    if not items:
        raise ConfigError(message)
    return items
