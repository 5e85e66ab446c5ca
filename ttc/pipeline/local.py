"""Run the stages of a run here, in one process (`ttc demo`, `ttc pipeline`), or one stage of it
(`ttc pipeline --stage S`: what each Slurm job runs, ttc/pipeline/slurm.py).

In one process every LM is loaded once and handed to each stage that samples from it (`Stage.lm`,
its spec's `run(cfg, lm)`), then closed after the last of them (the graph lists the base model's
stages first, so its vLLM engine starts once). Every stage's config is built, and so checked,
before any work starts.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from data.config import ConfigError
from data.shards import merge
from ttc.lm import LM
from ttc.lm.spec import LMConfig, load_lm
from ttc.pipeline.graph import LMOf, Stage, stage
from ttc.pipeline.run import Run

log = logging.getLogger(__name__)


class Engines:
    """The run's LMs, each loaded on first use and closed when no later stage needs it. A stage
    whose engine settings differ from the run's (its recipe entry's) gets an engine of its own."""

    def __init__(self):
        self.loaded: dict[str, LM] = {}

    def __call__(self, lm: dict[str, Any]) -> LM:
        key = json.dumps(lm, sort_keys=True)
        if key not in self.loaded:
            log.info("loading %s (once for every stage that samples from it)", lm["model"])
            self.loaded[key] = load_lm(LMConfig(**lm))
        return self.loaded[key]

    def release(self, keep: set[str] | frozenset[str] = frozenset()) -> None:
        for key in [k for k in self.loaded if k not in keep]:
            self.loaded.pop(key).close()


def lm_settings(s: Stage, values: dict[str, Any]) -> dict[str, Any] | None:
    """The settings of the LM a stage samples from, as its config has them."""
    return next((values[key] for key, source in s.inputs.items() if source == LMOf(s.lm)), None) if s.lm else None


def execute(s: Stage, cfg: Any, engines: Engines | None = None, values: dict[str, Any] | None = None) -> Any:
    """The stage's own entry: its spec's `run(cfg, lm)` with a shared LM, else `main(cfg)`."""
    spec = s.spec()
    lm = lm_settings(s, values or {}) if engines else None
    if engines is None or lm is None or spec.run is None:
        return spec.main(cfg)
    return spec.run(cfg, engines(lm))


def trained_curves(run: Run) -> None:
    """The checkpoints' log histories into the run, where the report finds every trainer's."""
    for name, folder in run.trained.items():
        history = Path(folder) / "log_history.json"
        if history.is_file():
            run.dir(name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(history, run.dir(name) / history.name)


def run_all(run: Run) -> list[str]:
    """Every chosen stage not done yet, in order; returns the names of those that ran."""
    run.lock(run.chosen(), whole_run=True)
    run.write_plan()
    trained_curves(run)
    planned = [(s, run.settings(s)) for s in run.chosen()]
    todo = [(s, values) for s, values in planned if not run.done(s, values)]
    ran = {s.name for s, _ in todo}
    for s, _ in todo:
        run.check_upstream(s, pending=ran)
    if len(todo) < len(planned):
        log.info("cached (DONE): %s", ", ".join(s.name for s, _ in planned if s.name not in ran))
    configs = [run.build(s, values) for s, values in todo]  # every error before any work
    engines = Engines()
    total = time.perf_counter()
    try:
        with tqdm(total=len(planned), initial=len(planned) - len(todo), desc="pipeline", unit="stage") as bar:
            for i, ((s, values), cfg) in enumerate(zip(todo, configs)):
                bar.set_postfix_str(s.name)
                start = time.perf_counter()
                execute(s, cfg, engines, values)
                run.mark_done(s, values, cfg, time.perf_counter() - start)
                log.info("stage %s done in %.1f s", s.name, time.perf_counter() - start)
                engines.release(keep={json.dumps(lm_settings(later, v), sort_keys=True) for later, v in todo[i + 1 :]})
                bar.update()
    finally:
        engines.release()
    if todo:
        log.info("%d stage(s) in %.1f s", len(todo), time.perf_counter() - total)
    return [s.name for s, _ in todo]


def run_one(run: Run, name: str, shard: int | None = None, num_shards: int = 1, merged: bool = False) -> None:
    """One stage (a Slurm job): the whole of it, one shard of a sharded one, or the merge of its
    shards, which marks it done. Under torchrun only the first process marks it."""
    s = stage(name)
    if s not in run.stages:
        raise ConfigError(f"--stage {name}: not a stage of this run (stages: {', '.join(x.name for x in run.stages)})")
    if shard is None:  # a shard's task locks its own shard (data/shards.py)
        run.lock([s], whole_run=False)
    values = run.settings(s)
    if run.done(s, values):
        log.info("%s: done already", name)
        return
    run.check_upstream(s)
    start = time.perf_counter()
    records = s.spec().records
    if shard is not None or merged:
        if records is None:
            raise ConfigError(f"--stage {name}: not a sharded stage (--shard, --merge)")
        cfg = run.build(s, {**values, "shard": shard or 0, "num_shards": num_shards})
        if not merged:
            execute(s, cfg)
            return
        merge(cfg.output_dir, records, num_shards)
    else:
        cfg = run.build(s, values)
        execute(s, cfg)
    if os.environ.get("RANK", "0") == "0":
        run.mark_done(s, values, cfg, time.perf_counter() - start)
