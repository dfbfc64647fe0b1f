"""Exception hierarchy. Every error gpsa raises for bad input is a :class:`GpsaError` whose message
is one line naming the thing at fault (file and byte offset, configuration key, basis path, device).
The CLI turns them into that line and an exit code, never a traceback."""

from __future__ import annotations


class GpsaError(Exception):
    """Base of all gpsa errors; ``exit_code`` is what the CLI returns for it."""

    exit_code: int = 1


class ConfigError(GpsaError):
    """Bad configuration: unknown key, wrong type or value, missing file named in the config."""

    exit_code = 2


class UsageError(GpsaError):
    """A command-line argument out of its range (``--jobs 0``)."""

    exit_code = 2


class DeviceError(GpsaError):
    """The requested compute device is not usable (e.g. ``--device cuda`` without CUDA)."""

    exit_code = 2


class BlockError(GpsaError, ValueError):
    """A block's arrays have the wrong shape, dtype or length."""


class AdfError(GpsaError):
    """Corrupt or truncated ADF input. The message names the file (or stream) and byte offset."""

    def __init__(self, message: str, *, source: str = "<bytes>", offset: int = 0) -> None:
        super().__init__(f"{source}: byte offset {offset}: {message}")
        self.source = source
        self.offset = offset
        self.reason = message


class BasisError(GpsaError):
    """A basis file is missing or fails validation. The message names the file and the rule."""


class OutputError(GpsaError):
    """An output file or folder cannot be written (permission, missing folder, disk full). The
    message names the path."""
