"""Typed parameters declared on the class (ctapipe style).

An actor or a PSA algorithm lists its settings as class attributes::

    class TrapezoidEnergy(Filter):
        name = "trapezoid"
        rise = Param(int, 20, "rise time of the trapezoid, samples", min=1)
        gap = Param(int, 10, "flat top, samples", min=0)
        calibration = Param(Path, None, "coefficient file, one line per channel", kind="input")

:meth:`Configurable.check_config` turns a raw mapping (from TOML) into a dict of checked values or
raises :class:`gpsa.errors.ConfigError` naming the key: an unknown key, a wrong type, a value out
of range, a missing required key or a missing input file. Nothing is opened or read here apart
from checking that input files exist.
"""

from __future__ import annotations

import copy
import difflib
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from gpsa.errors import ConfigError

T = TypeVar("T")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Default of a parameter that must be given.
REQUIRED: Any = _Required()

_SCALARS = (bool, int, float, str, Path)


class Param(Generic[T]):
    """One typed setting with a default and a help text.

    ``type_`` is ``bool``, ``int``, ``float``, ``str``, ``pathlib.Path`` or ``list[X]`` of one of
    those. ``choices``, ``min`` and ``max`` restrict the value. For paths, ``kind="input"`` means
    the file must exist when the configuration is checked and ``kind="output"`` marks a file the
    actor writes (relative paths resolve against the run's output folder). ``None`` is always an
    accepted value when it is the default (the setting is optional). ``validate`` (value ->
    problem or None) checks the converted value further (a device name, unique items).
    """

    def __init__(self, type_: Any, default: Any = REQUIRED, help: str = "", *,
                 choices: Sequence[Any] | None = None, min: float | None = None,
                 max: float | None = None, kind: str = "",
                 validate: Callable[[Any], str | None] | None = None) -> None:
        origin = typing.get_origin(type_)
        self.item: Any = None
        if origin is list:
            (self.item,) = typing.get_args(type_) or (str,)
            base: Any = list
        else:
            base = type_
        if base is not list and base not in _SCALARS:
            raise TypeError(f"Param type {type_!r} not supported")
        if self.item is not None and self.item not in _SCALARS:
            raise TypeError(f"Param list item type {self.item!r} not supported")
        if kind not in ("", "input", "output"):
            raise TypeError(f"Param kind {kind!r} must be '', 'input' or 'output'")
        self.type = base
        self.type_name = getattr(type_, "__name__", str(type_)) if base is not list else \
            f"list[{self.item.__name__}]"
        self.default = default
        self.help = help
        self.choices = tuple(choices) if choices is not None else None
        self.min, self.max = min, max
        self.kind = kind
        self.validate = validate
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @typing.overload
    def __get__(self, obj: None, owner: type) -> Param[T]: ...
    @typing.overload
    def __get__(self, obj: object, owner: type) -> Any: ...

    def __get__(self, obj: object | None, owner: type) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            if self.default is REQUIRED:
                raise AttributeError(f"{owner.__name__}.{self.name} was not configured") from None
            return self.default

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description (used by ``gpsa plugins --json`` and ``gpsa config``)."""
        out: dict[str, Any] = {"type": self.type_name, "help": self.help}
        out["default"] = None if self.required or self.default is None else _plain(self.default)
        out["required"] = self.required
        if self.choices:
            out["choices"] = list(self.choices)
        if self.kind:
            out["kind"] = self.kind
        return out

    def check(self, value: Any, where: str, base_dir: Path | None = None) -> Any:
        """The checked (and converted) value, or :class:`ConfigError` naming ``where``."""
        if value is None and self.default is None:
            return None
        if self.type is list:
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}: expected {self.type_name}, got "
                                  f"{type(value).__name__} {value!r}")
            out: Any = [self._scalar(self.item, v, f"{where}[{i}]", base_dir)
                        for i, v in enumerate(value)]
        else:
            out = self._scalar(self.type, value, where, base_dir)
        problem = self.validate(out) if self.validate is not None else None
        if problem:
            raise ConfigError(f"{where}: {problem}")
        return out

    def _scalar(self, type_: type, value: Any, where: str, base_dir: Path | None) -> Any:
        ok = {
            bool: isinstance(value, bool),
            int: isinstance(value, int) and not isinstance(value, bool),
            float: isinstance(value, (int, float)) and not isinstance(value, bool),
            str: isinstance(value, str),
            Path: isinstance(value, (str, Path)),
        }[type_]
        if not ok:
            raise ConfigError(f"{where}: expected {type_.__name__}, got "
                              f"{type(value).__name__} {value!r}")
        value = type_(value)
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where}: {value!r} is not one of "
                              f"{', '.join(map(repr, self.choices))}")
        if self.min is not None and value < self.min:
            raise ConfigError(f"{where}: {value!r} is below the minimum {self.min}")
        if self.max is not None and value > self.max:
            raise ConfigError(f"{where}: {value!r} is above the maximum {self.max}")
        if type_ is Path:
            value = value.expanduser()
            if self.kind == "input":
                if base_dir is not None and not value.is_absolute():
                    value = base_dir / value
                if not value.exists():
                    raise ConfigError(f"{where}: file not found: {value}")
        return value


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Configurable:
    """Base of everything configured from a run file: declares :class:`Param` attributes.

    ``Cls(**config)`` checks ``config`` with :meth:`check_config` and sets the values; reading a
    parameter on the instance gives its value (or the default).
    """

    def __init__(self, **config: Any) -> None:
        checked = self.check_config(config, type(self).__name__)
        own = self.params()
        for key, value in checked.items():
            if key in own:
                self.__dict__[key] = value
        #: Every checked setting, including those of :meth:`params_for` beyond the class's own.
        self.settings: dict[str, Any] = checked

    @classmethod
    def params(cls) -> dict[str, Param[Any]]:
        """Declared parameters by name, base classes first."""
        out: dict[str, Param[Any]] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Param):
                    out[key] = value
        return out

    @classmethod
    def params_for(cls, config: Mapping[str, Any]) -> dict[str, Param[Any]]:
        """Parameters accepted for ``config``: :meth:`params` unless a class's settings depend
        on a value (the PSA filter adds those of the algorithm it names)."""
        return cls.params()

    @classmethod
    def check_config(cls, config: Mapping[str, Any], where: str,
                     base_dir: Path | None = None) -> dict[str, Any]:
        """Checked values for ``config`` (defaults filled in). ``where`` prefixes key names in
        error messages (e.g. ``"stage 'psa'"``); ``base_dir`` resolves relative input paths."""
        params = cls.params_for(config)
        for key in config:
            if key not in params:
                raise ConfigError(f"{where}: unknown key {key!r}{_suggest(key, params)}")
        out: dict[str, Any] = {}
        for key, param in params.items():
            if key in config:
                out[key] = param.check(config[key], f"{where}.{key}", base_dir)
            elif param.required:
                raise ConfigError(f"{where}: missing required key {key!r} ({param.help})")
            else:
                out[key] = copy.deepcopy(param.default)
        return out

    @classmethod
    def describe_params(cls) -> dict[str, dict[str, Any]]:
        return {key: p.describe() for key, p in cls.params().items()}


def _suggest(key: str, params: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(params), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if params:
        return f" (known: {', '.join(sorted(params))})"
    return " (this actor takes no settings)"
