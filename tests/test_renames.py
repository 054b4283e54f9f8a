"""Renamed parameters, options and configuration keys: the old spelling works one release.

Each old spelling (quality ``bootstrap`` -> ``n_boot``, validity ``redraws`` -> ``n_draws`` and
``boot_draws`` -> ``n_boot_draws``, ``--bootstrap`` -> ``--n-boot``, ``[quality] bootstrap`` ->
``n_boot``) gives the very result of the new one, warns naming both spellings, and passing both is an
error naming both. ``kl_entropy`` -> ``knn_entropy`` is tested in ``test_knn.py``.
"""

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from infobench._validation import REMOVED_IN, renamed_keywords, take_renamed
from infobench.cli import main
from infobench.diagnostics import DiagnosticWarning
from infobench.mainjob import load_config
from infobench.quality import Scorer, score, score_features
from infobench.quality.validity import interval_calibration, real_calibration, run_validity

DEPRECATED = r"{where}: {old} is deprecated and will be removed in {version}; use {new} \(the same setting\)"


def deprecated(where: str, old: str, new: str) -> str:
    return DEPRECATED.format(where=where, old=old, new=new, version=REMOVED_IN.replace(".", r"\."))


def both(where: str, old: str, new: str) -> str:
    return rf"{where}: {old} is the deprecated spelling of {new}; give one, not both; got {new}="


# ------------------------------------------------------------------ the helpers
def test_take_renamed_moves_warns_and_refuses_both():
    values = {"old": 3}
    with pytest.warns(DeprecationWarning, match=deprecated("f", "old", "new")) as rec:
        take_renamed(values, "old", "new", where="f")
    assert values == {"new": 3}
    assert rec[0].filename == __file__  # stacklevel 1: the caller of take_renamed
    values = {"new": 1}
    take_renamed(values, "old", "new", where="f")  # only the new name: nothing to do, no warning
    assert values == {"new": 1}
    with pytest.raises(ValueError, match=both("f", "old", "new") + "1 and old=2"):
        take_renamed({"new": 1, "old": 2}, "old", "new", where="f")


def test_renamed_keywords_keeps_the_signature_and_points_at_the_caller():
    import inspect

    @renamed_keywords(old="new")
    def f(x, *, new=0):
        return x + new

    assert list(inspect.signature(f).parameters) == ["x", "new"]
    assert f(1, new=2) == 3
    with pytest.warns(DeprecationWarning, match=deprecated(f.__qualname__, "old", "new")) as rec:
        assert f(1, old=2) == 3
    assert rec[0].filename == __file__
    with pytest.raises(ValueError, match=both(f.__qualname__, "old", "new")):
        f(1, new=2, old=2)


# ---------------------------------------------------------- quality: bootstrap -> n_boot
def _features(seed):
    r = np.random.default_rng(seed)
    return r.normal(size=(150, 3)), r.normal(size=(150, 3)) * 1.2


def test_score_features_bootstrap_is_n_boot():
    real, fake = _features(1)
    new = score_features(real, fake, scores="fid,coverage", n_boot=40, seed=2)
    with pytest.warns(DeprecationWarning, match=deprecated("score_features", "bootstrap", "n_boot")) as rec:
        old = score_features(real, fake, scores="fid,coverage", bootstrap=40, seed=2)
    assert rec[0].filename == __file__
    pd.testing.assert_frame_equal(old, new)
    assert (new["bootstrap"] == 40).all()  # the output column keeps its name
    with pytest.raises(ValueError, match=both("score_features", "bootstrap", "n_boot") + "40 and bootstrap=40"):
        score_features(real, fake, scores="fid", n_boot=40, bootstrap=40)
    with pytest.raises(ValueError, match="n_boot must be 0 or at least 40 replicates for a 0.95 interval; got 10"):
        score_features(real, fake, scores="fid", n_boot=10)
    with pytest.raises(ValueError, match="n_boot must be an integer >= 0; got -1"):
        score_features(real, fake, scores="fid", n_boot=-1)
    # The deprecated-keyword wrapper is one more frame: the doubts still point at the caller.
    wide = np.random.default_rng(4).normal(size=(2, 20, 30))  # 20 rows for 30 columns: a doubted covariance
    with pytest.warns(DiagnosticWarning) as rec:
        score_features(wide[0], wide[1], scores="fid")
    assert {w.filename for w in rec if issubclass(w.category, DiagnosticWarning)} == {__file__}


@pytest.fixture
def images():
    """80 real and 80 generated greyscale 6x6 images in [0, 1], the generated ones less contrasted."""
    r = np.random.default_rng(3)
    real = r.uniform(size=(80, 1, 6, 6)).astype(np.float32)
    return real, (0.1 + 0.8 * r.uniform(size=(80, 1, 6, 6))).astype(np.float32)


def test_score_and_scorer_bootstrap_is_n_boot(images):
    real, fake = images
    kw = dict(extractor="pixels", cache=False, scores="fid", seed=0)
    new = score(real, {"g": fake}, n_boot=40, **kw)
    with pytest.warns(DeprecationWarning, match=deprecated("score", "bootstrap", "n_boot")) as rec:
        old = score(real, {"g": fake}, bootstrap=40, **kw)
    assert rec[0].filename == __file__
    cols = ["fake", "score", "value", "ci_low", "ci_high", "boot_std", "bootstrap"]
    pd.testing.assert_frame_equal(old[cols], new[cols])
    with pytest.raises(ValueError, match=both("score", "bootstrap", "n_boot")):
        score(real, {"g": fake}, n_boot=40, bootstrap=40, **kw)
    with pytest.warns(DiagnosticWarning) as rec:  # 36 pixel columns, 10 rows: a doubted covariance
        score(real[:10], {"g": fake[:10]}, **kw)
    assert {w.filename for w in rec if issubclass(w.category, DiagnosticWarning)} == {__file__}

    scorer = Scorer(real, extractor="pixels", cache=False, scores="fid", seed=0)
    ref = scorer.real.reference
    rows = scorer.score_images(ref, "self", n_boot=40)
    with pytest.warns(DeprecationWarning, match=deprecated("Scorer.score_images", "bootstrap", "n_boot")) as rec:
        assert scorer.score_images(ref, "self", bootstrap=40) == rows
    assert rec[0].filename == __file__
    with pytest.raises(ValueError, match=both("Scorer.score_images", "bootstrap", "n_boot")):
        scorer.score_images(ref, "self", n_boot=40, bootstrap=40)


def test_run_validity_bootstrap_is_n_boot():
    # Both are checked before any data is loaded or any classifier trained.
    with pytest.warns(DeprecationWarning, match=deprecated("run_validity", "bootstrap", "n_boot")):
        with pytest.raises(ValueError, match="n_boot must be at least 40: the clean baselines' replicates"):
            run_validity(bootstrap=0)
    with pytest.raises(ValueError, match=both("run_validity", "bootstrap", "n_boot")):
        run_validity(n_boot=40, bootstrap=40)


# ------------------------------------------ validity: redraws, boot_draws -> n_draws, n_boot_draws
def _draw(i):
    r = np.random.default_rng(60 + i)
    return r.normal(size=(100, 3)), r.normal(size=(100, 3))


def test_calibration_old_names_give_the_same_table():
    new = interval_calibration(_draw, n_draws=4, n_boot_draws=2, n_boot=40, scores="fid,coverage")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        old = interval_calibration(_draw, redraws=4, boot_draws=2, bootstrap=40, scores="fid,coverage")
    messages = [str(w.message) for w in rec if issubclass(w.category, DeprecationWarning)]
    assert len(messages) == 3
    for old_name, new_name in (("redraws", "n_draws"), ("boot_draws", "n_boot_draws"), ("bootstrap", "n_boot")):
        pattern = deprecated("interval_calibration", old_name, new_name)
        assert any(re.fullmatch(pattern, m) for m in messages), (pattern, messages)
    pd.testing.assert_frame_equal(old, new)


@pytest.mark.parametrize("function", [interval_calibration, real_calibration])
@pytest.mark.parametrize("old,new", [("redraws", "n_draws"), ("boot_draws", "n_boot_draws"), ("bootstrap", "n_boot")])
def test_calibration_refuses_old_and_new_together(function, old, new):
    # The names are resolved before the first argument is looked at.
    with pytest.raises(ValueError, match=both(function.__name__, old, new) + "5 and " + old + "=5"):
        function(None, **{old: 5, new: 5})


# ------------------------------------------------------------- command line and configuration
def _arrays(tmp_path, images):
    real, fake = images
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", fake)
    return ["--real", str(tmp_path / "real.npy"), "--fake", str(tmp_path / "fake.npy")]


def test_score_option_bootstrap_is_n_boot(tmp_path, images, capsys, monkeypatch):
    monkeypatch.setenv("INFOBENCH_CACHE", str(tmp_path / "cache"))
    base = ["score", *_arrays(tmp_path, images), "--extractor", "pixels", "--scores", "fid", "--json", "--no-cache"]
    assert main([*base, "--n-boot", "40"]) == 0
    new = json.loads(capsys.readouterr().out)
    assert main([*base, "--bootstrap", "40"]) == 0
    captured = capsys.readouterr()
    old = json.loads(captured.out)
    assert "warning: infobench score: --bootstrap is deprecated and will be removed in" in captured.err
    assert "use --n-boot" in captured.err
    assert [r["ci_low"] for r in old["scores"]] == [r["ci_low"] for r in new["scores"]]
    assert old["scores"][0]["bootstrap"] == 40 and not np.isnan(old["scores"][0]["ci_low"])
    assert main([*base, "--n-boot", "40", "--bootstrap", "40"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "infobench score: --bootstrap is the deprecated spelling of --n-boot; give one, not both" in err
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = capsys.readouterr().out
    assert "--n-boot B" in text and "--bootstrap" not in text


def test_validity_option_bootstrap_is_n_boot(capsys):
    # The replicate count is checked before any feature extraction or training.
    assert main(["validity", "--bootstrap", "0"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: infobench validity: --bootstrap is deprecated" in err
    assert "n_boot must be at least 40" in err
    assert main(["validity", "--bootstrap", "40", "--n-boot", "40"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "infobench validity: --bootstrap is the deprecated spelling of --n-boot; give one, not both" in err


def test_config_key_bootstrap_is_n_boot(tmp_path, capsys):
    old = tmp_path / "old.toml"
    old.write_text("[quality]\nbootstrap = 40\n")
    new = tmp_path / "new.toml"
    new.write_text("[quality]\nn_boot = 40\n")
    with pytest.warns(DeprecationWarning, match=deprecated(rf"config file '{old}' \[quality\]", "bootstrap", "n_boot")):
        config = load_config(old)
    assert config == load_config(new) and config.quality.n_boot == 40
    both_file = tmp_path / "both.toml"
    both_file.write_text("[quality]\nbootstrap = 40\nn_boot = 50\n")
    with pytest.raises(ValueError, match=both(rf"config file '{both_file}' \[quality\]", "bootstrap", "n_boot")):
        load_config(both_file)
    # infobench run prints the warning as one line and the new key in its configuration
    assert main(["run", "--config", str(old), "--print-config"]) == 0
    captured = capsys.readouterr()
    assert "n_boot = 40" in captured.out and "bootstrap" not in captured.out
    assert "warning: config file" in captured.err and "[quality]: bootstrap is deprecated" in captured.err
