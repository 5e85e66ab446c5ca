"""The eval stages' headline figures (accuracy per budget, AUC, efficiency) as scalars in the
trackers the trainers use (train/arguments.py), when a stage's `tracking.report_to` names some:

- `tensorboard`: event files under `<output_dir>/tensorboard/`;
- `wandb`: offline unless WANDB_MODE says otherwise (`wandb sync` later), project `ttc`
  (or WANDB_PROJECT), files under `<output_dir>/wandb/`;
- `trackio`: local unless TRACKIO_SPACE_ID names a Space, project `ttc`.

A curve (step -> value, e.g. accuracy against the generation budget) is one series over its
steps; a single figure is logged at step 0. Off by default. An unknown tracker, or one that is
not installed, is a config error when the config is built, before any model loads.
"""

from __future__ import annotations

import importlib.util
import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from data.config import ConfigError

TRACKERS = ("tensorboard", "wandb", "trackio")  # each: the package it needs is its name
Figures = Mapping[str, float | None | Mapping[int, float | None]]  # None: a figure with no value (left out)


@dataclass
class Tracking:
    """Where a stage logs its headline figures."""

    report_to: list[str] = field(default_factory=list)  # of TRACKERS; empty: no tracking
    run_name: str | None = None  # default: `<stage>:<output_dir's parent>/<output_dir's name>`

    def __post_init__(self) -> None:
        if unknown := [t for t in self.report_to if t not in TRACKERS]:
            raise ConfigError(f"tracking.report_to: unknown tracker(s) {unknown} (known: {', '.join(TRACKERS)})")
        if missing := [t for t in self.report_to if importlib.util.find_spec(t) is None]:
            raise ConfigError(f"tracking.report_to: {missing} not installed (pip install {' '.join(missing)})")


def rows(figures: Figures) -> dict[int, dict[str, float]]:
    """Step -> name -> value, steps in increasing order (W&B and trackio take a run's steps in
    order, so every series is logged step by step together)."""
    by_step: dict[int, dict[str, float]] = defaultdict(dict)
    for name, value in figures.items():
        for step, v in value.items() if isinstance(value, Mapping) else [(0, value)]:
            if v is not None:
                by_step[int(step)][name] = float(v)
    return dict(sorted(by_step.items()))


def log_figures(tracking: Tracking, output_dir: Path | str, stage: str, figures: Figures) -> None:
    """`figures` (name -> a number, or a curve step -> number) to every tracker of `tracking`."""
    if not tracking.report_to:
        return
    out = Path(output_dir)
    name = tracking.run_name or f"{stage}:{out.parent.name}/{out.name}"
    points = rows(figures)
    if "tensorboard" in tracking.report_to:
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(str(out / "tensorboard")) as writer:
            for step, row in points.items():
                for tag, v in row.items():
                    writer.add_scalar(tag, v, step)
    if "wandb" in tracking.report_to:
        import wandb  # pyright: ignore[reportMissingImports]  # optional: not a dependency, asked for by report_to

        out.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "ttc"),
            name=name,
            job_type=stage,
            dir=str(out),
            mode=os.environ.get("WANDB_MODE", "offline"),
        )
        for step, row in points.items():
            run.log(row, step=step)
        run.finish()
    if "trackio" in tracking.report_to:
        import trackio  # pyright: ignore[reportMissingImports]  # optional: not a dependency, asked for by report_to

        trackio.init(project="ttc", name=name)
        for step, row in points.items():
            trackio.log(row, step=step)
        trackio.finish()
