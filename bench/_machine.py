"""Machine description stored with every benchmark result, so numbers from different machines are
never compared blindly. Shared by all ``bench/bench_*.py`` scripts."""

from __future__ import annotations

import math
import os
import platform
import sys
from datetime import datetime, timezone
from typing import Any


def _cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_info() -> dict[str, Any]:
    """Platform, CPU model and count, memory, Python and key library versions, UTC time."""
    import numpy

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_bytes": _memory_bytes(),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # other work on a shared machine skews timings: record how busy it was
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:  # pragma: no cover - numba is a gpsa dependency
        info["numba"] = None
    return info


def strict_json(x: Any) -> Any:
    """NaN / inf → None (recursively through dicts and lists), so the JSON is strict."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: strict_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [strict_json(v) for v in x]
    return x
