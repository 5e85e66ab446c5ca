"""Training curves from a trainer's `log_history.json` (written by train/prm.py
`save_log_history` for the PRM/ORM, the reviser and the toy LM): train and validation loss
against steps with the kept checkpoint marked, and a one-line summary: the trainers' part of the
report (`PART`, held by each trainer's stage spec).

The file holds `log_history` (the Trainer's entries: `loss` at logging steps, `eval_loss` and
`eval_<metric>` at evaluations), `metric_for_best_model`, `best_metric`, `chosen_step` (the
step whose weights are the output) and `global_step`. It draws with matplotlib itself (headless,
as eval/plots.py's `figure` does): train does not import eval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from data.records import RecordError
from ttc.stages.spec import Finding, ReportPart


def read(path: Path | str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def series(history: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of every log entry that has `key`."""
    points = [(entry["step"], entry[key]) for entry in history if key in entry]
    return [s for s, _ in points], [v for _, v in points]


def plot(log_history_path: Path | str, png_path: Path | str, title: str) -> Path:
    """One figure: train and validation loss against steps, the chosen checkpoint marked on the
    validation curve; a selection metric other than the loss (e.g. the within-question AUC) on a
    second axis, since it is what chose the checkpoint."""
    import matplotlib

    matplotlib.use("Agg")  # no display: CI, Slurm nodes
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    record = read(log_history_path)
    history, chosen, metric = record["log_history"], record["chosen_step"], record.get("metric_for_best_model")
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        ax.plot(*series(history, "loss"), label="train loss", alpha=0.7)
        eval_steps, eval_losses = series(history, "eval_loss")
        if eval_steps:
            ax.plot(eval_steps, eval_losses, marker="o", markersize=3, label="validation loss")
        at_chosen = dict(zip(eval_steps, eval_losses)).get(chosen)
        if at_chosen is None:  # no evaluation at the kept step (e.g. the toy LM's last step)
            ax.axvline(chosen, color="k", linestyle=":", label=f"kept: step {chosen}")
        else:
            ax.plot(
                [chosen], [at_chosen], marker="*", markersize=14, color="k", linestyle="", label=f"kept: step {chosen}"
            )
        handles, top = ax.get_legend_handles_labels()[0], ax
        if metric and metric != "eval_loss" and series(history, metric)[0]:
            twin = top = ax.twinx()  # drawn over ax: the legend goes on it
            handles += twin.plot(
                *series(history, metric),
                color="tab:green",
                linestyle="--",
                label=f"validation {metric.removeprefix('eval_')}",
            )
            twin.set_ylabel(metric.removeprefix("eval_"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title, fontsize=10)
        top.legend(handles=handles, fontsize=8, framealpha=0.8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        Path(png_path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(png_path, dpi=120)
    finally:
        plt.close(fig)
    return Path(png_path)


def summary(log_history_path: Path | str) -> str:
    """One line: the kept step of all, its validation loss (and selection metric), the lowest
    validation loss and the last train loss."""
    record = read(log_history_path)
    history, chosen, metric = record["log_history"], record["chosen_step"], record.get("metric_for_best_model")
    parts = [f"kept step {chosen} of {record['global_step']}"]
    eval_losses = dict(zip(*series(history, "eval_loss")))
    if chosen in eval_losses:
        parts.append(f"validation loss {eval_losses[chosen]:.4g} there")
    if metric and metric != "eval_loss" and chosen in (scores := dict(zip(*series(history, metric)))):
        parts.append(f"{metric.removeprefix('eval_')} {scores[chosen]:.4g}")
    if eval_losses:
        step, lowest = min(eval_losses.items(), key=lambda item: item[1])
        parts.append(f"lowest validation loss {lowest:.4g} at step {step} ({len(eval_losses)} evaluations)")
    train_steps, train_losses = series(history, "loss")
    if train_losses:
        parts.append(f"last train loss {train_losses[-1]:.4g} (step {train_steps[-1]})")
    return "; ".join(parts)


def training_findings(folder: Path) -> list[Finding]:
    """A trainer's curves and its one-line summary."""
    path = folder / "log_history.json"
    try:
        png = plot(path, folder / "training_curves.png", folder.name)
        return [Finding(f"{folder.name}: {summary(path)}.", png.name)]
    except (KeyError, TypeError, ValueError) as e:
        raise RecordError(f"{path}: not a trainer's log history ({e})") from e


PART = ReportPart(
    "Training curves (PRM, reviser, revision ORM)",
    10,
    "a trainer (ttc train-prm, ttc train-reviser)",
    "log_history.json",
    (),
    training_findings,
)
