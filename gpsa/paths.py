"""Output paths of every command: checked before any computation, written whole or not at all.

* :func:`check_writable` / :func:`check_output_file`: called first by each command that writes
  (``basis generate``, ``simulate``, ``bench --output``, ``adf make-example``, ``config init``,
  ``run``), so a command never computes for a minute and then fails on its first write.
* :func:`atomic_output`: a file is written as ``NAME.partial`` and renamed to ``NAME`` when it is
  complete; on any failure (disk full, permission, Ctrl-C) the partial file is removed, so no
  0-byte or temporary file is left behind. Run outputs instead keep their ``.partial`` file,
  which holds processed data (:mod:`gpsa.runtime.outputs`).

An unusable output path found by the checks is a :class:`gpsa.errors.ConfigError` (exit 2: the
command was given a path it cannot use); an OSError while writing becomes
:class:`gpsa.errors.OutputError` (exit 1); both are one line naming the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from gpsa.errors import ConfigError, OutputError

PARTIAL_SUFFIX = ".partial"


def partial_path(final: Path) -> Path:
    """Where ``final`` is written until it is complete."""
    return final.with_name(final.name + PARTIAL_SUFFIX)


def check_writable(folder: Path | str) -> Path:
    """Raise :class:`ConfigError` unless files can be created in ``folder`` (created if
    missing); returns it."""
    folder = Path(folder)
    probe = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".gpsa-write-test-{os.getpid()}"
        probe.write_bytes(b"")
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"{folder}: output folder not writable: a file stands where a folder "
                          "is needed") from None
    except OSError as exc:
        raise ConfigError(f"{folder}: output folder not writable: {exc.strerror or exc}") \
            from None
    finally:
        if probe is not None:
            with contextlib.suppress(OSError):
                probe.unlink()
    return folder


def check_output_file(path: Path | str) -> Path:
    """Raise :class:`ConfigError` unless ``path`` can be written as a file: not a folder, its
    folder writable (created if missing); returns it."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, expected an output file name")
    check_writable(path.parent if str(path.parent) else Path("."))
    return path


@contextlib.contextmanager
def atomic_output(path: Path | str) -> Iterator[Path]:
    """Yield the ``.partial`` path to write ``path`` to; rename it to ``path`` when the block
    ends normally, remove it on any exception (re-raised; an OSError as OutputError)."""
    final = check_output_file(path)
    partial = partial_path(final)
    try:
        yield partial
        os.replace(partial, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        if isinstance(exc, OSError):
            raise OutputError(f"{final}: cannot write: {exc.strerror or exc}") from None
        raise
