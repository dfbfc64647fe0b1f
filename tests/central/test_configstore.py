"""The configuration store on a real redis-server: versions and hashes, idempotent pushes, the
atomic counter under concurrent pushes, key-path diffs, provenance records, and the
``gpsa config push|versions|get|diff`` commands."""

from __future__ import annotations

import hashlib
import json
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from gpsa.central import configstore
from gpsa.central.connection import connect
from gpsa.central.server import LocalRedis
from gpsa.cli.main import main
from gpsa.errors import ConfigError


def config(p: float = 0.3) -> dict[str, Any]:
    return {"00A": {"device": "cpu", "stages": [
        {"name": "psa", "actor": "psa", "settings": {"p": p, "basis": "b.h5"}},
        {"name": "adf-writer", "actor": "adf-writer", "settings": {}}]}}


def test_push_versions_hash_and_idempotence(client: Any) -> None:
    v1, h1, new1 = configstore.push(client, "r1", config(), source="run.toml")
    assert (v1, new1) == (1, True)
    assert h1 == hashlib.sha256(configstore.canonical(config()).encode()).hexdigest()
    assert configstore.push(client, "r1", config()) == (1, h1, False)  # same content: no new one
    v2, h2, new2 = configstore.push(client, "r1", config(2))
    assert (v2, new2) == (2, True) and h2 != h1
    assert configstore.push(client, "r1", config())[0::2] == (3, True)  # old content: new latest
    known = configstore.versions(client, "r1")
    assert [(v.version, v.hash) for v in known] == [(1, h1), (2, h2), (3, h1)]
    assert known[0].source == "run.toml" and known[0].pushed_at and known[0].host
    rec, cfg = configstore.get(client, "r1", 2)
    assert rec.version == 2 and cfg == config(2)
    assert configstore.get(client, "r1")[0].version == 3
    assert configstore.get(client, "r1", "latest")[1] == config()
    assert client.get("gpsa:{r1}:config:v1").decode() == configstore.canonical(config())
    with pytest.raises(ConfigError, match="no configuration version 4"):
        configstore.get(client, "r1", 4)
    with pytest.raises(ConfigError, match="no configuration pushed"):
        configstore.get(client, "other")
    assert configstore.versions(client, "other") == []


def test_concurrent_pushes_get_distinct_consecutive_versions(redis_server: LocalRedis) -> None:
    got: dict[int, list[tuple[int, str]]] = {0: [], 1: []}

    def pusher(t: int) -> None:
        c = connect(redis_server.url)
        try:
            for i in range(25):
                v, h, new = configstore.push(c, "race", config(t * 1000 + i))
                assert new
                got[t].append((v, h))
        finally:
            c.close()

    threads = [threading.Thread(target=pusher, args=(t,)) for t in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    pushed = sorted(got[0] + got[1])
    assert [v for v, _ in pushed] == list(range(1, 51))
    c = connect(redis_server.url)
    try:
        known = configstore.versions(c, "race")
        assert [(v.version, v.hash) for v in known] == pushed
        for v, h in pushed[::7]:
            assert configstore.get(c, "race", v)[0].hash == h
    finally:
        c.close()


def test_diff_by_key_path() -> None:
    a, b = config(0.3), config(2)
    b["00A"]["device"] = "cuda"
    b["00B"] = {"device": "cpu"}
    assert configstore.diff(a, b) == [
        'crystal 00A: device: "cpu" -> "cuda"',
        "crystal 00A stage psa: p: 0.3 -> 2",
        'crystal 00B: device: (none) -> "cpu"',
    ]
    assert configstore.diff(a, a) == []
    assert any(line.startswith("+") and '"p": 2' in line
               for line in configstore.unified_diff(a, b, ("v1", "v2")))


def test_record_version_does_not_mutate() -> None:
    prov = {"gpsa_version": "x"}
    out = configstore.record_version(prov, "r", 3, "abc")
    assert out == {"gpsa_version": "x", "config_version": {"run": "r", "version": 3,
                                                           "hash": "abc"}}
    assert prov == {"gpsa_version": "x"}


def write_run(folder: Path, basis: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.toml"
    path.write_text(textwrap.dedent(f"""\
        [run]
        crystals = ["00A"]
        output = "out"

        [[stage]]
        actor = "simulator"
        basis = "{basis}"
        events = 10

        [[stage]]
        actor = "psa"
        basis = "{basis}"

        [[stage]]
        actor = "adf-writer"
        """))
    return path


@pytest.fixture(scope="module")
def basis_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gpsa.basis.io import write_basis
    from gpsa.bench.toy import ToyCrystal, toy_basis

    path = tmp_path_factory.mktemp("basis") / "toy.h5"
    write_basis(path, toy_basis(ToyCrystal(), grid_mm=6.0, n_samples=60, t0_sample=10))
    return path


def test_cli_push_versions_get_diff(redis_server: LocalRedis, basis_file: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    url = redis_server.url
    run = write_run(tmp_path / "run_0001", basis_file)
    assert main(["config", "push", str(run), "--redis", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run_0001: version 1 (sha256 ")
    assert main(["config", "push", str(run), "--redis", url]) == 0
    assert "unchanged: version 1" in capsys.readouterr().out
    assert main(["config", "push", str(run), "--redis", url, "--psa", "grid-search",
                 "--crystal", "00A", "--out", str(tmp_path / "o2")]) == 0
    assert "version 2" in capsys.readouterr().out

    assert main(["config", "versions", "--redis", url, "--name", "run_0001", "--json"]) == 0
    known = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in known] == [1, 2] and known[0]["source"] == str(run)

    assert main(["config", "get", "--redis", url, "--name", "run_0001", "--version", "1"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert list(got) == ["00A"] and got["00A"]["stages"][1]["actor"] == "psa"

    assert main(["config", "diff", "--redis", url, "--name", "run_0001", "1", "latest"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("crystal 00A: output_dir: ") for line in lines)
    assert main(["config", "diff", "--redis", url, "--name", "run_0001", "1", "1"]) == 0
    assert "identical" in capsys.readouterr().out

    assert main(["config", "get", "--redis", url, "--name", "run_0001", "--version", "9"]) == 2
    assert "no configuration version 9" in capsys.readouterr().err


def test_cli_unreachable_redis_is_one_line_exit_2(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = f"unix://{tmp_path}/none.sock"
    assert main(["config", "versions", "--redis", url, "--name", "r"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unreachable" in err and "none.sock" in err
