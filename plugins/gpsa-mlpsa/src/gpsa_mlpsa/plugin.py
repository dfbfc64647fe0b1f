"""The plugin module named by the entry point: one hook, one registration."""

from __future__ import annotations

from collections.abc import Callable

from gpsa.plugins import hookimpl
from gpsa_mlpsa.model import MlPsa


@hookimpl
def gpsa_register_psa_algorithms(register: Callable[[type], None]) -> None:
    register(MlPsa)
