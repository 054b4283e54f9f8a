"""The main job, ``infobench run``: estimator benchmark, reference generators, sample quality, one report."""

from infobench.mainjob.config import RunConfig, default_config, load_config, to_toml
from infobench.mainjob.pipeline import MainJobResult, run_main_job

__all__ = ["MainJobResult", "RunConfig", "default_config", "load_config", "run_main_job", "to_toml"]
