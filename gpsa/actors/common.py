"""Helpers shared by the built-in actors: basis loading through the registered readers (cached
per process: several crystals sharing a basis load it once) and the codec registry."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from gpsa.errors import ConfigError

_lock = threading.Lock()
_bases: dict[tuple[str, float], Any] = {}


def load_basis(path: Path) -> Any:
    """The :class:`gpsa.basis.model.Basis` in ``path``, read by the reader registered for its
    suffix (``gpsa_register_basis_readers``); cached by path and modification time."""
    from gpsa.plugins.catalogue import get_catalogue

    path = Path(path).resolve()
    key = (str(path), path.stat().st_mtime)
    with _lock:
        if key not in _bases:
            reader = get_catalogue().basis_reader(path)
            if reader is None:
                raise ConfigError(f"{path}: no basis reader for suffix {path.suffix!r} "
                                  "(see `gpsa plugins`)")
            _bases[key] = reader(path)
        return _bases[key]


def codec_registry() -> Any:
    """Codec registry with every registered codec (for ADF readers and writers)."""
    from gpsa.plugins.catalogue import get_catalogue

    return get_catalogue().codec_registry()
