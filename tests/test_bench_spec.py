"""Estimator spec syntax: parsing, expansion, canonical printing, errors."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infobench.bench.spec import EstimatorSpec, format_value, parse_specs, parse_value


def labels(text):
    return [str(s) for s in parse_specs(text)]


def test_plain_method_and_single_values():
    assert labels("histogram") == ["histogram"]
    spec = EstimatorSpec.parse("kde[bandwidth=scott]")
    assert spec.method == "kde" and spec.kwargs == {"bandwidth": "scott"}
    assert str(spec) == "kde[bandwidth=scott]"


def test_lists_expand_to_one_spec_per_value_cartesian_over_params():
    assert labels("ksg[k=3,5]") == ["ksg[k=3]", "ksg[k=5]"]
    assert labels("ksg[k=3,5;variant=1,2]") == [
        "ksg[k=3;variant=1]",
        "ksg[k=3;variant=2]",
        "ksg[k=5;variant=1]",
        "ksg[k=5;variant=2]",
    ]


def test_top_level_commas_separate_specs_and_duplicates_collapse():
    assert labels("ksg[k=3,5],kde,histogram,ksg[k=3]") == ["ksg[k=3]", "ksg[k=5]", "kde", "histogram"]
    assert labels(["ksg[k=3]", "kde", EstimatorSpec("histogram")]) == ["ksg[k=3]", "kde", "histogram"]


def test_canonical_form_sorts_params_and_ignores_whitespace():
    assert str(EstimatorSpec.parse(" ksg [ variant = 2 ; k = 5 ] ")) == "ksg[k=5;variant=2]"
    assert EstimatorSpec.parse("ksg[variant=2;k=5]") == EstimatorSpec("ksg", {"k": 5, "variant": 2})


@pytest.mark.parametrize(
    "token, value",
    [
        ("3", 3),
        ("-2", -2),
        ("3.0", 3.0),
        ("1e-3", 0.001),
        (".5", 0.5),
        ("true", True),
        ("False", False),
        ("none", None),
        ("scott", "scott"),
        ("cuda:0", "cuda:0"),
        ("'3'", "3"),
        ('"a b"', "a b"),
    ],
)
def test_values_are_typed_by_spelling(token, value):
    parsed = parse_value(token)
    assert parsed == value and type(parsed) is type(value)


def test_int_and_float_spellings_are_different_estimators():
    a, b = EstimatorSpec.parse("ksg[k=3]"), EstimatorSpec.parse("ksg[k=3.0]")
    assert a != b and str(b) == "ksg[k=3.0]"
    assert len(parse_specs("ksg[k=3,3.0]")) == 2


def test_strings_that_look_like_other_types_are_quoted_back():
    assert str(EstimatorSpec("m", {"s": "3"})) == "m[s='3']"
    assert str(EstimatorSpec("m", {"s": "true"})) == "m[s='true']"
    assert str(EstimatorSpec("m", {"s": "a,b"})) == "m[s='a,b']"
    assert parse_specs("m[s='a,b',c]") == [EstimatorSpec("m", {"s": "a,b"}), EstimatorSpec("m", {"s": "c"})]


scalars = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.none(),
    st.text(alphabet="abcxyz019_.:-+/ ,;=[]'", min_size=1, max_size=8).filter(
        lambda s: not ("'" in s and '"' in s) and s.strip() == s
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["k", "bandwidth", "lr", "steps", "mode"]), scalars, max_size=4))
def test_canonical_text_parses_back_to_the_same_spec(params):
    spec = EstimatorSpec("meth", params)
    again = EstimatorSpec.parse(str(spec))
    assert again == spec
    assert again.kwargs == spec.kwargs
    for k, v in spec.kwargs.items():
        assert type(again.kwargs[k]) is type(v)


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty spec"),
        ("ksg[", r"'\[' without a matching '\]'"),
        ("ksg]", r"'\]' without a matching '\['"),
        ("ksg[k=3]x", "text after the closing"),
        ("ksg[]", "empty brackets"),
        ("ksg[k]", "needs a value"),
        ("ksg[k=]", "empty value"),
        ("ksg[k=3;k=5]", "given twice"),
        ("ksg[k=3,3]", "lists a value twice"),
        ("ksg[2k=3]", "not an identifier"),
        ("3ksg", "method name '3ksg'"),
        ("ksg[seed=1]", "set per cell by the grid"),
        ("ksg[k=a b]", "must be a number"),
        ("ksg[k='3]", "unterminated quote"),
        ("ksg[k=[3]]", "nested brackets"),
        ("ksg,,kde", "empty spec"),
    ],
)
def test_malformed_specs_raise_one_line_errors_quoting_the_spec(text, match):
    with pytest.raises(ValueError, match=match) as info:
        parse_specs(text)
    assert "\n" not in str(info.value)
    assert "malformed estimator spec" in str(info.value)


def test_the_caller_says_which_parameters_a_spec_may_not_fix():
    # A grid sets the seed per cell; a single estimate has no grid and takes the spec's seed.
    with pytest.raises(ValueError, match="parameter 'seed' is set per cell by the grid"):
        EstimatorSpec.parse("ksg[seed=5]")
    assert EstimatorSpec.parse("ksg[k=5;seed=5]", reserved=()).kwargs == {"k": 5, "seed": 5}


def test_parse_refuses_lists_where_one_estimator_is_expected():
    with pytest.raises(ValueError, match="one value per parameter"):
        EstimatorSpec.parse("ksg[k=3,5]")


def test_bad_constructor_arguments():
    with pytest.raises(TypeError, match="estimator parameters must be int, float, bool, str or None"):
        EstimatorSpec("ksg", {"k": [3]})
    with pytest.raises(ValueError, match="finite"):
        EstimatorSpec("ksg", {"lr": float("nan")})
    with pytest.raises(ValueError, match="estimator method must be a name"):
        EstimatorSpec("k s g")
    with pytest.raises(TypeError, match="estimator specs must be strings or EstimatorSpec; got int 3"):
        parse_specs([3])
    with pytest.raises(ValueError, match="at least one estimator"):
        parse_specs([])
    with pytest.raises(ValueError, match="both quote characters"):
        format_value("a'b\"c")
