"""The plugin module named by the entry point: one hook, one registration.

``pyproject.toml`` names this module in the ``gpsa`` entry-point group (``mlpsa =
"gpsa_mlpsa.plugin"``); gpsa imports it, calls every ``@hookimpl`` function it defines whose name
is a hook of ``gpsa.plugins.hookspecs``, and checks what ``register`` receives (a
``PsaAlgorithm`` subclass whose ``name`` no other plugin registered).
"""

from __future__ import annotations

from collections.abc import Callable

from gpsa.plugins import hookimpl
from gpsa_mlpsa.model import MlPsa


@hookimpl
def gpsa_register_psa_algorithms(register: Callable[[type], None]) -> None:
    register(MlPsa)
