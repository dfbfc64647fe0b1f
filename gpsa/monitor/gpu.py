"""GPU use and memory through NVML, only where present: ``pynvml`` (the ``nvidia-ml-py``
distribution) importable and a driver answering ``nvmlInit``. Never imports cupy.

Metrics (read at each scrape, one sample per GPU, labels ``worker`` and ``gpu`` = its index):
``gpsa_gpu_utilization_ratio`` (0..1, the share of time a kernel ran over the driver's last
sample period), ``gpsa_gpu_memory_used_bytes``, ``gpsa_gpu_memory_total_bytes``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)


def _nvml() -> Any | None:
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - no driver, no GPU: no GPU metrics
        log.debug("NVML not available: %s", exc)
        return None
    return pynvml


class GpuCollector:
    """A prometheus-client collector reading NVML at each scrape."""

    def __init__(self, nvml: Any, worker: str) -> None:
        self.nvml, self.worker = nvml, worker

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        labels = ["worker", "gpu"]
        util = GaugeMetricFamily("gpsa_gpu_utilization_ratio",
                                 "share of time a kernel ran on the GPU", labels=labels)
        used = GaugeMetricFamily("gpsa_gpu_memory_used_bytes", "GPU memory in use",
                                 labels=labels)
        total = GaugeMetricFamily("gpsa_gpu_memory_total_bytes", "GPU memory", labels=labels)
        nv = self.nvml
        try:
            for i in range(nv.nvmlDeviceGetCount()):
                handle = nv.nvmlDeviceGetHandleByIndex(i)
                rates = nv.nvmlDeviceGetUtilizationRates(handle)
                mem = nv.nvmlDeviceGetMemoryInfo(handle)
                key = [self.worker, str(i)]
                util.add_metric(key, rates.gpu / 100.0)
                used.add_metric(key, float(mem.used))
                total.add_metric(key, float(mem.total))
        except Exception as exc:  # noqa: BLE001 - a scrape never fails on the GPU's account
            log.debug("NVML read failed: %s", exc)
        yield from (util, used, total)


def register_gpu(registry: Any, worker: str) -> bool:
    """Add the GPU collector to ``registry`` when NVML answers; whether it did."""
    nvml = _nvml()
    if nvml is None:
        return False
    registry.register(GpuCollector(nvml, worker))
    return True
