"""PNG plots with matplotlib's Agg canvas (no display, no global backend change).

* :func:`plot_estimates` - one task: mean estimate vs n per estimator with
  error bars (+-1 standard deviation across seeds), the truth as a line (and
  its 95% Monte-Carlo band when the truth has a standard error).
* :func:`plot_heatmap` - tasks x estimators coloured by mean
  log2(estimate / truth), one panel per n; colours saturate at +-1 (a factor
  of 2), the printed values do not.
* :func:`plot_cd_diagram` - a rank test (:mod:`infobench.report.ranking`) as
  a critical-difference diagram: mean ranks on an axis, the items that are
  not distinguishable joined by bars, Nemenyi's critical difference drawn
  above.
* :func:`plot_learning_curves` - scores of the checkpoints kept during
  training: one panel per score, per generator the mean over its training
  runs with a band from the lowest to the highest run and each run as a
  thin line, the best epoch of the mean marked.
"""

from __future__ import annotations

import io
import math
from typing import Literal

import numpy as np
import pandas as pd

from infobench.report.aggregate import Z95, by_estimator, to_units
from infobench.report.ranking import RankTest

__all__ = ["figure_png", "new_figure", "plot_cd_diagram", "plot_estimates", "plot_heatmap", "plot_learning_curves"]


def new_figure(width: float, height: float, *, layout: Literal["constrained", "compressed", "tight"] | None = None):
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
        ax.errorbar(
            g["n"].to_numpy() * shift,
            g["mean_estimate"].to_numpy(),
            yerr=yerr,
            marker="o",
            ms=4,
            capsize=3,
            lw=1.2,
            label=label,
        )
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
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="black" if not np.isfinite(v) or abs(v) < 0.6 else "white",
            )
        ax.set_xticks(range(len(estimators)))
        ax.set_xticklabels(estimators, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(tasks)))
        ax.set_yticklabels(tasks if ax is axes[0] else [], fontsize=7)
        ax.set_title(f"n = {n}", fontsize=9)
    cbar = fig.colorbar(image, ax=list(axes), fraction=0.03, pad=0.02)
    cbar.set_label("mean log2(estimate / truth)", fontsize=8)
    return fig


def plot_cd_diagram(test: RankTest, *, title: str = ""):
    """The critical-difference diagram of a rank test (Demšar 2006, section 3.2.4); returns a Figure.

    The axis carries mean ranks (1 = best, on the left); each item hangs from
    its mean rank, the better half labelled on the left, the other half on the
    right, each label with its mean rank. A thick bar joins a run of items no
    two of which the test tells apart (:meth:`~infobench.report.ranking.RankTest.cliques`:
    the decisive post-hoc comparison, after the Friedman test). Nemenyi's
    critical difference is drawn above the axis for reference.
    """
    if not test.applicable:
        raise ValueError(f"the rank test does not apply ({test.reason}): there is no diagram to draw")
    items = list(test.items)
    k = len(items)
    ranks = [test.mean_ranks[i] for i in items]
    cliques = test.cliques()
    half = (k + 1) // 2
    bar_gap = 0.12
    first_row = 0.25 + bar_gap * len(cliques)
    row_gap = 0.22
    depth = first_row + row_gap * max(half, k - half)
    # 4 inches of axis: with the labels beside it the PNG stays within the report's 560-pixel figures, unscaled.
    fig = new_figure(3.9, 0.9 + 0.55 * (depth + 0.6))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.set_xlim(0.4, k + 0.6)
    ax.set_ylim(-depth - 0.1, 0.8)
    line = {"color": "black", "lw": 1.0, "clip_on": False}
    ax.plot([1, k], [0, 0], **line)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.06], **line)
        ax.text(r, 0.1, str(r), ha="center", va="bottom", fontsize=8)
    for j, (name, rank) in enumerate(zip(items, ranks)):
        left = j < half
        y = -(first_row + row_gap * (j if left else k - 1 - j))
        x_end = 0.6 if left else k + 0.4
        ax.plot([rank, rank, x_end], [0, y, y], **line)
        ax.text(
            x_end + (-0.05 if left else 0.05),
            y,
            f"{name} ({rank:.2f})",
            ha="right" if left else "left",
            va="center",
            fontsize=8,
        )
    for m, (i, j) in enumerate(cliques):
        y = -(0.12 + bar_gap * m)
        ax.plot(
            [ranks[i] - 0.04, ranks[j] + 0.04], [y, y], color="#c0392b", lw=3.5, solid_capstyle="round", clip_on=False
        )
    if np.isfinite(test.cd):
        ax.plot([1, 1 + test.cd], [0.5, 0.5], **line)
        for x in (1, 1 + test.cd):
            ax.plot([x, x], [0.45, 0.55], **line)
        ax.text(1 + test.cd / 2, 0.57, f"Nemenyi CD = {test.cd:.2f}", ha="center", va="bottom", fontsize=8)
    post = "Holm-corrected Wilcoxon" if test.posthoc == "wilcoxon-holm" else "Nemenyi"
    verdict = "the estimators differ" if test.rejected else "no difference shown"
    ax.set_title(
        f"{title + ': ' if title else ''}mean rank over {test.n_blocks} tasks (1 = best)\n"
        f"Friedman (Iman-Davenport) p = {test.f_p:.3g}: {verdict} at α = {test.alpha:g}\n"
        f"bars join estimators not told apart ({post})",
        fontsize=8,
        pad=2,
    )
    return fig


def plot_learning_curves(curves: pd.DataFrame, labels: dict[str, str], best: dict[str, str | float]):
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
    colours: dict[object, str] = {}
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
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    if names:
        axes[0].legend(fontsize=8)
    return fig
