"""Several GPUs: ``cuda:N`` everywhere a device is named, ``[run] gpus``, and the round-robin
assignment of parallel-mode workers and batch workers (pure functions; no GPU needed)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

import gpsa.device as device_mod
import gpsa.runtime.placement as placement
from gpsa.config import resolve_config
from gpsa.device import assign_devices, select_device
from gpsa.errors import ConfigError, DeviceError
from gpsa.runtime.placement import on_device, worker_devices

RUN = """\
[run]
crystals = ["00A", "00B", "00C"]
output = "out"
{extra}

[[stage]]
actor = "toy-source"
n_blocks = 2

[[stage]]
actor = "toy-sink"
path = "{{crystal}}.txt"
"""


def run_file(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(textwrap.dedent(RUN.format(extra=extra)))
    return path


def test_round_robin_over_the_visible_devices() -> None:
    assert assign_devices("cuda", 5, [], 2) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]


def test_round_robin_over_the_gpus_setting_in_its_order() -> None:
    assert assign_devices("cuda", 4, [2, 0], 4) == ["cuda:2", "cuda:0", "cuda:2", "cuda:0"]


def test_an_explicit_device_or_the_cpu_is_not_spread() -> None:
    assert assign_devices("cuda:1", 3, [0, 1], 2) == ["cuda:1"] * 3
    assert assign_devices("cpu", 2, [0, 1], 2) == ["cpu", "cpu"]
    assert assign_devices("cuda", 2, [], 0) == ["cuda", "cuda"]  # fails when selected


def test_a_gpus_entry_that_is_not_visible_is_one_line_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        assign_devices("cuda", 2, [0, 3], 2)
    msg = str(info.value)
    assert msg == "[run] gpus: device 3 is not visible (2 CUDA device(s): 0..1)"


@pytest.mark.usefixtures("toy_plugins")
def test_run_file_device_and_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = resolve_config(run_file(tmp_path, 'device = "cuda:1"'))
    assert {c.device for c in cfg.crystals.values()} == {"cuda:1"}
    cfg = resolve_config(run_file(tmp_path, 'device = "cuda"\ngpus = [1, 0]'))
    first = cfg.crystals["00A"]
    assert first.gpus == [1, 0] and first.to_dict()["gpus"] == [1, 0]
    monkeypatch.setattr(placement, "visible_cuda_devices", lambda: 2)
    assert worker_devices(first, 3) == ["cuda:1", "cuda:0", "cuda:1"]
    placed = on_device(first, "cuda:1")
    assert placed.to_dict()["device"] == "cuda:1"  # what the provenance file records
    assert first.device == "cuda" and on_device(first, "cuda") is first


@pytest.mark.usefixtures("toy_plugins")
def test_command_line_device_cuda_n_overrides_the_run_file(tmp_path: Path) -> None:
    cfg = resolve_config(run_file(tmp_path, ""), device="cuda:2")
    assert {c.device for c in cfg.crystals.values()} == {"cuda:2"}
    with pytest.raises(ConfigError, match=r"\[run\]\.device: 'cuda:' is not a device"):
        resolve_config(run_file(tmp_path, ""), device="cuda:")


def fake_cupy(count: int) -> SimpleNamespace:
    runtime = SimpleNamespace(getDeviceCount=lambda: count)
    return SimpleNamespace(cuda=SimpleNamespace(runtime=runtime))


def test_cuda_n_beyond_the_device_count_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = device_mod.importlib.import_module
    monkeypatch.setattr(device_mod.importlib, "import_module",
                        lambda name: fake_cupy(2) if name == "cupy" else real(name))
    with pytest.raises(DeviceError) as info:
        select_device("cuda:2")
    msg = str(info.value)
    assert msg == ("--device cuda:2: CUDA is not available (2 CUDA device(s) found, device 2 "
                   "requested)")
    assert info.value.exit_code == 2
    assert device_mod.visible_cuda_devices() == 2


@pytest.mark.parametrize("argv", [
    ["run", "x.toml"], ["config", "check", "x.toml"], ["bench"], ["check", "gpu"],
    ["config", "init", "RUN", "--crystals", "00A", "--basis", "b.h5"], ["batch", "init", "x.toml"],
    ["batch", "work"], ["worker", "psa", "--crystal", "00A", "--basis", "b.h5"]])
def test_every_device_option_takes_cuda_n(argv: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from gpsa.cli.main import build_parser

    parser = build_parser()
    args = parser.parse_args([*argv, "--device", "cuda:1"])
    assert args.device == "cuda:1"
    with pytest.raises(SystemExit) as info:
        parser.parse_args([*argv, "--device", "cuda:one"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--device: 'cuda:one' is not a device (choose cpu, cuda, cuda:N or auto)" in err


@pytest.mark.usefixtures("toy_plugins")
@pytest.mark.parametrize("mode", ["simple", "parallel"])
def test_run_modes_record_each_crystals_device(tmp_path: Path, mode: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``device = "cuda"`` with two visible devices (the toy actors compute nothing on them):
    each crystal's provenance names the device its worker was given, never plain "cuda"."""
    import json
    import threading

    from gpsa.runtime.modes import run_parallel, run_simple

    monkeypatch.setattr(placement, "visible_cuda_devices", lambda: 2)
    gpus = "gpus = [1]" if mode == "simple" else ""
    cfg = resolve_config(run_file(tmp_path, f'device = "cuda"\n{gpus}'))
    stop = threading.Event()
    report = (run_simple(cfg, stop=stop) if mode == "simple"
              else run_parallel(cfg, jobs=2, stop=stop))
    assert {o.status for o in report.outcomes} == {"complete"}
    recorded = {json.loads((tmp_path / "out" / c / "gpsa-run.json").read_text())
                ["config"]["device"] for c in cfg.crystals}
    assert recorded == {"cuda:1"} if mode == "simple" else recorded <= {"cuda:0", "cuda:1"}
    assert cfg.crystals["00A"].device == "cuda"  # the run's configuration is not changed


@pytest.mark.usefixtures("toy_plugins")
def test_batch_workers_of_a_host_spread_over_its_gpus(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A workload built for device cuda on a host with two usable devices: the worker with host
    slot s runs it on ``gpus[s % len]``; an explicit ``--device cuda:N`` is kept."""
    from gpsa.runtime.batch import config_digest, rebuild

    monkeypatch.setattr(device_mod, "cuda_unavailable_reason", lambda index=0: None)
    monkeypatch.setattr(device_mod, "_cuda_name", lambda index: "Fake GPU")
    monkeypatch.setattr(placement, "visible_cuda_devices", lambda: 2)
    conf = run_file(tmp_path, 'device = "cuda"')
    cfg = resolve_config(conf).crystals["00B"]
    payload = {"crystal": "00B", "source": str(conf), "output": str(tmp_path / "out"),
               "digest": config_digest(cfg.to_dict()), "device": "cuda"}
    got = [rebuild(payload, None, slot)[0].device for slot in range(3)]
    assert got == ["cuda:0", "cuda:1", "cuda:0"]
    assert rebuild(payload, "cuda:1", 0)[0].device == "cuda:1"
    assert rebuild(payload, "cpu", 1)[0].device == "cpu"


def test_host_slots_count_per_host(redis_server) -> None:  # noqa: ANN001
    from gpsa.central.connection import connect
    from gpsa.central.workqueue import WorkQueue

    queue = WorkQueue(connect(redis_server.url), "slots")
    assert [queue.host_slot("a"), queue.host_slot("a"), queue.host_slot("b"),
            queue.host_slot("a")] == [0, 1, 0, 2]
    queue.delete()
    assert queue.host_slot("a") == 0  # deleted with the run
