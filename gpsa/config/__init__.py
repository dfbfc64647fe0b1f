"""Run configuration: typed parameters declared on classes, TOML run files and replay folders,
checked against the registered actors before any data is read."""

from gpsa.config.params import REQUIRED, Configurable, Param
from gpsa.config.resolve import CrystalConfig, RunConfig, StageConfig, resolve_config

__all__ = ["REQUIRED", "Configurable", "CrystalConfig", "Param", "RunConfig", "StageConfig",
           "resolve_config"]
