"""Built-in plugin: the ADF frame codecs of :mod:`gpsa.adf.codecs` and the HDF5 basis reader of
:mod:`gpsa.basis.io`, registered through the same hooks a third-party format would use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpsa.plugins.hookspecs import hookimpl


def read_hdf5_basis(path: Path) -> Any:
    """A :class:`gpsa.basis.model.Basis` from a gpsa v1 HDF5 basis file."""
    from gpsa.basis.io import load_basis

    return load_basis(path)


@hookimpl
def gpsa_register_codecs(register: Callable[[Any], None]) -> None:
    from gpsa.adf.codecs import default_registry

    for codec in default_registry():
        register(codec)


@hookimpl
def gpsa_register_basis_readers(register: Callable[..., None]) -> None:
    register(read_hdf5_basis, suffixes=(".h5", ".hdf5"), name="gpsa-hdf5")
