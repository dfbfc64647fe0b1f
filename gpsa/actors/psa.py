"""Built-in plugin: the ``psa`` filter, and the ``grid-search`` PSA algorithm.

The filter loads the basis (through the registered basis readers), creates the algorithm named
by ``algorithm`` (any registered through ``gpsa_register_psa_algorithms``; ``gpsa run --psa NAME``
overrides it) with the stage's other settings, and analyses every block. Run file example::

    [[stage]]
    actor = "psa"
    basis = "bases/toy.h5"
    algorithm = "grid-search"   # or "mlpsa" once gpsa-mlpsa is installed
    workers = 2                 # blocks analysed in parallel threads (order kept)
    search = "ags"              # grid-search settings: see gpsa.psa.settings.PsaSettings
    p = 0.3

The settings accepted depend on the algorithm: each declares its own parameters.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gpsa.actors.common import load_basis
from gpsa.config.params import Param
from gpsa.errors import ConfigError, DeviceError
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Block, Filter, RunContext
from gpsa.runtime.psa_algorithm import PsaAlgorithm


class GridSearch(PsaAlgorithm):
    """Grid search of the basis (full or adaptive), numba on the CPU or CuPy on a GPU."""

    name = "grid-search"
    devices = ("cpu", "cuda")

    @classmethod
    def check_config(cls, config: Mapping[str, Any], where: str,
                     base_dir: Path | None = None) -> dict[str, Any]:
        out = super().check_config(config, where, base_dir)
        from gpsa.psa.settings import PsaSettings

        try:
            PsaSettings(**out)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return out

    def check_basis(self, basis: Any) -> list[str]:
        from gpsa.psa.engine import check_sample_window
        from gpsa.psa.settings import PsaSettings

        settings = PsaSettings(**{k: getattr(self, k) for k in self.params()})
        check_sample_window(basis, settings)
        if settings.segment_order not in (None, basis.segment_order):
            return [f"segment_order = {settings.segment_order!r} but the basis {basis.source} "
                    f"numbers its segments {basis.segment_order}"]
        return []

    def setup(self, basis: Any, device: str) -> None:
        from gpsa.psa import GridSearchPSA, PsaSettings

        settings = PsaSettings(**{k: getattr(self, k) for k in self.params()})
        self.engine = GridSearchPSA(basis, settings, device)
        self._lock = threading.Lock()
        self._serial: bool | None = None

    def analyse(self, block: Block) -> Any:
        if self._serial is None:  # first call: learn whether numba kernels may run concurrently
            with self._lock:
                out = self.engine.run(block)
                self._serial = _numba_layer_is_serial()
                return out
        if self._serial:
            with self._lock:
                return self.engine.run(block)
        return self.engine.run(block)


def _numba_layer_is_serial() -> bool:
    """True when numba's threading layer is "workqueue", which must not be entered from several
    threads at once (tbb and omp may)."""
    try:
        import numba

        return numba.threading_layer() == "workqueue"
    except ValueError:  # no parallel kernel ran: nothing to protect
        return False


def _declare_grid_search_params() -> None:
    """One :class:`Param` per :class:`PsaSettings` field: its default, and the help text,
    choices and lower bound in the field's metadata (PsaSettings still checks the values)."""
    from gpsa.psa.settings import PsaSettings

    for f in dataclasses.fields(PsaSettings):
        default = f.default
        type_: Any = type(default) if default is not None else str
        if not isinstance(default, (bool, int, float, str, type(None))):
            continue
        param: Param[Any] = Param(type_, default, f.metadata["help"],
                                  choices=f.metadata.get("choices"), min=f.metadata.get("min"))
        param.__set_name__(GridSearch, f.name)
        setattr(GridSearch, f.name, param)


_declare_grid_search_params()


class PsaFilter(Filter):
    """Pulse-shape analysis of preprocessed blocks with a registered PSA algorithm."""

    name = "psa"
    thread_safe = True
    basis = Param(Path, help="signal basis file", kind="input")
    algorithm = Param(str, "grid-search", "PSA algorithm (see `gpsa plugins`)")

    @classmethod
    def _algorithm_class(cls, config: Mapping[str, Any], where: str) -> type[PsaAlgorithm] | None:
        from gpsa.plugins.catalogue import get_catalogue

        name = config.get("algorithm", cls.algorithm.default)
        if not isinstance(name, str):
            return None  # reported by the type check of 'algorithm'
        return get_catalogue().psa_algorithm(name, f"{where}.algorithm")

    @classmethod
    def params_for(cls, config: Mapping[str, Any]) -> dict[str, Param[Any]]:
        algo = cls._algorithm_class(config, f"stage {cls.name!r}")
        return cls.params() | (algo.params() if algo is not None else {})

    @classmethod
    def check_config(cls, config: Mapping[str, Any], where: str,
                     base_dir: Path | None = None) -> dict[str, Any]:
        cls._algorithm_class(config, where)  # unknown algorithm: named before the keys
        out = super().check_config(config, where, base_dir)
        algo = cls._algorithm_class(out, where)
        assert algo is not None
        algo.check_config({k: out[k] for k in algo.params()}, where, base_dir)
        return out

    def _make_algorithm(self, device: str) -> PsaAlgorithm:
        algo_cls = self._algorithm_class(self.settings, self.label)
        assert algo_cls is not None
        if device.partition(":")[0] not in algo_cls.devices:  # cuda:N runs as cuda
            raise DeviceError(f"PSA algorithm {algo_cls.name!r} does not run on "
                              f"{device} (supports {', '.join(algo_cls.devices)})")
        return algo_cls(**{k: self.settings[k] for k in algo_cls.params()})

    def check(self, context: RunContext) -> list[str]:
        """The algorithm runs on the device; the basis loads (cached for the run), fits the
        algorithm's settings and was made for the crystal's shape (else a warning)."""
        impl = self._make_algorithm(context.device)
        basis = load_basis(self.basis)
        warnings = list(impl.check_basis(basis))
        shape = context.crystal[-1:] if context.crystal[:-1].isdigit() else ""
        if shape in ("A", "B", "C") and basis.crystal_type in ("A", "B", "C") \
                and basis.crystal_type != shape:
            warnings.append(f"basis {self.basis} is for crystal shape {basis.crystal_type}, "
                            f"crystal {context.crystal} is shape {shape}")
        return warnings

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.impl: PsaAlgorithm = self._make_algorithm(context.device)
        self.impl.setup(load_basis(self.basis), context.device)
        self._lock = None if type(self.impl).thread_safe else threading.Lock()

    def process(self, block: Block) -> Block:
        try:
            if self._lock is None:
                return self.impl.analyse(block)
            with self._lock:
                return self.impl.analyse(block)
        except Exception as exc:  # noqa: BLE001 - re-raised naming the algorithm's plugin
            from gpsa.plugins.catalogue import plugin_failure

            raise plugin_failure(self.impl, "analyse", exc) from exc

    def stop(self) -> None:
        impl = getattr(self, "impl", None)
        if impl is not None:
            impl.close()


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(PsaFilter)


@hookimpl
def gpsa_register_psa_algorithms(register: Callable[[type], None]) -> None:
    register(GridSearch)
