"""Estimator specs: one syntax in Python, on the command line and in every table.

Grammar (whitespace around tokens is ignored)::

    specs  := spec { "," spec }                    commas outside brackets separate specs
    spec   := METHOD [ "[" param { ";" param } "]" ]
    param  := NAME "=" value { "," value }         a list expands to one cell per value
    value  := int | float | true | false | none | bare-word | 'quoted' | "quoted"

Examples: ``histogram``, ``ksg[k=3,5]``, ``kde[bandwidth=scott]``,
``ksg[k=3,5;variant=1,2]`` (four estimators: the cartesian product over
parameters), ``mine[steps=2000;lr=0.001]``.

Values are typed by their spelling: ``3`` is an int, ``3.0`` and ``1e-3`` are
floats, ``true``/``false`` booleans, ``none`` is ``None``; anything else is a
string (quote it, ``'3'``, to force a string that looks like a number).
The canonical form sorts parameters by name and prints each value so that it
parses back to the same value and type: ``str(EstimatorSpec.parse(s))`` is the
label used in results databases, tables and plots.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["EstimatorSpec", "parse_specs", "split_top_level"]

_METHOD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
# Characters a value may use without quotes; the separators of the grammar are excluded.
_BARE_RE = re.compile(r"^[A-Za-z0-9_.:/+\-]+$")
# Parameters a benchmark grid sets per cell; a spec in a grid may not fix them.
RESERVED_PARAMS = ("seed",)


def _error(text: str, reason: str) -> ValueError:
    return ValueError(f"malformed estimator spec {text!r}: {reason}")


def split_top_level(text: str, sep: str, *, whole: str | None = None) -> list[str]:
    """Split ``text`` at ``sep`` where it is outside brackets and quotes.

    ``whole`` is the full spec text quoted in error messages.
    """
    whole = text if whole is None else whole
    parts: list[str] = []
    buf: list[str] = []
    depth, quote = 0, None
    for ch in text:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise _error(whole, "']' without a matching '['")
        elif ch == sep and depth == 0:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    if quote:
        raise _error(whole, f"unterminated quote {quote}")
    if depth:
        raise _error(whole, "'[' without a matching ']'")
    parts.append("".join(buf))
    return parts


def parse_value(token: str, *, whole: str = "") -> Any:
    """Type one value by its spelling (see the module docstring)."""
    tok = token.strip()
    if not tok:
        raise _error(whole or token, "empty value")
    if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "'\"":
        return tok[1:-1]
    if tok[0] in "'\"" or tok[-1] in "'\"":
        raise _error(whole or token, f"unbalanced quotes in value {tok}")
    low = tok.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low in ("none", "null"):
        return None
    if _INT_RE.match(tok):
        return int(tok)
    if _FLOAT_RE.match(tok):
        return float(tok)
    if not _BARE_RE.match(tok):
        raise _error(
            whole or token,
            f"value {tok!r} must be a number, true/false, none, a word of letters, digits and _.:/+- or a quoted string",
        )
    return tok


def format_value(value: Any) -> str:
    """Print a value so that :func:`parse_value` reads back the same value and type."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            # Non-finite floats have no numeric spelling in the grammar.
            raise ValueError(f"estimator parameters must be finite numbers; got {value!r}")
        return repr(value)
    if isinstance(value, str):
        try:
            same = _BARE_RE.match(value) and parse_value(value) == value
        except ValueError:
            same = False
        if same:
            return value
        if "'" in value and '"' in value:
            raise ValueError(f"a string parameter may not contain both quote characters; got {value!r}")
        q = '"' if "'" in value else "'"
        return f"{q}{value}{q}"
    raise TypeError(f"estimator parameters must be int, float, bool, str or None; got {type(value).__name__} {value!r}")


def _normalise_value(name: str, value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    format_value(value)  # type check and finiteness
    return value


@dataclass(frozen=True, eq=False)
class EstimatorSpec:
    """One estimator: a registered method name and fixed parameter values.

    Parameters
    ----------
    method : str
        A registered method name (``infobench.estimators.available()``).
    params : tuple of (name, value) pairs
        Sorted by name on construction; values are int, float, bool, str or None.

    Examples
    --------
    >>> spec = EstimatorSpec.parse("ksg[variant=2;k=5]")
    >>> str(spec), spec.kwargs
    ('ksg[k=5;variant=2]', {'k': 5, 'variant': 2})
    """

    method: str
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not _METHOD_RE.match(self.method):
            raise ValueError(f"estimator method must be a name of letters, digits, _ and -; got {self.method!r}")
        if isinstance(self.params, dict):
            items = list(self.params.items())
        else:
            items = [tuple(p) for p in self.params]
        names = [name for name, _ in items]
        for name in names:
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise ValueError(f"estimator parameter names must be identifiers; got {name!r} in {self.method!r}")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"estimator parameter {dup[0]!r} is given twice for {self.method!r}")
        norm = tuple(sorted((name, _normalise_value(name, value)) for name, value in items))
        object.__setattr__(self, "params", norm)

    @classmethod
    def parse(cls, text: str, *, reserved: tuple[str, ...] = RESERVED_PARAMS) -> EstimatorSpec:
        """Parse one spec with a single value per parameter (``ksg[k=3]``).

        ``reserved`` names the parameters the caller sets itself and the spec
        may not fix: a benchmark grid sets ``seed`` per cell (the default); a
        single estimate (``infobench estimate``) passes ``()`` and takes a
        ``seed`` from the spec like any other parameter.
        """
        specs = _expand_one(text, reserved)
        if len(specs) != 1:
            raise _error(text, "expected one value per parameter here; lists like k=3,5 are for grids")
        return specs[0]

    @property
    def kwargs(self) -> dict[str, Any]:
        """The parameters as keyword arguments for the estimator."""
        return dict(self.params)

    @property
    def params_json(self) -> str:
        """The parameters as a JSON object with sorted keys (how the results store keeps them)."""
        return json.dumps(self.kwargs, sort_keys=True)

    # Identity is the canonical text: k=3 and k=3.0 compare equal in Python but
    # are different estimators here, as their labels differ.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, EstimatorSpec) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __repr__(self) -> str:
        return f"EstimatorSpec({str(self)!r})"

    def __str__(self) -> str:
        if not self.params:
            return self.method
        inner = ";".join(f"{name}={format_value(value)}" for name, value in self.params)
        return f"{self.method}[{inner}]"


def _expand_one(text: str, reserved: tuple[str, ...] = RESERVED_PARAMS) -> list[EstimatorSpec]:
    if not isinstance(text, str):
        raise TypeError(f"an estimator spec must be a string; got {type(text).__name__} {text!r}")
    s = text.strip()
    if not s:
        raise _error(text, "empty spec")
    if "[" in s:
        head, _, rest = s.partition("[")
        if not rest.endswith("]"):
            raise _error(text, "text after the closing ']' (separate specs with commas)")
        body = rest[:-1]
        unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", body)
        if "[" in unquoted or "]" in unquoted:
            raise _error(text, "nested brackets")
    else:
        if "]" in s:
            raise _error(text, "']' without a matching '['")
        head, body = s, None
    method = head.strip()
    if not _METHOD_RE.match(method):
        raise _error(text, f"method name {method!r} must start with a letter and use letters, digits, _ and -")
    if body is None:
        return [EstimatorSpec(method)]
    if not body.strip():
        raise _error(text, "empty brackets (write the method alone for its defaults)")
    axes: list[tuple[str, list[Any]]] = []
    for part in split_top_level(body, ";", whole=text):
        if "=" not in part:
            raise _error(text, f"parameter {part.strip()!r} needs a value: name=value (separate parameters with ';')")
        name, _, values_text = part.partition("=")
        name = name.strip()
        if not _NAME_RE.match(name):
            raise _error(text, f"parameter name {name!r} is not an identifier")
        if name in reserved:
            raise _error(text, f"parameter {name!r} is set per cell by the grid (from its base seed); remove it")
        if any(name == a for a, _ in axes):
            raise _error(text, f"parameter {name!r} is given twice")
        values = [parse_value(v, whole=text) for v in split_top_level(values_text, ",", whole=text)]
        keys = [(type(v).__name__, v) for v in values]
        if len(set(keys)) != len(keys):
            raise _error(text, f"parameter {name!r} lists a value twice")
        axes.append((name, values))
    names = [a for a, _ in axes]
    return [EstimatorSpec(method, tuple(zip(names, combo))) for combo in itertools.product(*(v for _, v in axes))]


def parse_specs(specs: str | EstimatorSpec | Iterable[str | EstimatorSpec]) -> list[EstimatorSpec]:
    """Expand estimator specs into single-valued :class:`EstimatorSpec` objects.

    Parameters
    ----------
    specs : str, EstimatorSpec or iterable of them
        A string may hold several specs separated by top-level commas
        (``"ksg[k=3,5],kde,histogram"``). Lists of values expand to one spec
        each (cartesian product over parameters).

    Returns
    -------
    list of EstimatorSpec
        In the order given, duplicates removed.

    Raises
    ------
    ValueError
        A malformed spec; the message quotes it and says what is wrong.
    """
    if isinstance(specs, (str, EstimatorSpec)):
        specs = [specs]
    try:
        items = list(specs)
    except TypeError:
        raise TypeError(f"estimators must be a spec string or a list of them; got {type(specs).__name__}") from None
    out: list[EstimatorSpec] = []
    for item in items:
        if isinstance(item, EstimatorSpec):
            expanded = [item]
        elif isinstance(item, str):
            expanded = []
            for part in split_top_level(item, ","):
                expanded.extend(_expand_one(part))
        else:
            raise TypeError(f"estimator specs must be strings or EstimatorSpec; got {type(item).__name__} {item!r}")
        for spec in expanded:
            if spec not in out:
                out.append(spec)
    if not out:
        raise ValueError("estimators must name at least one estimator spec; got none")
    return out
