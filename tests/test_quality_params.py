"""Score parameters declared where they are used: the registry, Params, the CLI options, the pass-through."""

import contextlib
import pickle
import warnings
from dataclasses import FrozenInstanceError
from functools import partial

import numpy as np
import pytest
import torch

from infobench._validation import check_float, check_int
from infobench.cli import build_parser, main
from infobench.commands.score import params_of
from infobench.quality import available_params, available_scores, score_features
from infobench.quality._core import (
    GROUPS,
    PARAMS,
    SCORES,
    Outcome,
    Params,
    ScoreSpec,
    _ensure_loaded,
    declare_param,
    register_group,
)


@contextlib.contextmanager
def _restored_registries():
    """Put PARAMS, SCORES and GROUPS back as they were (same entries, same order) on exit."""
    _ensure_loaded()
    saved = [(reg, dict(reg)) for reg in (PARAMS, SCORES, GROUPS)]
    try:
        yield
    finally:
        for reg, before in saved:
            reg.clear()
            reg.update(before)


def _declare_throwaway_score():
    """What a new score module holds: a brand-new parameter, declared next to the score that reads it."""
    declare_param(
        "tt_power",
        1.0,
        check=partial(check_float, low=0.0, low_open=True),
        cli=float,
        doc="exponent of the throwaway moment score",
    )

    spec = ScoreSpec(
        name="tt_moment",
        label="E|y|^p",
        direction="down",
        unit="",
        family="standard",
        needs="features",
        bootstrap="split",
        group="tt_moment",
        summary="mean p-th power of the generated features' norms",
        params=("tt_power",),
    )

    @register_group("tt_moment", [spec])
    def _group(ctx, names):
        v = float((torch.linalg.vector_norm(ctx.fake, dim=1) ** ctx.params.tt_power).mean())
        return {"tt_moment": Outcome(v, ctx.real.shape[0], ctx.fake.shape[0])}


def test_a_score_with_a_new_parameter_needs_only_its_own_module(rng, capsys):
    real, fake = rng.normal(size=(60, 3)), rng.normal(size=(40, 3))
    with _restored_registries():
        _declare_throwaway_score()
        # Params: default, keyword, validation naming the parameter and the value.
        assert Params().tt_power == 1.0 and Params(tt_power=2.5).tt_power == 2.5
        with pytest.raises(ValueError, match=r"tt_power must be a finite number > 0.0; got -1.0"):
            Params(tt_power=-1.0)
        with pytest.raises(TypeError, match=r"tt_power must be a real number > 0.0; got 'x'"):
            Params(tt_power="x")
        # The CLI option, built by commands/score.py from the declaration (score and validity share it).
        with pytest.raises(SystemExit):
            main(["score", "--help"])
        help_text = " ".join(capsys.readouterr().out.split())
        assert "--tt-power TT_POWER exponent of the throwaway moment score (default 1.0)" in help_text
        for command in ("score", "validity"):
            args = build_parser().parse_args([command, "--tt-power", "3"])
            assert params_of(args)["tt_power"] == 3.0
        assert params_of(build_parser().parse_args(["score"]))["tt_power"] == 1.0
        # The listings show its default and doc.
        row = available_params().set_index("name").loc["tt_power"]
        assert (row["default"], row["option"], row["scores"], row["doc"]) == (
            1.0,
            "--tt-power",
            "tt_moment",
            "exponent of the throwaway moment score",
        )
        listed = available_scores().set_index("name").loc["tt_moment"]
        assert listed["params"] == ("tt_power",) and listed["param_defaults"] == "tt_power=1.0"
        # score_features passes it through: the value against numpy on the same rows (float64, one
        # reduction: agreement to rounding).
        df = score_features(real, fake, scores=["tt_moment"], **{"tt_power": 2.0})
        assert df["value"].iloc[0] == pytest.approx(np.mean(np.sum(fake**2, axis=1)), rel=1e-12)
        assert df.attrs["params"]["tt_power"] == 2.0
        df = score_features(real, fake, scores=["tt_moment"])
        assert df["value"].iloc[0] == pytest.approx(np.mean(np.linalg.norm(fake, axis=1)), rel=1e-12)
        with pytest.raises(ValueError, match=r"tt_power must be a finite number > 0.0; got 0"):
            score_features(real, fake, scores=["tt_moment"], tt_power=0)
    # Cleaned up: the parameter, the score and the option are gone.
    assert "tt_power" not in PARAMS and "tt_moment" not in SCORES and "tt_moment" not in GROUPS
    with pytest.raises(ValueError, match=r"unknown score parameter 'tt_power'; valid parameters are \['k', "):
        Params(tt_power=2.0)
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    assert "--tt-power" not in capsys.readouterr().out


def test_declarations_are_checked():
    with _restored_registries():
        with pytest.raises(ValueError, match=r"score parameter 'k' is already declared \(in infobench.quality._core\)"):
            declare_param("k", 5, check=partial(check_int, low=1), doc="again")
        with pytest.raises(ValueError, match=r"score parameter name must be an identifier .*; got 'as_dict'"):
            declare_param("as_dict", 5, check=partial(check_int, low=1), doc="clashes with a method")
        with pytest.raises(ValueError, match=r"doc of score parameter 'tt_n' must be one non-empty line; got ''"):
            declare_param("tt_n", 5, check=partial(check_int, low=1), doc="")
        with pytest.raises(ValueError, match=r"tt_n must be an integer >= 10; got 5"):  # the default is checked
            declare_param("tt_n", 5, check=partial(check_int, low=10), doc="a bad default")
        with pytest.raises(ValueError, match=r"alias_of must name a declared parameter; got 'nope'"):
            declare_param("tt_n", 5, check=partial(check_int, low=1), doc="an alias", alias_of="nope")
        assert "tt_n" not in PARAMS
        # A score reading an undeclared parameter (a typo) is refused, and nothing of its group is registered.
        specs = [
            ScoreSpec(
                name="tt_a",
                label="a",
                direction="up",
                unit="",
                family="standard",
                needs="features",
                bootstrap="split",
                group="tt",
                summary="a",
            ),
            ScoreSpec(
                name="tt_b",
                label="b",
                direction="up",
                unit="",
                family="standard",
                needs="features",
                bootstrap="split",
                group="tt",
                summary="b",
                params=("vendi_qq",),
            ),
        ]
        with pytest.raises(ValueError, match=r"score 'tt_b' reads undeclared parameter 'vendi_qq'"):
            register_group("tt", specs)(lambda ctx, names: {})
        assert "tt_a" not in SCORES and "tt" not in GROUPS


def test_params_object_keeps_the_dataclass_behaviour():
    p = Params(k=3, vendi_q=2.0)
    assert (p.k, p.knn_k, p.vendi_q, p.kid_subsets, p.max_memory, p.tile_bytes) == (3, 3, 2.0, 100, None, None)
    assert p == Params(vendi_q=2.0, k=3) and p != Params() and hash(p) == hash(Params(k=3, vendi_q=2.0))
    assert repr(Params()).startswith("Params(k=5, knn_k=3, max_memory=None, tile_bytes=None, ")
    assert "vendi_q=1.0" in repr(Params()) and "kid_subset_size=1000" in repr(Params())
    with pytest.raises(FrozenInstanceError):
        p.k = 4
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = p.nope
    assert pickle.loads(pickle.dumps(p)) == p
    assert p.replace(k=7) == Params(k=7, vendi_q=2.0) and p.k == 3
    assert p.as_dict() == {name: getattr(p, name) for name in PARAMS} and p.as_dict()["k"] == 3
    with pytest.raises(ValueError, match=r"unknown score parameter 'kk'; valid parameters are \[.*'vendi_q'"):
        Params(kk=3)
    with pytest.raises(TypeError, match=r"vendi_q must be a number >= 0 \(or inf\); got 'a'"):
        Params(vendi_q="a")
    assert Params(vendi_q=float("inf")).vendi_q == float("inf")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Params(max_memory=4096)  # no alias given: no warning
