"""`ttc pipeline` and `ttc demo`: a run of the stage graph, here or on Slurm.

    ttc demo                                    # configs/toy/demo.yaml into runs/demo, then runs/demo/report.md
    ttc demo --run_dir runs/demo2 --test_data.per_level 20 --stages.eval_search.max_budget 32
    ttc demo --preset full                      # configs/toy/demo_full.yaml: the project's results
    ttc demo --retrain                          # train the PRM, reviser and ORM in the run too
    ttc demo --from-scratch                     # first retrain toy-base and toy-large (~2 h on CPU)
    ttc demo --only "[eval_prm, difficulty]"    # just these stages (e.g. two processes on two cores)
    ttc pipeline --config configs/qwen2.5-math-1.5b/pipeline.yaml --run_dir R --slurm --shards 8 [--dry-run]
    ttc pipeline --config RECIPE --run_dir R --stage S [--shard i --num_shards n | --merge --num_shards n]

`ttc demo` is `ttc pipeline` with the toy recipe by default, in this process, then the report.
`--stage S` runs one stage (what each Slurm job runs). Any other flag overrides the recipe
(ttc/pipeline/run.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data.config import ConfigError, parse_config
from ttc.pipeline.local import run_all, run_one
from ttc.pipeline.report import write
from ttc.pipeline.run import PipelineConfig, Run
from ttc.pipeline.slurm import submit

RECIPE = "configs/toy/demo.yaml"


def recipe_flags(argv: list[str], default: str | None) -> list[str]:
    """The recipe's flags: `--preset NAME` as configs/toy/demo_NAME.yaml, `--from-scratch` and
    `--retrain` as settings, `--config` first (the default recipe when none is given)."""
    flags = []
    for a in argv:
        flags.append({"--from-scratch": "--from_scratch=true", "--retrain": "--retrain=true"}.get(a, a))
    if "--preset" in flags:
        i = flags.index("--preset")
        if i + 1 == len(flags):
            raise ConfigError("--preset needs a name (configs/toy/demo_NAME.yaml)")
        preset = Path(RECIPE).with_name(f"demo_{flags[i + 1]}.yaml")
        if not preset.exists():
            raise ConfigError(f"--preset {flags[i + 1]}: no recipe {preset}")
        flags[i : i + 2] = ["--config", str(preset)]
    if not any(a == "--config" or a.startswith("--config=") for a in flags):
        if default is None:
            raise ConfigError("--config RECIPE is required (e.g. configs/toy/demo.yaml)")
        flags = ["--config", default, *flags]
    return flags


def parse(argv: list[str], default: str | None = RECIPE) -> tuple[Run, list[str]]:
    """The run, and its flags as every Slurm job gets them (absolute --config and --run_dir)."""
    flags = recipe_flags(argv, default)
    cfg = parse_config(PipelineConfig, flags)
    i = next(i for i, a in enumerate(flags) if a == "--config" or a.startswith("--config="))
    recipe = flags[i].partition("=")[2] or flags[i + 1]
    rest = strip(strip(flags, "--config"), "--run_dir")
    job_flags = ["--config", str(Path(recipe).resolve()), *rest, "--run_dir", str(Path(cfg.run_dir).resolve())]
    return Run(cfg, recipe), job_flags


def strip(flags: list[str], name: str) -> list[str]:
    """`flags` without `name value` (or `name=value`)."""
    out, skip = [], False
    for a in flags:
        if skip:
            skip = False
        elif a == name:
            skip = True
        elif not a.startswith(f"{name}="):
            out.append(a)
    return out


def own_flags() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ttc pipeline", add_help=False)
    p.add_argument("--slurm", action="store_true")
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--stage")
    p.add_argument("--shard", type=int)
    p.add_argument("--num_shards", type=int, default=1)
    p.add_argument("--merge", action="store_true")
    return p


def pipeline(argv: list[str], default: str | None = None) -> None:
    if {"-h", "--help"} & set(argv):
        print(__doc__)
        return
    own, rest = own_flags().parse_known_args(argv)
    run, flags = parse(rest, default)
    if own.stage:
        run_one(run, own.stage, own.shard, own.num_shards, own.merge)
    elif own.slurm:
        print(" ".join(submit(run, flags, own.shards, own.dry_run)))
    else:
        run_all(run)
        print(write(run.run_dir))


def demo(argv: list[str]) -> None:
    pipeline(argv, RECIPE)
