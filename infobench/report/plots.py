"""PNG plots with matplotlib's Agg canvas (no display, no global backend change).

* :func:`plot_estimates` - one task: mean estimate vs n per estimator with
  error bars (+-1 standard deviation across seeds), the truth as a line (and
  its 95% Monte-Carlo band when the truth has a standard error).
* :func:`plot_heatmap` - tasks x estimators coloured by mean
  log2(estimate / truth), one panel per n; colours saturate at +-1 (a factor
  of 2), the printed values do not.
* :func:`plot_learning_curves` - scores of the checkpoints kept during
  training: one panel per score, per generator the mean over its training
  runs with a band from the lowest to the highest run and each run as a
  thin line, the best epoch of the mean marked.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

from infobench.report.aggregate import Z95, by_estimator, to_units

__all__ = ["figure_png", "new_figure", "plot_estimates", "plot_heatmap", "plot_learning_curves"]


def new_figure(width: float, height: float, *, layout: str | None = None):
    """A matplotlib Figure on its own Agg canvas (inches; 100 dpi), touching no global pyplot state."""
    # Deferred: matplotlib takes seconds to import and only drawing needs it (``import infobench.report``,
    # which quality and every CLI command do, stays without it).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig) -> bytes:
    """The figure as PNG bytes (metadata without a timestamp, so reruns give identical files)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def plot_estimates(summary: pd.DataFrame, task_id: str, *, units: str = "nats"):
    """Mean estimate vs n for every estimator on ``task_id``, with the truth; returns a matplotlib Figure."""
    s = to_units(summary[summary["task_id"] == task_id], units)
    if s.empty:
        raise ValueError(f"no results for task {task_id!r}; tasks are {sorted(summary['task_id'].unique())}")
    fig = new_figure(6.0, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    estimators = list(dict.fromkeys(s["estimator"]))
    ns = sorted(s["n"].unique())
    # Spread the estimators a little along the log-x axis so error bars do not overlap.
    spread = 0.08 * (len(estimators) - 1) / max(1, len(estimators))
    for i, e in enumerate(estimators):
        g = s[s["estimator"] == e].sort_values("n")
        shift = 10 ** ((i / max(1, len(estimators) - 1) - 0.5) * spread) if len(estimators) > 1 else 1.0
        yerr = g["std"].fillna(0.0).to_numpy()
        label = e if g["mean_estimate"].notna().any() else f"{e} (every cell failed)"
        ax.errorbar(g["n"].to_numpy() * shift, g["mean_estimate"].to_numpy(), yerr=yerr, marker="o", ms=4,
                    capsize=3, lw=1.2, label=label)
    truth = float(s["truth"].iloc[0])
    t_se = float(s["truth_std_err"].iloc[0]) if "truth_std_err" in s else 0.0
    ax.axhline(truth, color="black", ls="--", lw=1, label="truth")
    if t_se and math.isfinite(t_se) and t_se > 0:
        ax.axhspan(truth - Z95 * t_se, truth + Z95 * t_se, color="black", alpha=0.1, lw=0)
    ax.set_xscale("log")
    ax.set_xticks(ns)
    ax.set_xticklabels([str(n) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("n (samples)")
    ax.set_ylabel(f"estimate ({units})")
    ax.set_title(task_id, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.text(0.01, -0.02, "points: mean over seeds; bars: ±1 std across seeds", fontsize=7, color="#555")
    return fig


def plot_heatmap(summary: pd.DataFrame):
    """Tasks x estimators heatmap of mean log2(estimate / truth), one panel per n; returns a Figure."""
    if summary.empty:
        raise ValueError("no results to plot")
    estimators = list(dict.fromkeys(summary["estimator"]))
    tasks = list(dict.fromkeys(summary["task_id"]))
    ns = sorted(summary["n"].unique())
    width = max(4.0, 0.9 * len(estimators) + 2.5) * len(ns) + 1.0
    height = max(2.5, 0.3 * len(tasks) + 1.5)
    fig = new_figure(width, height)
    from matplotlib import colormaps  # deferred like new_figure's imports (loaded by now: no cost)

    cmap = colormaps["RdBu_r"].with_extremes(bad="#d9d9d9")
    axes = fig.subplots(1, len(ns), squeeze=False)[0]
    image = None
    for ax, n in zip(axes, ns):
        s = summary[summary["n"] == n]
        m = by_estimator(s, "mean_log2_ratio", rows=tasks, columns=estimators)
        present = by_estimator(s, "cells", rows=tasks, columns=estimators).notna().to_numpy()
        data = np.ma.masked_invalid(m.to_numpy(dtype=float))
        image = ax.imshow(data, cmap=cmap, vmin=-1, vmax=1, aspect="auto")
        for (i, j), v in np.ndenumerate(m.to_numpy(dtype=float)):
            # Blank: the estimator does not apply to the task (or the cell was not run); n/a: undefined.
            text = "" if not present[i, j] else "n/a" if not np.isfinite(v) else f"{v:+.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="black" if not np.isfinite(v) or abs(v) < 0.6 else "white")
        ax.set_xticks(range(len(estimators)))
        ax.set_xticklabels(estimators, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(tasks)))
        ax.set_yticklabels(tasks if ax is axes[0] else [], fontsize=7)
        ax.set_title(f"n = {n}", fontsize=9)
    cbar = fig.colorbar(image, ax=list(axes), fraction=0.03, pad=0.02)
    cbar.set_label("mean log2(estimate / truth)", fontsize=8)
    return fig


def plot_learning_curves(curves: pd.DataFrame, labels: dict[str, str], best: dict[str, str]):
    """Scores through training; returns a matplotlib Figure.

    Parameters
    ----------
    curves : DataFrame
        Columns ``generator, run, epoch, score, value`` (one row per kept checkpoint and score).
    labels : dict
        Score name -> panel title.
    best : dict
        Score name -> ``"max"``, ``"min"`` or a number (best closest to it): where the best epoch is marked.
    """
    names = [s for s in labels if s in set(curves["score"])]
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = new_figure(4.2 * cols, 3.0 * rows, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    colours = {}
    for ax, name in zip(axes, names):
        sub = curves[curves["score"] == name]
        for gen, g in sub.groupby("generator", sort=False):
            colour = colours.setdefault(gen, f"C{len(colours)}")
            wide = g.pivot_table(index="epoch", columns="run", values="value").sort_index()
            mean = wide.mean(axis=1)
            for run in wide.columns:
                ax.plot(wide.index, wide[run], color=colour, lw=0.6, alpha=0.45)
            ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), color=colour, alpha=0.15, lw=0)
            ax.plot(mean.index, mean, color=colour, lw=1.8, marker="o", ms=3, label=f"{gen} ({wide.shape[1]} runs)")
            rule = best[name]
            i = mean.idxmax() if rule == "max" else mean.idxmin() if rule == "min" else (mean - rule).abs().idxmin()
            ax.plot([i], [mean.loc[i]], marker="*", ms=11, color=colour, mec="black", mew=0.5)
        if not isinstance(best[name], str):
            ax.axhline(best[name], color="grey", lw=0.8, ls="--")
        ax.set_title(labels[name], fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    if names:
        axes[0].legend(fontsize=8)
    return fig
