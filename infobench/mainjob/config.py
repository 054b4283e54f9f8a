"""Configuration of the main job (``infobench run``): defaults, TOML loading, validation.

The configuration is plain data. ``infobench run --print-config`` prints the
defaults as TOML to copy; ``--config FILE`` overrides any subset of them.
Unknown sections or keys are rejected with the valid names, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from infobench._validation import check_int, take_renamed

__all__ = [
    "BenchmarkConfig",
    "GeneratorConfig",
    "QualityConfig",
    "RunConfig",
    "default_config",
    "load_config",
    "to_toml",
]

_GENERATOR_KINDS = ("gan", "wgan-gp", "vae")


@dataclass(frozen=True)
class BenchmarkConfig:
    """Estimator benchmark: suites x estimators x sample sizes x seeds."""

    # "kl" runs the kNN KL estimator (the entropy spec "knn" applies to KL tasks too). "mixtures" is
    # not a default: its 14 MI tasks would add 336 neural cells (4 estimators x 2 n x 3 seeds), and one
    # smile[steps=400] cell on its 10x10 task at n=5000 took 142 s here (loaded 2-core machine).
    suites: tuple[str, ...] = ("smoke", "entropy", "kl")
    # A spec runs on every task whose quantity has a method of that name: "auto" serves MI and
    # entropy tasks, "knn" entropy and KL tasks.
    mi_estimators: tuple[str, ...] = (
        "ksg[variant=1,2]",
        "kde",
        "histogram",
        "gaussian",
        "gcmi",
        "auto",
        "mine[steps=400]",
        "nwj[steps=400]",
        "infonce[steps=400]",
        "smile[steps=400]",
    )
    entropy_estimators: tuple[str, ...] = ("knn", "kde", "histogram", "gaussian")
    n: tuple[int, ...] = (1000, 5000)
    seeds: int = 3
    seed: int = 0
    jobs: int = 0
    time_limit: float = 300.0


@dataclass(frozen=True)
class GeneratorConfig:
    """Reference generators trained on ``dataset``; epochs per model kind.

    Each model is trained ``seeds`` times, run ``i`` with the ``i``-th seed
    spawned from ``seed`` (:func:`infobench._validation.spawn_seeds`), so its
    scores carry their spread across training runs. ``eval_every``: keep the
    checkpoint every that many epochs (and the last) and score each on
    ``eval_samples`` samples (learning curves); 0: none. ``jobs``: worker
    processes that train runs side by side (0: one per core).
    """

    dataset: str = "digits"
    models: tuple[str, ...] = _GENERATOR_KINDS
    epochs: dict[str, int] = field(default_factory=lambda: {"gan": 0, "wgan-gp": 0, "vae": 0})
    seed: int = 0
    seeds: int = 3
    eval_every: int = 10
    eval_samples: int = 250
    jobs: int = 0


@dataclass(frozen=True)
class QualityConfig:
    """Sample-quality scoring of each generator and of the held-out real split.

    ``n_boot``: bootstrap replicates of each score's interval (the key
    ``bootstrap``, its deprecated name, is read until 0.2.0 with a
    ``DeprecationWarning``).
    """

    extractor: str = "classifier"
    n_samples: int = 2000
    n_boot: int = 100
    validity: bool = True
    seed: int = 0


@dataclass(frozen=True)
class RunConfig:
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    generators: GeneratorConfig = field(default_factory=GeneratorConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    device: str = "auto"

    def fingerprint(self, section: str) -> str:
        """A short hash of one section (plus the device), used to decide what can be reused."""
        payload = {"section": dataclasses.asdict(getattr(self, section))}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()[:12]


def default_config(quick: bool = False) -> RunConfig:
    """The defaults of ``infobench run`` (``quick=True``: those of ``infobench run --quick``).

    ``epochs = 0`` means "the model's own default for the dataset".
    """
    if not quick:
        return RunConfig()
    return RunConfig(
        benchmark=BenchmarkConfig(
            mi_estimators=(
                "ksg",
                "kde",
                "histogram",
                "gaussian",
                "gcmi",
                "auto",
                "infonce[steps=150]",
                "smile[steps=150]",
            ),
            n=(1000,),
            seeds=2,
            time_limit=120.0,
        ),
        generators=GeneratorConfig(epochs={"gan": -1, "wgan-gp": -1, "vae": -1}, seeds=2, eval_every=5),
        quality=QualityConfig(n_samples=500, n_boot=40),
    )


# Smallest allowed value of integer fields (others: 0).
_INT_LOW = {"seeds": 1, "n_samples": 10, "eval_samples": 10}

_SECTIONS = {"benchmark": BenchmarkConfig, "generators": GeneratorConfig, "quality": QualityConfig}


def _coerce(section: str, name: str, default: Any, value: Any) -> Any:
    where = f"[{section}] {name}"
    if isinstance(default, tuple):
        if isinstance(value, (str, int)):
            value = [value]
        if not isinstance(value, list):
            raise ValueError(f"{where} must be a list; got {value!r}")
        if default and isinstance(default[0], int):
            return tuple(check_int(where, v, low=2) for v in value)
        if not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where} must be a list of strings; got {value!r}")
        return tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false; got {value!r}")
        return value
    if isinstance(default, int):
        return check_int(where, value, low=_INT_LOW.get(name, 0))
    if isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{where} must be a positive number; got {value!r}")
        return float(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a table like {{gan = 20}}; got {value!r}")
        unknown = sorted(set(value) - set(_GENERATOR_KINDS))
        if unknown:
            raise ValueError(f"{where} has unknown model {unknown[0]!r}; valid: {list(_GENERATOR_KINDS)}")
        merged = dict(default)
        merged.update({k: check_int(f"{where}.{k}", v, low=-1) for k, v in value.items()})
        return merged
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string; got {value!r}")
        return value
    raise TypeError(f"unsupported config field {where}")  # pragma: no cover


def load_config(path: str | Path | None = None, *, quick: bool = False) -> RunConfig:
    """Load a TOML configuration on top of the defaults (see :func:`default_config`)."""
    base = default_config(quick)
    if path is None:
        return base
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_SECTIONS) - {"device"})
    if unknown:
        raise ValueError(f"config file has unknown section {unknown[0]!r}; valid: {sorted(_SECTIONS) + ['device']}")
    updates: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        given = data.get(section, {})
        if not isinstance(given, dict):
            raise ValueError(f"[{section}] must be a table; got {given!r}")
        current = getattr(base, section)
        if section == "quality":
            given = dict(given)
            # stacklevel 2: the warning points at the caller of load_config
            take_renamed(given, "bootstrap", "n_boot", where=f"config file {str(path)!r} [quality]", stacklevel=2)
        fields = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(given) - fields)
        if bad:
            raise ValueError(f"[{section}] has unknown key {bad[0]!r}; valid: {sorted(fields)}")
        changes = {k: _coerce(section, k, getattr(current, k), v) for k, v in given.items()}
        if section == "generators" and "models" in changes:
            for m in changes["models"]:
                if m not in _GENERATOR_KINDS:
                    raise ValueError(f"[generators] models has unknown model {m!r}; valid: {list(_GENERATOR_KINDS)}")
        updates[section] = dataclasses.replace(current, **changes)
    if "device" in data:
        if not isinstance(data["device"], str):
            raise ValueError(f"device must be a string; got {data['device']!r}")
        updates["device"] = data["device"]
    return dataclasses.replace(base, **updates)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")  # pragma: no cover


def to_toml(config: RunConfig) -> str:
    """Render a configuration as TOML that :func:`load_config` reads back unchanged."""
    lines = [
        "# infobench run configuration (nats everywhere).",
        "# epochs: 0 = the model's default for the dataset, -1 = the quick budget.",
        f"device = {_toml_value(config.device)}",
    ]
    for section in _SECTIONS:
        lines.append("")
        lines.append(f"[{section}]")
        for f in dataclasses.fields(getattr(config, section)):
            lines.append(f"{f.name} = {_toml_value(getattr(getattr(config, section), f.name))}")
    return "\n".join(lines) + "\n"
