"""Connecting to the Central Memory: which URL, and a client that survives a server restart.

The URL comes from, in this order: ``--redis URL``, the ``GPSA_REDIS_URL`` environment variable,
the run file's ``[run] redis``; without one, the long-lived local server if ``gpsa redis start``
runs one, else an embedded server started for the run (:func:`open_central`). Any URL redis-py
understands: ``redis://[:password@]host:port/db``, ``rediss://`` (TLS), ``unix:///path.sock``.

:func:`connect` returns a client whose commands retry on connection errors with exponential
backoff (redis-py's ``Retry``; bounded: :data:`RETRIES` attempts, at most :data:`BACKOFF_CAP`
seconds apart, about 30 s in all), so a server restart mid-run is ridden out; an unreachable
server at start is a :class:`gpsa.errors.ConfigError` (exit 2) naming the URL, raised before any
data is read. Passwords are never printed (:func:`safe_url`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gpsa.errors import ConfigError

log = logging.getLogger(__name__)

ENV_URL = "GPSA_REDIS_URL"
RETRIES = 20
BACKOFF_CAP = 2.0
BACKOFF_BASE = 0.05


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{netloc}"))


def resolve_url(cli: str | None = None, run_file: str | None = None) -> str | None:
    """The Redis URL to use (see the module docstring), or None for a local server."""
    for url in (cli, os.environ.get(ENV_URL), run_file):
        if url:
            if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
                raise ConfigError(f"Redis URL {safe_url(url)!r}: use redis://, rediss:// or "
                                  "unix://")
            return url
    return None


def connect(url: str, *, retries: int = RETRIES, check: bool = True) -> Any:
    """A redis-py client for ``url`` that retries on connection errors (bounded backoff);
    with ``check``, PING it now and raise ConfigError naming the URL when it does not answer."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    retry = Retry(ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE), retries)
    try:
        client = redis.Redis.from_url(url, retry=retry, socket_timeout=30,
                                      socket_connect_timeout=5, health_check_interval=10,
                                      retry_on_error=[redis.ConnectionError,
                                                      redis.TimeoutError])
    except ValueError as exc:
        raise ConfigError(f"Redis URL {safe_url(url)!r}: {exc}") from None
    if check:
        probe = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        try:
            probe.ping()
        except (redis.RedisError, OSError) as exc:
            raise ConfigError(f"Redis at {safe_url(url)} unreachable: {exc}") from None
        finally:
            probe.close()
    return client


@contextlib.contextmanager
def open_central(url: str | None, folder: Path, *, maxmemory: int = 0) -> Iterator[str]:
    """Yield a usable Redis URL: ``url`` (checked), else the long-lived local server's, else an
    embedded server's with its data in ``folder`` (stopped when the block ends)."""
    from gpsa.central.server import LocalRedis, running_url

    if url:
        connect(url).close()
        yield url
        return
    shared = running_url()
    if shared:
        log.info("using the local Redis started by `gpsa redis start`: %s", shared)
        yield shared
        return
    with LocalRedis(folder, maxmemory=maxmemory) as server:
        yield server.url
