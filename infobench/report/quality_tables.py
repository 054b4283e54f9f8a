"""Tables of quality scores and of the validity suite, rendered with :mod:`infobench.report`'s renderers.

One row per generated set, one column per score (``value [low, high]`` when
bootstrap intervals were drawn), the direction of each score in its header
(↑ higher is better, ↓ lower is better, →0 closer to zero is better), the best
generator of each column marked, and the held-out real split last, as the
ceiling (never ranked). The validity suite's verdicts
(:func:`infobench.quality.validity.detection`) become :func:`detection_table`
and its raw values :func:`values_tables`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from infobench._progress import make_console
from infobench.diagnostics import as_diagnostics, doubtful, summary
from infobench.quality import DIRECTIONS, SCORES
from infobench.quality.validity import MIN_SPEARMAN, VERDICTS
from infobench.report.aggregate import best_flags
from infobench.report.render import (
    DOUBT_MARK,
    MISSING,
    Table,
    Tables,
    format_score,
    html_page,
    to_csv,
    to_latex,
    to_markdown,
    to_rich,
)

__all__ = [
    "FAMILIES",
    "best_flags",
    "best_epoch_table",
    "calibration_table",
    "detection_table",
    "format_score",
    "pairwise_table",
    "run_tables",
    "score_tables",
    "to_json",
    "values_tables",
]

FAMILIES = {"information": "information-theoretic scores", "standard": "standard scores"}


def _diagnostics(row: pd.Series) -> tuple:
    """The diagnostics of a score row (none for frames written before the column existed)."""
    value = row.get("diagnostics")
    return as_diagnostics(value) if isinstance(value, (list, tuple)) else ()


def _cell(row: pd.Series) -> str:
    text = format_score(row["value"], row["unit"])
    if row["bootstrap"] and not (math.isnan(row["ci_low"]) or math.isnan(row["ci_high"])):
        text += f" [{format_score(row['ci_low'], row['unit'])}, {format_score(row['ci_high'], row['unit'])}]"
    if doubtful(_diagnostics(row)):
        text += f" {DOUBT_MARK}"
    return text


def score_tables(df: pd.DataFrame, *, title: str | None = None, mark_best: bool = True) -> Tables:
    """The comparison tables of a :func:`infobench.quality.score` frame, one per score family present.

    A :class:`~infobench.report.render.Tables` list: a notebook shows it as HTML, rich prints it.
    ``mark_best=False`` marks no cell (a table of single training runs, whose
    comparison is :func:`run_tables` and :func:`pairwise_table`).
    """
    missing = {"fake", "source", "score", "value", "ci_low", "ci_high", "bootstrap", "unit", "n_fake"} - set(df.columns)
    if missing:
        raise ValueError(f"not a quality-score frame: missing columns {sorted(missing)}")
    if df.empty:
        raise ValueError("the score frame has no rows")
    fakes = list(dict.fromkeys(df["fake"]))
    ceiling = {f for f in fakes if (df.loc[df["fake"] == f, "source"] == "held-out").all()}
    order = [f for f in fakes if f not in ceiling] + [f for f in fakes if f in ceiling]
    tables = []
    for family, family_title in FAMILIES.items():
        names = [s for s in SCORES if s in set(df.loc[df["family"] == family, "score"])]
        if not names:
            continue
        header = ["generated", "n"] + [f"{SCORES[s].label} {DIRECTIONS[SCORES[s].direction]}" for s in names]
        rows = [
            [f + (" (ceiling)" if f in ceiling else ""), str(int(df.loc[df["fake"] == f, "n_fake"].max()))]
            for f in order
        ]
        best = [[False, False] for _ in order]
        for s in names:
            sub = df[df["score"] == s].set_index("fake").reindex(order)
            flags = best_flags(
                sub["value"].astype(float),
                SCORES[s].direction,
                pd.Series([f not in ceiling for f in order], index=sub.index),
            )
            for i, f in enumerate(order):
                rows[i].append(MISSING if pd.isna(sub.loc[f, "score"]) else _cell(sub.loc[f]))
                best[i].append(mark_best and bool(flags.loc[f]) and len(order) - len(ceiling) > 1)
        note = _note(df, names)
        if not mark_best:
            note = note.replace("best generator per column marked; ", "")
        tables.append(
            Table(
                title=f"{title or 'Sample quality'}: {family_title}",
                header=header,
                rows=rows,
                best=best,
                labels=2,
                note=note,
            )
        )
    return Tables(tables)


def _spread(value: float) -> str:
    """A spread with 2 significant digits (its own uncertainty is larger than that with a few runs)."""
    return MISSING if math.isnan(value) else f"{value:.2g}"


def _run_cell(row: pd.Series) -> str:
    if math.isnan(row["mean"]):
        return MISSING
    text = format_score(row["mean"], row["unit"])
    if row["runs"] > 1:
        text += f" ± {_spread(row['sd_runs'])}"
    if not math.isnan(row["sampling_sd"]):
        text += f" (± {_spread(row['sampling_sd'])})"
    return text


def run_tables(
    runs: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    title: str = "Sample quality over training runs",
    ceiling: tuple[str, ...] = ("real-test",),
) -> Tables:
    """One table per score family of an :func:`infobench.quality.compare.across_runs` frame.

    A cell is ``mean ± sd over the runs (± within-run sampling sd)``; the best
    generator of a column is marked only where :func:`~infobench.quality.compare.pairwise`
    tells it from the runner-up (:func:`~infobench.quality.compare.best_marks`).
    Generators in ``ceiling`` (held-out real data) come last and are not ranked.
    """
    from infobench.quality.compare import (
        best_marks,  # deferred: the statistics are needed by these tables only
    )

    gens = list(dict.fromkeys(runs["generator"]))
    order = [g for g in gens if g not in ceiling] + [g for g in gens if g in ceiling]
    marks = best_marks(runs, pairs, exclude=ceiling)
    r_max = int(runs.loc[~runs["generator"].isin(ceiling), "runs"].max()) if len(runs) else 0
    tables = []
    for family, family_title in FAMILIES.items():
        names = [s for s in SCORES if s in set(runs.loc[runs["family"] == family, "score"])]
        if not names:
            continue
        header = ["generator", "runs"] + [f"{SCORES[s].label} {DIRECTIONS[SCORES[s].direction]}" for s in names]
        rows, best = [], []
        for g in order:
            sub = runs[runs["generator"] == g].set_index("score")
            rows.append(
                [g + (" (ceiling)" if g in ceiling else ""), str(int(sub["runs"].max()))]
                + [_run_cell(sub.loc[s]) if s in sub.index else MISSING for s in names]
            )
            best.append([False, False] + [marks.get(s) == g for s in names])
        level = float(pairs["level"].iloc[0]) if len(pairs) else 0.95
        note = (
            f"mean over the training runs ± their standard deviation (the spread a new training run would "
            f"show, sampling noise included); in parentheses ± the within-run sampling sd (the bootstrap sd "
            f"of one run's score at this n, root mean square over runs): where the first is much larger, "
            f"training variation dominates. Best marked only where it is distinguishable from the runner-up "
            f"at {level:.0%} (pairwise table: Welch interval over the runs); with {r_max} runs the intervals "
            "are wide. A '(ceiling)' row is held-out real data, not ranked. Individual runs: the per-run "
            "table (in a report also tables/quality-runs-records.csv)."
        )
        tables.append(
            Table(
                title=f"{title}: {family_title}",
                header=header,
                rows=rows,
                best=best,
                labels=2,
                note=note,
                name=f"quality-runs-{family}",
            )
        )
    return Tables(tables)


def pairwise_table(pairs: pd.DataFrame, *, title: str = "Pairwise comparisons of the generators") -> Table:
    """Every score and pair: difference of the means with its interval, degrees of freedom, verdict.

    A verdict is marked (as a "best" cell) when the pair is distinguishable.
    """
    header = ["score", "A − B", "difference [interval]", "df", "basis", "verdict"]
    rows, best = [], []
    for r in pairs.itertuples():
        spec = SCORES[r.score]
        unit = spec.unit
        diff = f"{format_score(r.diff, unit)} [{format_score(r.low, unit)}, {format_score(r.high, unit)}]"
        if r.direction == "zero":
            diff = "|·| " + diff
        df_text = "∞" if math.isinf(r.df) else MISSING if math.isnan(r.df) else f"{r.df:.1f}"
        rows.append([f"{spec.label} {spec.arrow}", f"{r.a} − {r.b}", diff, df_text, r.basis, r.verdict])
        best.append([False] * 5 + [r.verdict.endswith(" better")])
    level = float(pairs["level"].iloc[0]) if len(pairs) else 0.95
    note = (
        f"difference of the mean scores over the training runs with its {level:.0%} Welch interval "
        "(t quantile with the Welch-Satterthwaite df; each run's variance is the spread across runs, "
        "which holds the sampling noise too, floored at the within-run sampling variance); "
        "|·|: a 'closer to zero' score, compared on absolute values. basis 'sampling only' (both) or 'runs and "
        "sampling only' (one): a generator with one run enters with its sampling sd alone (its training "
        "variation is not measured). Verdict by the "
        "score's direction; no correction for the number of pairs."
    )
    return Table(title=title, header=header, rows=rows, best=best, labels=2, note=note, name="quality-pairwise")


def best_epoch_table(curves: pd.DataFrame, *, title: str = "Learning curves: epoch of the best score") -> Table:
    """Per generator and score of :func:`infobench.mainjob.pipeline.learning_curves`: the epoch of the best mean.

    The mean over the training runs at each kept epoch; the best by the
    score's direction (``balance``: closest to log 2, where the discriminator
    cannot tell); each run's own best epoch follows.
    """
    header = ["generator", "score", "best epoch (mean over runs)", "value", "best epoch per run", "last epoch"]
    rows = []
    scores = list(dict.fromkeys(curves["score"]))
    groups = dict(list(curves.groupby(["generator", "score"], sort=False)))
    for gen, name in ((g, s) for g in dict.fromkeys(curves["generator"]) for s in scores):
        if (gen, name) not in groups:
            continue
        sub = groups[(gen, name)]
        mean = sub.groupby("epoch")["value"].mean()
        per_run = sub.pivot_table(index="epoch", columns="run", values="value")
        pick = _best_index(name)
        best_epoch = pick(mean)
        label = f"{SCORES[name].label} {SCORES[name].arrow}" if name in SCORES else f"{name} →log 2"
        unit = SCORES[name].unit if name in SCORES else "nats"
        rows.append(
            [
                gen,
                label,
                str(best_epoch),
                format_score(mean.loc[best_epoch], unit),
                ", ".join(str(pick(per_run[c].dropna())) for c in per_run.columns),
                str(int(mean.index.max())),
            ]
        )
    note = (
        "Scores of the checkpoints kept during training (no intervals; each checkpoint decodes the same latent "
        "codes). balance: the GAN discriminator's output entropy, best closest to log 2 = 0.693."
    )
    return Table(
        title=title,
        header=header,
        rows=rows,
        best=[[False] * len(header) for _ in rows],
        labels=2,
        note=note,
        name="quality-best-epoch",
    )


def _best_index(name: str):
    if name not in SCORES:  # the balance: closest to log 2
        return lambda s: int((s - math.log(2)).abs().idxmin())
    direction = SCORES[name].direction
    return {
        "up": lambda s: int(s.idxmax()),
        "down": lambda s: int(s.idxmin()),
        "zero": lambda s: int(s.abs().idxmin()),
    }[direction]


def _note(df: pd.DataFrame, names: list[str]) -> str:
    parts = [
        "↑ higher is better, ↓ lower is better, →0 closer to zero is better; best generator per column marked; "
        "a '(ceiling)' row is held-out real data, not ranked."
    ]
    sub = df[df["score"].isin(names)]
    b = int(sub["bootstrap"].max()) if len(sub) else 0
    if b:
        level = float(sub["level"].iloc[0])
        parts.append(
            f"[low, high]: {level:.0%} bootstrap interval over {b} replicates (the spread of the score "
            "at this n, centred on its value)."
        )
    used = _sizes_used(sub)
    if used:
        parts.append("n used per score (real vs generated): " + "; ".join(used) + ".")
    units = {SCORES[s].label: SCORES[s].unit for s in names if SCORES[s].unit == "nats"}
    if units:
        parts.append("In nats: " + ", ".join(units) + ".")
    notes = sub[sub["note"].astype(str) != ""]
    for _, row in notes.drop_duplicates(["fake", "note"]).iterrows():
        parts.append(f"{row['fake']}: {row['note']}.")
    doubts = _doubt_codes(sub)
    if doubts:
        parts.append(
            f"{DOUBT_MARK}: the number carries a warning diagnostic and may be wrong ("
            + "; ".join(f"{fake}: {codes}" for fake, codes in doubts.items())
            + "; infobench score prints each, the JSON output keeps them)."
        )
    ext = df.attrs.get("extractor")
    if ext:
        text = f"Features: {ext.get('name')} ({ext.get('dim')}-d)"
        if "accuracy" in ext:
            text += f", held-out accuracy {ext['accuracy']:.2%} on {ext.get('accuracy_on')} (n={ext.get('accuracy_n')})"
        if "resize" in ext:
            text += f", resize {ext['resize']}"
        if ext.get("comparable") is False:
            text += "; NOT comparable with published numbers"
        parts.append(text + ".")
        if ext.get("skipped"):
            parts.append(ext["skipped"][0].upper() + ext["skipped"][1:] + ".")
    return " ".join(parts)


def _doubt_codes(sub: pd.DataFrame) -> dict[str, str]:
    """Per generated set: the codes of the warning diagnostics of its rows (``summary`` form)."""
    if "diagnostics" not in sub.columns:
        return {}
    out: dict[str, list] = {}
    for _, row in sub.iterrows():
        found = [d for d in _diagnostics(row) if d.severity == "warning"]
        if found:
            out.setdefault(row["fake"], []).extend(found)
    return {fake: summary(found) for fake, found in out.items()}


def _size_text(n_real: int, n_fake: int) -> str:
    """``"n_real vs n_fake"``, or ``"n_fake generated"`` for scores that read no real set (IS and its entropies)."""
    return f"{n_real} vs {n_fake}" if n_real else f"{n_fake} generated"


def _sizes_used(sub: pd.DataFrame) -> list[str]:
    """``label: n_real vs n_fake`` per score (grouped when equal), with the reference chunks of the equal-size rule."""
    if "n_real" not in sub.columns or sub.empty:
        return []
    groups: dict[str, list[str]] = {}
    for name in dict.fromkeys(sub["score"]):
        rows = sub[sub["score"] == name]
        n_r, n_f = int(rows["n_real"].max()), int(rows["n_fake"].max())
        chunks = (
            max((int(e.get("reference_chunks", 1)) for e in rows["extras"] if isinstance(e, dict)), default=1)
            if "extras" in rows.columns
            else 1
        )
        text = _size_text(n_r, n_f)
        if chunks > 1:
            text += f" (larger set cut into {chunks} chunks of this size, averaged)"
        groups.setdefault(text, []).append(SCORES[name].label)
    return [f"{', '.join(labels)}: {text}" for text, labels in groups.items()]


def calibration_table(
    cal: pd.DataFrame, *, title: str = "Interval width against the spread over fresh samples"
) -> Table:
    """The output of :func:`infobench.quality.validity.interval_calibration` as a table (1.0: calibrated).

    The ratios carry their standard errors (``± se``) when ``cal`` has the
    ``std_ratio_se`` / ``width_ratio_se`` columns; a score with no spread
    over the fresh redraws (``fresh_sd`` 0) reads "constant".
    """
    header = ["score", "n", "fresh sd", "interval sd", "sd ratio", "width ratio"]

    def ratio(r, col: str) -> str:
        if r.fresh_sd == 0:
            return "constant"  # no spread over the fresh redraws: no ratio (NaN in ``cal``)
        se = getattr(r, col + "_se", float("nan"))
        return f"{getattr(r, col):.2f}" + (f" ± {se:.2f}" if se == se else "")

    rows = [
        [
            SCORES[r.score].label,
            _size_text(int(r.n_real), int(r.n_fake)),
            f"{r.fresh_sd:.4g}",
            f"{r.boot_std:.4g}",
            ratio(r, "std_ratio"),
            ratio(r, "width_ratio"),
        ]
        for r in cal.itertuples()
    ]
    note = (
        "fresh sd: standard deviation of the score over independent redraws of both sets; interval sd: the "
        "bootstrap standard deviation reported on one draw (mean over draws); width ratio: mean interval width "
        "over the width of a normal interval with the fresh sd; ± one standard error of the ratio (from the "
        "number of redraws and the spread across bootstrapped draws). 1.0 is calibrated; constant: the score "
        "did not vary over the fresh redraws, so there is no spread to compare with."
    )
    return Table(title=title, header=header, rows=rows, best=[[False] * len(header) for _ in rows], labels=1, note=note)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        # JSON has no NaN/inf: spell them as strings rather than emit invalid JSON.
        return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    return value


def to_json(df: pd.DataFrame) -> str:
    """The tidy frame and its ``attrs`` as JSON (``{"meta": {...}, "scores": [...]}``); NaN/inf as strings."""
    records = [_jsonable(r) for r in df.to_dict(orient="records")]
    return json.dumps({"meta": _jsonable(dict(df.attrs)), "scores": records}, indent=2, ensure_ascii=False)


TEXT_FORMATS = ("rich", "md", "csv", "tex", "html")


def check_format(fmt: str) -> str:
    """``rich``, ``md``, ``csv``, ``tex`` (alias ``latex``) or ``html``; anything else raises ``ValueError``."""
    f = str(fmt).strip().lower()
    f = {"latex": "tex", "markdown": "md"}.get(f, f)
    if f not in TEXT_FORMATS:
        raise ValueError(f"format must be one of {list(TEXT_FORMATS)}; got {fmt!r}")
    return f


def render(tables: list[Table], fmt: str, *, title: str = "Sample quality", meta: dict[str, str] | None = None) -> str:
    """The tables as one text document in ``fmt`` (``md``, ``csv``, ``tex`` or ``html``)."""
    fmt = check_format(fmt)
    if fmt == "html":
        return html_page(title, [("table", t) for t in tables], meta)
    if fmt == "rich":
        raise ValueError("format 'rich' prints to a terminal; use print_rich")
    join = {"md": to_markdown, "tex": to_latex}
    if fmt == "csv":
        # One CSV block per table, separated by a blank line and headed by the title.
        return "\n".join(f"# {t.title}\n{to_csv(t)}" for t in tables)
    return "\n".join(join[fmt](t) for t in tables)


def print_rich(tables: list[Table], console=None) -> None:
    """Print the tables to a rich console (default: stdout, as wide as :func:`infobench._progress.make_console`)."""
    console = console or make_console()
    for t in tables:
        console.print(to_rich(t))


# ------------------------------------------------------------- validity suite
def detection_table(det: pd.DataFrame, *, title: str = "Which score detects which failure") -> Table:
    """Scores in rows, failures in columns, a verdict symbol per cell (detections marked as best)."""
    failures = list(dict.fromkeys(det["failure"]))
    scores = [s for s in SCORES if s in set(det["score"])]
    header = ["score"] + failures
    rows, best = [], []
    for s in scores:
        sub = det[det["score"] == s].set_index("failure")
        spec = SCORES[s]
        row = [f"{spec.label} {spec.arrow}"]
        flags = [False]
        for f in failures:
            v = sub.loc[f, "verdict"] if f in sub.index else None
            row.append("" if v is None else f"{VERDICTS[v]} {v}")
            flags.append(v == "detects")
        rows.append(row)
        best.append(flags)
    note = (
        f"✓ detects: moves the worse way, monotonically (Spearman >= {MIN_SPEARMAN}) and by more than twice "
        "its clean bootstrap std; ↯ wrong way: the same, improving under the failure; ~ erratic: moves, "
        "not monotonically; ✗ misses: within the noise floor."
    )
    return Table(title=title, header=header, rows=rows, best=best, labels=1, note=note)


def values_tables(df: pd.DataFrame) -> list[Table]:
    """One table per failure: scores in rows, levels in columns (values as computed, never clipped)."""
    tables = []
    for failure, sub in df.groupby("failure", sort=False):
        levels = sorted(sub["level"].unique())
        scores = [s for s in SCORES if s in set(sub["score"])]
        rows = []
        for s in scores:
            by_level = sub[sub["score"] == s].set_index("level")
            spec = SCORES[s]
            rows.append(
                [f"{spec.label} {spec.arrow}"]
                + [format_score(float(by_level.loc[lv, "value"]), spec.unit) for lv in levels]
            )
        tables.append(
            Table(
                title=f"{failure}: score by level",
                header=["score"] + [f"{lv:g}" for lv in levels],
                rows=rows,
                best=[[False] * (len(levels) + 1) for _ in rows],
                labels=1,
                note=f"n = {int(sub['n_fake'].iloc[0])} per level; level 0 is the clean held-out split.",
            )
        )
    return tables
