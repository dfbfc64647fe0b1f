"""Plugin API for gpsa: everything a plugin author imports.

A plugin module implements hooks from :mod:`gpsa.plugins.hookspecs`::

    from gpsa.plugins import Filter, Param, hookimpl

    class Scale(Filter):
        \"\"\"Multiply traces by a constant.\"\"\"
        name = "scale"
        factor = Param(float, 1.0, "multiplier")

        def process(self, block):
            ...

    @hookimpl
    def gpsa_register_actors(register):
        register(Scale)

and names that module in its ``pyproject.toml`` under ``[project.entry-points.gpsa]``.
"""

from gpsa.config.params import REQUIRED, Configurable, Param
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Consumer, Filter, GlobalActor, Producer, RunContext
from gpsa.runtime.psa_algorithm import PsaAlgorithm

__all__ = [
    "REQUIRED",
    "Configurable",
    "Consumer",
    "Filter",
    "GlobalActor",
    "Param",
    "Producer",
    "PsaAlgorithm",
    "RunContext",
    "hookimpl",
]
