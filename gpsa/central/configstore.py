"""Versioned run configurations in the Central Memory: what ``gpsa config push`` stores and
``gpsa config versions|get|diff`` read.

A run's resolved configuration (``{crystal: CrystalConfig.to_dict()}``) is stored as canonical
JSON (sorted keys, no spaces) under ``gpsa:{RUN}:config:vN``; the list
``gpsa:{RUN}:config:versions`` holds one JSON record per version, oldest first:
``{"version": N, "hash": sha256 of the canonical JSON, "pushed_at": ISO time (UTC), "host": ...,
"source": the run file}``. :func:`push` is one Lua script, so concurrent pushes get distinct,
consecutive versions; pushing the content of the latest version again stores nothing and returns
that version (an older content pushed again becomes a new version: the latest is always the
last one pushed).

A worker that runs a stored version records it in its provenance with :func:`record_version`.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import json
import platform
from dataclasses import asdict, dataclass
from typing import Any

from gpsa.central.workqueue import check_run_name
from gpsa.errors import ConfigError

#: KEYS[1] the versions list, KEYS[2] the prefix of the version keys; ARGV[1] hash,
#: ARGV[2] canonical JSON, ARGV[3] the record less its version. Returns {version, new}.
PUSH = """
local n = redis.call('LLEN', KEYS[1])
if n > 0 then
  local last = cjson.decode(redis.call('LINDEX', KEYS[1], -1))
  if last['hash'] == ARGV[1] then return {tonumber(last['version']), 0} end
end
local rec = cjson.decode(ARGV[3])
rec['version'] = n + 1
redis.call('SET', KEYS[2] .. (n + 1), ARGV[2])
redis.call('RPUSH', KEYS[1], cjson.encode(rec))
return {n + 1, 1}
"""


@dataclass(frozen=True)
class Version:
    """One pushed configuration version (its record, without the configuration itself)."""

    version: int
    hash: str
    pushed_at: str
    host: str
    source: str


def key(run: str, name: str) -> str:
    return f"gpsa:{{{check_run_name(run)}}}:config:{name}"


def canonical(config: dict[str, Any]) -> str:
    """The canonical JSON of ``config`` (sorted keys, no spaces): what is stored and hashed."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def push(client: Any, run: str, config: dict[str, Any], *,
         source: str = "") -> tuple[int, str, bool]:
    """Store ``config`` as the next version of ``run``; returns (version, sha256, new). Content
    equal to the latest version's returns that version with ``new`` False."""
    body = canonical(config)
    digest = hashlib.sha256(body.encode()).hexdigest()
    record = {"hash": digest, "source": source, "host": platform.node(),
              "pushed_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    version, new = client.register_script(PUSH)(
        keys=[key(run, "versions"), key(run, "v")], args=[digest, body, json.dumps(record)])
    return int(version), digest, bool(new)


def versions(client: Any, run: str) -> list[Version]:
    """The pushed versions of ``run``, oldest first (empty when none)."""
    out = []
    for raw in client.lrange(key(run, "versions"), 0, -1):
        rec = json.loads(raw)
        out.append(Version(int(rec["version"]), rec["hash"], rec.get("pushed_at", ""),
                           rec.get("host", ""), rec.get("source", "")))
    return out


def get(client: Any, run: str, version: int | str | None = None) -> tuple[Version, dict[str, Any]]:
    """Version ``version`` of ``run`` (None or ``"latest"``: the last pushed) and its
    configuration. Raises ConfigError naming the run and version when there is none."""
    known = versions(client, run)
    if not known:
        raise ConfigError(f"no configuration pushed for run {run!r} (gpsa config push)")
    if version is None or version == "latest":
        rec = known[-1]
    else:
        try:
            n = int(version)
        except ValueError:
            raise ConfigError(f"configuration version {version!r}: give a number or 'latest'") \
                from None
        if not 1 <= n <= len(known):
            raise ConfigError(f"run {run!r}: no configuration version {n} (versions 1.."
                              f"{len(known)})")
        rec = known[n - 1]
    body = client.get(key(run, f"v{rec.version}"))
    if body is None:
        raise ConfigError(f"run {run!r}: configuration version {rec.version} is missing")
    if hashlib.sha256(body).hexdigest() != rec.hash:
        raise ConfigError(f"run {run!r}: configuration version {rec.version} does not match "
                          "its hash")
    return rec, json.loads(body)


def _flatten(value: Any, path: tuple[str, ...], out: dict[tuple[str, ...], Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, (*path, str(k)), out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v
                                                   for v in value):
        for v in value:  # stages: by name, not by position
            _flatten({k: x for k, x in v.items() if k != "name"},
                     (*path, f"stage {v['name']}"), out)
    else:
        out[path] = value


def _where(path: tuple[str, ...]) -> str:
    head, rest = path[:1], list(path[1:])
    parts = [f"crystal {head[0]}"] if head else []
    if rest[:1] == ["stages"] and len(rest) > 1 and rest[1].startswith("stage "):
        rest.pop(0)
    if rest and rest[0].startswith("stage "):
        parts.append(rest.pop(0))
        if rest[:1] == ["settings"]:
            rest.pop(0)
    return " ".join(parts) + ": " + ".".join(rest) if rest else " ".join(parts)


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Key-path differences from configuration ``a`` to ``b``, one line each, e.g.
    ``crystal 00A stage psa: p: 0.3 -> 2``; empty when they are equal."""
    fa: dict[tuple[str, ...], Any] = {}
    fb: dict[tuple[str, ...], Any] = {}
    _flatten(a, (), fa)
    _flatten(b, (), fb)
    lines = []
    for path in sorted(fa.keys() | fb.keys()):
        old, new = fa.get(path, _MISSING), fb.get(path, _MISSING)
        if old == new:
            continue
        lines.append(f"{_where(path)}: {_show(old)} -> {_show(new)}")
    return lines


def unified_diff(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> list[str]:
    """The unified diff of the pretty JSON of ``a`` and ``b``."""
    pa = json.dumps(a, sort_keys=True, indent=2).splitlines()
    pb = json.dumps(b, sort_keys=True, indent=2).splitlines()
    return list(difflib.unified_diff(pa, pb, *names, lineterm=""))


_MISSING = object()


def _show(value: Any) -> str:
    return "(none)" if value is _MISSING else json.dumps(value)


def record_version(provenance: dict[str, Any], run: str, version: int,
                   digest: str) -> dict[str, Any]:
    """A copy of ``provenance`` with ``config_version: {run, version, hash}``: the stored
    configuration version a worker ran."""
    return {**provenance, "config_version": {"run": run, "version": int(version),
                                             "hash": digest}}


def as_dict(v: Version) -> dict[str, Any]:
    return asdict(v)
