"""Figures: arc diagrams of merge plans and the phase-transition plot (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .atomic import atomic_write
from .linear.plan import Plan

__all__ = ["STRATEGY_COLOURS", "pyplot", "label_axes", "draw_arc_diagram", "save_arc_diagram", "save_arc_grid", "save_phase_figure",
           "save_figure"]

STRATEGY_COLOURS = {"vanilla": "#ff7f0e", "progressive": "#2ca02c", "boot": "#1f77b4", "consistency": "#9467bd",
                    "optimal": "#d62728", "non-canonical": "#d62728"}
"""One colour per merge strategy (and for the optimum / a non-canonical plan) in every figure."""


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (unless a backend was chosen already)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def label_axes(ax, *, xlabel: str, ylabel: str, title: str, xscale: str | None = None, yscale: str | None = "log",
               grid: bool = True, legend_size: float | None = None, legend_frame: bool = True) -> None:
    """Scales, labels, title, a light grid and the legend of one panel (the finishing every study figure shares)."""
    if xscale:
        ax.set_xscale(xscale)
    if yscale:
        ax.set_yscale(yscale)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if grid:
        ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=legend_size, frameon=legend_frame)


def save_figure(fig, path, dpi: int = 130, rect: tuple[float, float, float, float] | None = None) -> Path:
    """Lay out ``fig`` tightly (inside ``rect`` if given), write it to ``path`` atomically (format from
    the suffix; the folder is created) and close it; returns the path."""
    plt = pyplot()
    if rect is None:
        fig.tight_layout()
    else:
        fig.tight_layout(rect=rect)
    path = Path(path)
    try:
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, dpi=dpi, format=path.suffix.lstrip(".").lower() or None)
    finally:
        plt.close(fig)
    return path


def draw_arc_diagram(plan: Plan, ax, title: str | None = None, cmap: str = "viridis") -> None:
    """One arc per merge over the teacher steps (noise on the left); colour = training order.

    Leaf t is the unit segment from x = T − t to x = T − t + 1; a merge of [a → b] is a half-ellipse
    from x = T − a to x = T − b whose height grows with the number of leaves it spans.
    """
    import matplotlib as mpl

    T = plan.start
    nodes = list(plan.nodes())
    colors = mpl.colormaps[cmap](np.linspace(0.05, 0.95, max(len(nodes), 1)))
    theta = np.linspace(0, np.pi, 64)
    for order, node in enumerate(nodes):
        x0, x1 = T - node.start, T - node.end
        cx, rx = (x0 + x1) / 2, (x1 - x0) / 2
        ry = 0.25 + 0.75 * (x1 - x0) / T
        ax.plot(cx - rx * np.cos(theta), ry * np.sin(theta), color=colors[order], lw=1.6)
    ax.plot([0, T], [0, 0], color="0.3", lw=0.8)
    ax.scatter(np.arange(T + 1), np.zeros(T + 1), s=6, color="0.3", zorder=3)
    step = max(1, T // 8)
    ticks = list(range(0, T + 1, step))
    ax.set_xticks(ticks, [str(T - x) for x in ticks])
    ax.set_xlabel("teacher time t (noise → data)")
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.1)
    ax.set_xlim(-0.5, T + 0.5)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    sm = mpl.cm.ScalarMappable(cmap=cmap, norm=mpl.colors.Normalize(1, max(len(nodes), 1)))
    ax.figure.colorbar(sm, ax=ax, label="training order (stage)", fraction=0.04, pad=0.02)
    ax.set_title(title or f"{plan.stages} stages")


def save_arc_diagram(plan: Plan, path, title: str | None = None) -> Path:
    """Write the arc diagram of ``plan`` to ``path`` (PNG, PDF or SVG by extension)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 2.6))
    draw_arc_diagram(plan, ax, title)
    path = save_figure(fig, path, dpi=150)
    return path


def save_arc_grid(plans: Sequence[tuple[str, Plan]], path) -> Path:
    """Several arc diagrams stacked vertically, each titled."""
    plt = pyplot()
    fig, axes = plt.subplots(len(plans), 1, figsize=(7, 2.3 * len(plans)), squeeze=False)
    for ax, (title, plan) in zip(axes[:, 0], plans):
        draw_arc_diagram(plan, ax, title)
    path = save_figure(fig, path, dpi=150)
    return path


def save_phase_figure(lam: np.ndarray, gaps: dict[str, np.ndarray], path, title: str = "") -> Path:
    """Error gap W2(strategy) − W2(optimum) against λ (log axes; zero gaps drawn at the floor)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    positive = np.concatenate([g[g > 0] for g in gaps.values()]) if gaps else np.array([1.0])
    floor = positive.min() / 3 if positive.size else 1e-12
    styles = {"vanilla": "-", "progressive": "--", "boot": "-", "consistency": ":"}
    for name, g in gaps.items():
        ax.plot(lam, np.maximum(g, floor), styles.get(name, "-"), lw=1.8, label=name, marker="o", ms=2.5)
    ax.axhline(floor, color="0.7", lw=0.6)
    ax.text(lam[0], floor * 1.15, "optimal (gap 0)", fontsize=7, color="0.4")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axvline(1.0, color="0.8", lw=0.8, ls="--")
    ax.set_xlabel("data variance λ")
    ax.set_ylabel("W2 gap to the optimal plan")
    ax.set_title(title)
    ax.legend(frameon=False)
    path = save_figure(fig, path, dpi=150)
    return path
