"""ADF key tables: the mapping between frame key values (``uint32``) and names (``data:psa``).

AGATA's values are a convention, not a law: other experiments reuse the same numbers with other
meanings, so gpsa never hard-codes them. A :class:`KeyTable` is loaded from a small text file
(``name value [vN] [composite|simple]`` per line, hex or decimal values, ``#`` comments); the AGATA
table ships as ``gpsa/adf/keys_agata.txt`` and is what :meth:`KeyTable.default` returns.

The optional ``vN`` token picks the codec version for that key (see :mod:`gpsa.adf.codecs`);
without it the version is :data:`DEFAULT_VERSION`. A key is composite (its payload is a sequence of
complete sub-frames) when marked ``composite`` or, unless marked ``simple``, when its top byte is
0xCA as in AGATA.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources

import numpy as np

from gpsa.errors import ConfigError
from gpsa.textfile import read_text, records

#: Codec version used for a key whose table line does not name one.
DEFAULT_VERSION = 1
#: Top byte of composite keys in the AGATA convention.
COMPOSITE_TOP_BYTE = 0xCA
_DEFAULT_FILE = "keys_agata.txt"

#: AGATA key values (AGATA's data-flow documentation, see FORMATS.md), built in so the default
#: table needs no data file; the same table ships as ``gpsa/adf/keys_agata.txt`` (a test keeps
#: the two equal).
AGATA_KEYS: dict[str, int] = {
    "data:crystal": 0xFA010101, "data:psa": 0xFA010102, "data:eb": 0xFA010103,
    "data:merger": 0xFA010104, "data:tracked": 0xFA010105, "data:ccrystal": 0xFA010111,
    "data:ranc0": 0xFA0201A0, "data:ranc1": 0xFA0201A1, "data:ranc2": 0xFA0201A2,
    "conf:crystal": 0xFA010201, "conf:psa": 0xFA010202, "conf:global": 0xFA000200,
    "meta:eof": 0xFA001100, "meta:sync": 0xFA011101, "meta:vertex": 0xFA011102,
    "event:data": 0xCA000100, "event:data:crystal": 0xCA010101, "event:data:psa": 0xCA010102,
    "event:data:tracked": 0xCA010103,
}
#: Keys whose codec version the default table names explicitly (all v1).
_AGATA_VERSIONED = ("data:crystal", "data:psa", "data:tracked", "conf:global", "meta:eof")


@dataclass(frozen=True)
class KeyEntry:
    """One line of a key table."""

    name: str
    value: int
    version: int | None = None  # None: not set in the table, DEFAULT_VERSION applies
    composite: bool = False


@dataclass(frozen=True)
class KeyTable:
    """An immutable two-way mapping name <-> key value, with codec versions and composite flags."""

    entries: tuple[KeyEntry, ...]
    source: str = "<table>"
    _by_name: dict[str, KeyEntry] = field(init=False, repr=False, compare=False)
    _by_value: dict[int, KeyEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, KeyEntry] = {}
        by_value: dict[int, KeyEntry] = {}
        for e in self.entries:
            if e.name in by_name:
                raise ConfigError(f"{self.source}: key name {e.name!r} defined twice")
            if e.value in by_value:
                raise ConfigError(f"{self.source}: key value 0x{e.value:08X} used by both "
                                  f"{by_value[e.value].name!r} and {e.name!r}")
            by_name[e.name] = e
            by_value[e.value] = e
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_by_value", by_value)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, source: str = "<text>") -> KeyTable:
        """Parse the text format described in the module docstring; errors name ``source:line``."""
        entries: list[KeyEntry] = []
        for lineno, tokens, line in records(text):
            where = f"{source}:{lineno}"
            if len(tokens) < 2:
                raise ConfigError(f"{where}: expected 'name value [vN] [composite|simple]', "
                                  f"got {line!r}")
            name, value_text, *extra = tokens
            try:
                value = int(value_text, 0)
            except ValueError:
                raise ConfigError(f"{where}: key value {value_text!r} is not an integer "
                                  f"(decimal or 0x hex)") from None
            if not 0 <= value <= 0xFFFFFFFF:
                raise ConfigError(f"{where}: key value {value_text} does not fit in 32 bits")
            version: int | None = None
            composite = (value >> 24) == COMPOSITE_TOP_BYTE
            for tok in extra:
                low = tok.lower()
                if low == "composite":
                    composite = True
                elif low == "simple":
                    composite = False
                elif low.startswith("v") and low[1:].isdigit():
                    version = int(low[1:])
                else:
                    raise ConfigError(f"{where}: unknown token {tok!r} (expected vN, composite "
                                      f"or simple)")
            entries.append(KeyEntry(name, value, version, composite))
        return cls(tuple(entries), source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyTable:
        """Read a key table file."""
        return cls.parse(read_text(path, "key table"), os.fspath(path))

    @classmethod
    def default(cls) -> KeyTable:
        """The AGATA table (:data:`AGATA_KEYS`, the content of ``keys_agata.txt``)."""
        return _default_table()

    @classmethod
    def agata_file(cls) -> KeyTable:
        """The AGATA table read from the data file shipped in the package."""
        text = resources.files("gpsa.adf").joinpath(_DEFAULT_FILE).read_text(encoding="utf-8")
        return cls.parse(text, f"gpsa/adf/{_DEFAULT_FILE}")

    @classmethod
    def coerce(cls, keys: KeyTable | str | os.PathLike[str] | None) -> KeyTable:
        """``None`` -> default table, a path -> :meth:`load`, a table -> itself."""
        if keys is None:
            return cls.default()
        if isinstance(keys, KeyTable):
            return keys
        return cls.load(keys)

    def with_versions(self, versions: Mapping[str, int]) -> KeyTable:
        """A copy with the codec version of some keys replaced (unknown names are an error)."""
        unknown = set(versions) - set(self._by_name)
        if unknown:
            raise ConfigError(f"{self.source}: unknown key name(s) {', '.join(sorted(unknown))}")
        entries = tuple(replace(e, version=versions[e.name]) if e.name in versions else e
                        for e in self.entries)
        return KeyTable(entries, self.source)

    # -- look-ups -----------------------------------------------------------------------------
    def name_of(self, value: int) -> str | None:
        """Name of a key value, or None when the table does not know it."""
        e = self._by_value.get(int(value))
        return e.name if e else None

    def value_of(self, name: str) -> int:
        try:
            return self._by_name[name].value
        except KeyError:
            raise ConfigError(f"{self.source}: no key named {name!r}") from None

    def version_of(self, name: str) -> int:
        e = self._by_name.get(name)
        return DEFAULT_VERSION if e is None or e.version is None else e.version

    def explicit_version(self, name: str) -> int | None:
        e = self._by_name.get(name)
        return None if e is None else e.version

    def is_composite(self, value: int) -> bool:
        e = self._by_value.get(int(value))
        return e.composite if e else (int(value) >> 24) == COMPOSITE_TOP_BYTE

    def label(self, value: int) -> str:
        """Name of a key value, or its hex spelling when unknown (for counts and messages)."""
        return self.name_of(value) or f"0x{int(value):08X}"

    def known_values(self) -> np.ndarray:
        """Sorted uint32 array of all key values in the table (used by the resync scan)."""
        return np.array(sorted(self._by_value), dtype=np.uint32)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[KeyEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


@functools.lru_cache(maxsize=1)
def _default_table() -> KeyTable:
    entries = tuple(KeyEntry(name, value, DEFAULT_VERSION if name in _AGATA_VERSIONED else None,
                             (value >> 24) == COMPOSITE_TOP_BYTE)
                    for name, value in AGATA_KEYS.items())
    return KeyTable(entries, "AGATA default keys")
