"""``gpsa redis start|stop|info``: a real, detached redis-server that later commands find."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpsa.cli.main import main


def test_start_info_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    from gpsa.central.connection import connect
    from gpsa.central.server import running_url

    monkeypatch.setenv("GPSA_REDIS_DIR", str(tmp_path / "redis"))
    assert running_url() is None
    assert main(["redis", "start"]) == 0
    try:
        url = running_url()
        assert url and url.startswith("unix://")
        assert main(["redis", "start"]) == 0  # already running: said, not started twice
        assert "already running" in capsys.readouterr().out
        client = connect(url)
        client.set("k", "v")
        client.close()
        assert main(["redis", "info", "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["url"] == url and info["keys"] == 1 and info["aof_enabled"]
        assert info["maxmemory_policy"] == "noeviction"
    finally:
        assert main(["redis", "stop"]) == 0
    assert running_url() is None
    assert main(["redis", "info"]) == 1
    assert "no local Redis running" in capsys.readouterr().err
    assert (tmp_path / "redis" / "appendonly.aof").exists()  # the data stays for a restart
