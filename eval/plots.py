"""Figures of the eval modules (matplotlib, headless) and the report section they belong to.

Every figure is a PNG written by `figure(path)`, which may hold several panels; `plot_curves`
draws accuracy-vs-budget lines on one panel, log2 x axis (the paper's axes). A module's
`section(...)` returns a `Section`: its markdown and the PNGs it refers to, which `ttc report`
assembles.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, TypeVar

import numpy as np

Curve = Mapping[int, float]  # budget -> accuracy
Label = TypeVar("Label", bound=str)  # a curve's name (a str or a str enum)
X = TypeVar("X", bound=float)  # a curve's x: a budget, a ratio


@dataclass
class Section:
    """One part of the report: markdown text and the figures it shows."""

    markdown: str
    figures: list[Path] = field(default_factory=list)


@contextmanager
def figure(
    path: Path | str, nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (6, 4)
) -> Iterator[tuple[Any, Any]]:
    """(fig, axes) to draw on; saved to `path` (folders made) and closed on exit."""
    import matplotlib

    matplotlib.use("Agg")  # no display: CI, Slurm nodes
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=nrows * ncols == 1)
    try:
        yield fig, axes
        fig.tight_layout()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)


def plot_curves(
    ax: Any,
    curves: Mapping[Label, Mapping[X, float]],
    xlabel: str = "N (generations)",
    ylabel: str = "accuracy",
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    title: str | None = None,
    errors: Mapping[Label, Mapping[X, float]] | None = None,
) -> None:
    """One line per curve (label -> {budget: value}), x on a log2 scale; `styles` holds extra
    matplotlib keywords per label (colour, line style), `errors[label][budget]` an error bar."""
    for label, curve in curves.items():
        xs = sorted(curve)
        bars = (errors or {}).get(label)
        yerr = [bars.get(x, 0.0) for x in xs] if bars else None
        style = {"marker": "o", "capsize": 3 if yerr else 0, **((styles or {}).get(label, {}))}
        ax.errorbar(xs, [curve[x] for x in xs], yerr=yerr, label=label, **style)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def grid_shape(panels: int, max_cols: int = 3) -> tuple[int, int]:
    """(rows, cols) of a panel grid holding `panels` plots."""
    cols = min(panels, max_cols)
    return int(np.ceil(panels / cols)), cols
