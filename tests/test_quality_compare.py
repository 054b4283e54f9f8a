"""Generators compared over training runs (infobench.quality.compare): spread, Welch intervals, verdicts."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from infobench.quality.compare import (
    VERDICT_SAME,
    across_runs,
    best_marks,
    difference,
    pairwise,
    parse_run_groups,
    verdict,
)


def _frame(values: dict[str, list[float]], *, score="fid", direction="down", boot_std=0.5) -> tuple[pd.DataFrame, dict]:
    """A score frame with one row per run (``<gen>#<i>``), each with a within-run interval of +-1.96 boot_std."""
    rows, groups = [], {}
    for gen, vals in values.items():
        groups[gen] = []
        for i, v in enumerate(vals):
            name = f"{gen}#{i + 1}"
            groups[gen].append(name)
            rows.append(
                {
                    "fake": name,
                    "score": score,
                    "label": score,
                    "direction": direction,
                    "unit": "",
                    "family": "standard",
                    "value": v,
                    "boot_std": boot_std,
                    "ci_low": v - 1.96 * boot_std,
                    "ci_high": v + 1.96 * boot_std,
                }
            )
    return pd.DataFrame(rows), groups


def _two_level(rng, mu, r, tau, sigma):
    """R run scores of one model: mu + training effect (sd tau) + sampling noise (sd sigma)."""
    return mu + rng.normal(0, tau, r) + rng.normal(0, sigma, r)


# ---------------------------------------------------------------- the difference interval
@pytest.mark.parametrize("ra, rb", [(2, 2), (3, 3), (3, 5), (8, 4)])
def test_difference_interval_matches_scipy_welch(ra, rb):
    # An independent computation: scipy's Welch t-test and its confidence interval.
    rng = np.random.default_rng(ra * 10 + rb)
    a, b = rng.normal(3.0, 1.0, ra), rng.normal(2.0, 2.0, rb)
    res = difference(a, b, level=0.9)
    ref = stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(0.9)
    assert res["basis"] == "runs"
    assert res["diff"] == pytest.approx(a.mean() - b.mean(), rel=1e-12)
    assert res["df"] == pytest.approx(ref.df, rel=1e-10)
    assert (res["low"], res["high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_difference_floors_the_run_variance_at_the_sampling_variance():
    a, b = [1.0, 1.01], [2.0, 2.02]  # run sds 0.007 and 0.014, sampling sd 0.5: the floor applies to both
    res = difference(a, b, sampling_sd_a=0.5, sampling_sd_b=0.5)
    se = math.sqrt(0.25 / 2 + 0.25 / 2)
    assert res["se"] == pytest.approx(se)
    assert res["df"] == pytest.approx(2.0)  # equal variances, 1 df each: Welch-Satterthwaite gives 2
    q = stats.t.ppf(0.975, 2.0)
    assert (res["low"], res["high"]) == pytest.approx((-1.005 - q * se, -1.005 + q * se))


def test_single_runs_use_the_sampling_sd_with_a_normal_quantile():
    res = difference([1.0], [2.0], sampling_sd_a=0.3, sampling_sd_b=0.4)
    assert res["basis"] == "sampling only" and math.isinf(res["df"])
    assert (res["low"], res["high"]) == pytest.approx((-1.0 - 1.959964 * 0.5, -1.0 + 1.959964 * 0.5), rel=1e-6)
    none = difference([1.0], [2.0])
    assert none["basis"] == "none" and math.isnan(none["low"])
    assert verdict(none["low"], none["high"], "down", "a", "b") == VERDICT_SAME


def test_one_single_run_keeps_the_other_generators_run_spread():
    # Three runs that disagree (training variation, sd 2) against one run: the three runs' spread stays in the
    # standard error with its 2 df (Welch-Satterthwaite with the single run's sampling term as known), so a
    # difference well inside the training spread is not a verdict.
    a, b = [10.0, 13.0, 16.0], [9.0]
    res = difference(a, b, sampling_sd_a=0.1, sampling_sd_b=0.1)
    va, vb = 9.0 / 3, 0.01
    se = math.sqrt(va + vb)
    assert res["basis"] == "runs and sampling only"
    assert res["se"] == pytest.approx(se)
    assert res["df"] == pytest.approx(se**4 / (va**2 / 2))
    q = stats.t.ppf(0.975, res["df"])
    assert (res["low"], res["high"]) == pytest.approx((4.0 - q * se, 4.0 + q * se))
    assert verdict(res["low"], res["high"], "down", "a", "b") == VERDICT_SAME
    # Mirrored sides give the mirrored interval.
    back = difference(b, a, sampling_sd_a=0.1, sampling_sd_b=0.1)
    assert (back["low"], back["high"]) == pytest.approx((-res["high"], -res["low"]))
    # The single run has no sampling sd: no verdict, whatever the other side holds.
    assert difference(a, b, sampling_sd_a=0.1)["basis"] == "none"


def test_difference_errors():
    with pytest.raises(ValueError, match="at least one run each; got 0 and 2"):
        difference([], [1.0, 2.0])
    with pytest.raises(ValueError, match="level"):
        difference([1.0, 2.0], [1.0, 2.0], level=1.5)


# ---------------------------------------------------------------- verdicts
def test_verdict_reads_the_direction():
    assert verdict(0.5, 1.0, "up", "A", "B") == "A better"
    assert verdict(0.5, 1.0, "down", "A", "B") == "B better"
    assert verdict(-1.0, -0.5, "down", "A", "B") == "A better"
    assert verdict(-1.0, -0.5, "zero", "A", "B") == "A better"  # |A| - |B| < 0: A closer to zero
    assert verdict(-1.0, 0.5, "up", "A", "B") == VERDICT_SAME
    with pytest.raises(ValueError, match="direction must be 'up', 'down' or 'zero'; got 'left'"):
        verdict(0.1, 0.2, "left", "A", "B")


@pytest.mark.parametrize("r", [2, 3, 5])
def test_identical_generators_are_not_distinguishable_in_95_percent(r):
    # Two generators of one distribution: each run = mu + training effect + sampling noise (the two-level
    # model), the sampling sd known from the bootstrap. The Welch test at 95% has a false-alarm rate of at
    # most 5% (at or under: the t quantile with the Welch df, and the floor, only widen the interval), so
    # over 4,000 repetitions "not distinguishable" must be at least 95%, less 3 binomial sds (0.0103).
    rng = np.random.default_rng(100 + r)
    tau, sigma, reps = 1.0, 0.6, 4000
    same = 0
    for _ in range(reps):
        a, b = _two_level(rng, 10.0, r, tau, sigma), _two_level(rng, 10.0, r, tau, sigma)
        res = difference(a, b, sampling_sd_a=sigma, sampling_sd_b=sigma)
        same += verdict(res["low"], res["high"], "down", "a", "b") == VERDICT_SAME
    assert same / reps >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / reps)
    assert same / reps >= 0.95  # measured 0.96-0.98: Welch with few runs is conservative


@pytest.mark.parametrize("r, power", [(3, 0.9), (5, 0.99)])
def test_a_clearly_worse_generator_is_detected(r, power):
    # B's mean FID is 6 run sds worse (sd of a run sqrt(tau^2 + sigma^2) = 1.17; shift 7): with 3 runs the
    # Welch test's power is about 0.97 (t with ~4 df, ncp 7 / (1.17 sqrt(2/3)) = 7.3), with 5 runs ~1.
    rng = np.random.default_rng(7 + r)
    tau, sigma, reps, hits = 1.0, 0.6, 1000, 0
    for _ in range(reps):
        a, b = _two_level(rng, 10.0, r, tau, sigma), _two_level(rng, 17.0, r, tau, sigma)
        res = difference(a, b, sampling_sd_a=sigma, sampling_sd_b=sigma)
        hits += verdict(res["low"], res["high"], "down", "a", "b") == "a better"
    assert hits / reps >= power


# ---------------------------------------------------------------- frames
def test_across_runs_spread_and_sampling():
    df, groups = _frame({"gan": [10.0, 12.0, 14.0], "vae": [20.0, 20.5]}, boot_std=0.5)
    runs = across_runs(df, groups).set_index("generator")
    assert runs.loc["gan", "mean"] == pytest.approx(12.0)
    assert runs.loc["gan", "sd_runs"] == pytest.approx(2.0)
    assert runs.loc["gan", "se_mean"] == pytest.approx(2.0 / math.sqrt(3))
    assert runs.loc["gan", "sampling_sd"] == pytest.approx(0.5)
    assert runs.loc["gan", "sampling_low"] == pytest.approx(-0.98)
    assert runs.loc["gan", "training_share"] == pytest.approx((4.0 - 0.25) / 4.0)
    assert runs.loc["gan", "values"] == [10.0, 12.0, 14.0]
    # vae's run sd 0.354 is under the sampling sd 0.5: the standard error uses the floor.
    assert runs.loc["vae", "se_mean"] == pytest.approx(0.5 / math.sqrt(2))
    assert runs.loc["vae", "training_share"] == 0.0


def test_across_runs_errors():
    df, groups = _frame({"gan": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"groups\['gan'\] names runs not in the frame: \['gan#9'\]"):
        across_runs(df, {"gan": ["gan#1", "gan#9"]})
    with pytest.raises(ValueError, match="missing columns"):
        across_runs(df.drop(columns=["boot_std"]), groups)


def test_pairwise_and_best_marks():
    # gan clearly best on FID; wgan-gp and vae indistinguishable from each other.
    df, groups = _frame(
        {"gan": [10.0, 10.5, 9.5], "wgan-gp": [30.0, 33.0, 27.0], "vae": [31.0, 29.0, 34.0]}, boot_std=0.2
    )
    runs = across_runs(df, groups)
    pairs = pairwise(runs)
    assert len(pairs) == 3
    verdicts = dict(zip(zip(pairs["a"], pairs["b"]), pairs["verdict"]))
    assert verdicts[("gan", "wgan-gp")] == "gan better"
    assert verdicts[("gan", "vae")] == "gan better"
    assert verdicts[("wgan-gp", "vae")] == VERDICT_SAME
    assert best_marks(runs, pairs) == {"fid": "gan"}
    # Without gan the best (wgan-gp) cannot be told from the runner-up: no mark.
    runs2 = runs[runs["generator"] != "gan"]
    assert best_marks(runs2, pairwise(runs2)) == {"fid": None}


def test_pairwise_excludes_the_ceiling_and_compares_zero_scores_on_absolute_values():
    df, groups = _frame(
        {"a": [-5.0, -5.2, -4.8], "b": [0.3, -0.2, 0.1], "real-test": [0.0]},
        score="entropy_gap",
        direction="zero",
        boot_std=0.1,
    )
    runs = across_runs(df, groups)
    pairs = pairwise(runs, exclude=["real-test"])
    assert list(zip(pairs["a"], pairs["b"])) == [("a", "b")]
    row = pairs.iloc[0]
    assert row["diff"] == pytest.approx(5.0 - np.mean([0.3, 0.2, 0.1]))
    assert row["verdict"] == "b better"
    assert best_marks(runs, pairs, exclude=["real-test"]) == {"entropy_gap": "b"}


def test_parse_run_groups():
    specs, names, groups = parse_run_groups(["gan=r1.npy, r2.npy,r3.npy", "vae=v.npy", "held-out"])
    assert specs == ["r1.npy", "r2.npy", "r3.npy", "v.npy", "held-out"]
    assert names == ["gan#1", "gan#2", "gan#3", "vae", "held-out"]
    assert groups == {"gan": ["gan#1", "gan#2", "gan#3"], "vae": ["vae"], "held-out": ["held-out"]}
    with pytest.raises(ValueError, match="needs a name and one spec per run; got '=a.npy'"):
        parse_run_groups(["=a.npy"])
    with pytest.raises(ValueError, match="needs a name and one spec per run; got 'gan=a.npy,'"):
        parse_run_groups(["gan=a.npy,"])
    with pytest.raises(ValueError, match="names each generator once; 'gan' appears twice"):
        parse_run_groups(["gan=a.npy,b.npy", "gan=c.npy"])
    with pytest.raises(
        ValueError, match=r"--fake gan=\.\.\.: each run is a different set, but 'a.npy' is given 2 times"
    ):
        parse_run_groups(["gan=a.npy,b.npy, a.npy"])


# ---------------------------------------------------------------- infobench score --fake NAME=A,B
@pytest.mark.slow
def test_score_cli_compares_runs(tmp_path, capsys):
    from infobench.cli import main
    from infobench.data import load_dataset

    test = load_dataset("digits", split="test", seed=0).images.numpy()
    rng = np.random.default_rng(0)
    files = {}
    for i in (1, 2):
        # "good": two disjoint halves of the real test split; "noise": uniform pixels, clearly worse.
        files[f"good{i}"] = tmp_path / f"good{i}.npy"
        np.save(files[f"good{i}"], test[(i - 1) * 150 : i * 150])
        files[f"noise{i}"] = tmp_path / f"noise{i}.npy"
        np.save(files[f"noise{i}"], rng.uniform(0, 1, (150, 1, 8, 8)).astype(np.float32))
    out = tmp_path / "t.md"
    code = main(
        [
            "score",
            "--real",
            "digits",
            "--fake",
            f"good={files['good1']},{files['good2']}",
            "--fake",
            f"noise={files['noise1']},{files['noise2']}",
            "--scores",
            "fid",
            "--n-boot",
            "40",
            "--format",
            "md",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = out.read_text()
    assert "over training runs" in text and "| FID ↓ | good − noise |" in text
    assert "good better" in text  # FID of noise is far larger than the halves' spread
    assert "good#1" in text and "noise#2" in text  # the per-run table


@pytest.mark.parametrize(
    "fake, extra, match",
    [
        (["=a.npy"], [], "needs a name and one spec per run; got '=a.npy'"),
        (["g=a.npy,b.npy", "g=c.npy"], [], "names each generator once; 'g' appears twice"),
        (["g=a.npy,b.npy"], ["--names", "x"], "--names cannot be combined with --fake NAME=SPEC"),
    ],
)
def test_score_cli_run_group_errors(capsys, fake, extra, match):
    from infobench.cli import main

    args = ["score", "--real", "digits", *[a for f in fake for a in ("--fake", f)], *extra, "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err
