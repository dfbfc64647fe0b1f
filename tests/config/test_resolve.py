"""Run files and replay folders, checked against the registered (toy) actors."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from gpsa.config import resolve_config
from gpsa.errors import ConfigError

pytestmark = pytest.mark.usefixtures("toy_plugins")

RUN = """\
[run]
crystals = ["00A", "00B"]
output = "out"

[[stage]]
actor = "toy-source"
n_blocks = 4

[[stage]]
actor = "toy-square"
workers = 2

[[stage]]
actor = "toy-sink"
path = "{crystal}.txt"

[crystal.00B.toy-source]
n_blocks = 7
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_single_file_with_overrides(tmp_path: Path) -> None:
    cfg = resolve_config(write(tmp_path / "run.toml", RUN))
    assert list(cfg.crystals) == ["00A", "00B"]
    a, b = cfg.crystals["00A"], cfg.crystals["00B"]
    assert a.stages[0].settings["n_blocks"] == 4 and b.stages[0].settings["n_blocks"] == 7
    assert a.stages[2].settings["path"] == Path("00A.txt")
    assert a.output_dir == tmp_path / "out" / "00A"
    assert a.workers == {"toy-square": 2}
    assert [s.kind for s in a.stages] == ["producer", "filter", "consumer"]
    actors = b.build()
    assert actors[0].n_blocks == 7 and actors[1].label == "toy-square"


def test_command_line_overrides(tmp_path: Path) -> None:
    cfg = resolve_config(write(tmp_path / "run.toml", RUN), crystals=["00B"],
                         output=tmp_path / "elsewhere", device="auto")
    assert list(cfg.crystals) == ["00B"]
    assert cfg.crystals["00B"].output_dir == tmp_path / "elsewhere" / "00B"
    assert cfg.crystals["00B"].device == "auto"
    with pytest.raises(ConfigError, match="--crystal 01C: not in the configuration"):
        resolve_config(tmp_path / "run.toml", crystals=["01C"])
    with pytest.raises(ConfigError, match="--psa grid: the chain has no 'psa' stage"):
        resolve_config(tmp_path / "run.toml", psa="grid")


def test_replay_folder(tmp_path: Path) -> None:
    conf = tmp_path / "Conf"
    write(conf / "run.toml", RUN.replace('crystals = ["00A", "00B"]\n', "")
          .split("[crystal.00B")[0])
    write(conf / "00A" / "source.toml", "[toy-source]\nn_blocks = 2\n")
    write(conf / "00C" / "a.toml", "[toy-source]\nn_blocks = 3\n")
    write(conf / "00C" / "b.toml", "[toy-source]\nn_blocks = 5\n[toy-sink]\ndelay = 0.5\n")
    (conf / "notes").mkdir()
    cfg = resolve_config(conf)
    assert list(cfg.crystals) == ["00A", "00C"]
    assert cfg.crystals["00C"].stages[0].settings["n_blocks"] == 5  # later file wins
    assert cfg.crystals["00C"].stages[2].settings["delay"] == 0.5


def test_relative_input_paths_follow_their_file(tmp_path: Path) -> None:
    from runtime.toy import Square

    from gpsa.config.params import Param

    class WithTable(Square):
        table = Param(Path, None, "a table", kind="input")

    conf = tmp_path / "Conf"
    write(conf / "run.toml", RUN.split("[crystal")[0].replace('"00A", "00B"', '"00A"'))
    write(conf / "00A" / "over.toml", '[toy-square]\ntable = "gains.txt"\n')
    missing = conf / "00A" / "gains.txt"
    with pytest.raises(ConfigError, match=re.escape(
            f"stage 'toy-square' (crystal 00A).table: file not found: {missing}")):
        _resolve_with(conf, WithTable)
    (conf / "00A" / "gains.txt").write_text("1\n")
    cfg = _resolve_with(conf, WithTable)
    assert cfg.crystals["00A"].stages[1].settings["table"] == conf / "00A" / "gains.txt"


def _resolve_with(conf: Path, cls: type):  # type: ignore[no-untyped-def]
    from gpsa.plugins import catalogue

    cat = catalogue.get_catalogue()
    old = cat.actors["toy-square"]
    cat.actors["toy-square"] = catalogue.Entry("filter", "toy-square", cls, "test")
    try:
        return resolve_config(conf)
    finally:
        cat.actors["toy-square"] = old


@pytest.mark.parametrize("edit, message", [
    (("n_blocks = 4", "n_blokcs = 4"), "stage 'toy-source': unknown key 'n_blokcs' "
                                       "(did you mean 'n_blocks'?)"),
    (("n_blocks = 4", 'n_blocks = "4"'), "stage 'toy-source'.n_blocks: expected int, got str"),
    (("workers = 2", "workers = 0"), "stage 'toy-square'.workers: expected an integer >= 1"),
    (('actor = "toy-square"', 'actor = "toy-sqare"'),
     "unknown actor 'toy-sqare' (did you mean 'toy-square'?"),
    (("[crystal.00B.toy-source]", "[crystal.00B.toy-src]"),
     "crystal 00B: overrides for unknown stage 'toy-src'"),
    (("[crystal.00B.toy-source]", "[crystal.01B.toy-source]"),
     "overrides for crystal '01B' which is not in [run] crystals"),
    (('output = "out"', 'outptu = "out"'), "[run]: unknown key 'outptu'"),
    (('output = "out"', 'device = "gpu"'),
     "[run].device: 'gpu' is not a device (choose cpu, cuda, cuda:N or auto)"),
    (('output = "out"', 'device = "cuda:x"'), "[run].device: 'cuda:x' is not a device"),
    (('output = "out"', 'gpus = [0, 1, 0]'), "[run].gpus: device 0 is listed twice"),
    (('output = "out"', 'gpus = [-1]'), "[run].gpus[0]: -1 is below the minimum 0"),
    (('output = "out"', 'gpus = "0"'), "[run].gpus: expected list[int], got str"),
    (("[run]", "[runn]"), "unknown top-level key 'runn'"),
    (("n_blocks = 4", "n_blocks = 4\nname = \"toy-square\""), "stage name 'toy-square' used twice"),
    (("n_blocks = 7", 'actor = "toy-square"'), "'actor' cannot be overridden per crystal"),
    (("crystals = [", "crystals = ["), None),
])
def test_bad_configuration_names_the_key(tmp_path: Path, edit: tuple[str, str],
                                         message: str | None) -> None:
    path = write(tmp_path / "run.toml", RUN.replace(*edit))
    if message is None:
        resolve_config(path)
        return
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config(path)


def test_chain_shape(tmp_path: Path) -> None:
    swapped = RUN.replace('actor = "toy-source"\nn_blocks = 4', 'actor = "toy-sink"') \
        .replace('actor = "toy-sink"\npath = "{crystal}.txt"', 'actor = "toy-source"')
    with pytest.raises(ConfigError, match="first stage must be a producer"):
        resolve_config(write(tmp_path / "a.toml", swapped.split("[crystal")[0]))
    with pytest.raises(ConfigError, match="no \\[\\[stage\\]\\] tables"):
        resolve_config(write(tmp_path / "b.toml", "[run]\ncrystals=['00A']\n"))
    with pytest.raises(ConfigError, match="invalid TOML"):
        resolve_config(write(tmp_path / "c.toml", "[run\n"))
    with pytest.raises(ConfigError, match="configuration file not found"):
        resolve_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="no crystals"):
        resolve_config(write(tmp_path / "d.toml", RUN.split("[crystal")[0].replace(
            'crystals = ["00A", "00B"]', "")))
