"""Reading run files and folders: key lines in TOML text, unknown keys reported as FILE:LINE,
run folders (RUN/ holding Conf/) read like their Conf/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from gpsa.config import resolve_config
from gpsa.config.files import tomllib
from gpsa.config.tomlpos import key_lines, line_of
from gpsa.errors import ConfigError

from .test_resolve import RUN, write

TRICKY = '''\
# a comment with key = value
title = "x = 1"                    # line 2
[run]
crystals = [                       # line 4
  "00A",   # a = 1
  "00B",
]
output = """
not_a_key = 1
"""
"quoted.key" = 'lit'               # line 11
dotted . inner = 2                 # line 12
inline = { a = 1, b = [1, 2] }     # line 13

[[stage]]                          # line 15
actor = "a"
[[stage]]
actor = "b"                        # line 18
[stage.sub]
deep = 1                           # line 20
[crystal."00A".psa]                # line 21
basis = 'x.h5'
[crystal.00B]
psa.basis = "y"                    # line 24
'''


def test_key_lines_of_tricky_toml() -> None:
    tomllib.loads(TRICKY)  # valid TOML
    lines = key_lines(TRICKY)
    assert lines[("title",)] == 2
    assert lines[("run", "crystals")] == 4
    assert lines[("run", "output")] == 8
    assert ("run", "not_a_key") not in lines and ("not_a_key",) not in lines
    assert lines[("run", "quoted.key")] == 11
    assert lines[("run", "dotted", "inner")] == 12
    assert lines[("run", "inline")] == 13
    assert lines[("stage", 0)] == 15 and lines[("stage", 0, "actor")] == 16
    assert lines[("stage", 1, "actor")] == 18
    assert lines[("stage", 1, "sub", "deep")] == 20
    assert lines[("crystal", "00A", "psa")] == 21
    assert lines[("crystal", "00A", "psa", "basis")] == 22
    assert lines[("crystal", "00B", "psa", "basis")] == 24


def test_line_of_falls_back_to_the_longest_prefix(tmp_path: Path) -> None:
    path = write(tmp_path / "a.toml", TRICKY)
    assert line_of(path, ("run", "inline", "b")) == 13  # inside an inline table
    assert line_of(path, ("stage", 1, "nothing")) == 17  # the [[stage]] header
    assert line_of(path, ("nothing",)) is None
    assert line_of(tmp_path / "missing.toml", ("run",)) is None


@pytest.mark.usefixtures("toy_plugins")
@pytest.mark.parametrize("edit, line, message", [
    (("output = ", "outptu = "), 3, "[run]: unknown key 'outptu' (did you mean 'output'?)"),
    (("workers = 2", "workers = 2\nmax_slep = 1"), 12,
     "stage 'toy-square': unknown key 'max_slep' (did you mean 'max_sleep'?)"),
    (("n_blocks = 7", "n_blocks = 7\nnblocks = 1"), 19,
     "stage 'toy-source' (crystal 00B): unknown key 'nblocks' (did you mean 'n_blocks'?)"),
    (("[crystal.00B.toy-source]", "[crystal.00B.toy-src]"), 17,
     "crystal 00B: overrides for unknown stage 'toy-src'"),
    (("[run]", "bad = 1\n[run]"), 1, "unknown top-level key 'bad'"),
])
def test_unknown_key_names_file_and_line(tmp_path: Path, edit: tuple[str, str], line: int,
                                         message: str) -> None:
    path = write(tmp_path / "run.toml", RUN.replace(*edit))
    with pytest.raises(ConfigError, match=re.escape(f"{path}:{line}: {message}")):
        resolve_config(path)


@pytest.mark.usefixtures("toy_plugins")
def test_unknown_key_in_a_crystal_folder_names_that_file(tmp_path: Path) -> None:
    conf = tmp_path / "Conf"
    write(conf / "run.toml", RUN.split("[crystal")[0])
    write(conf / "00A" / "a.toml", "[toy-source]\nn_blocks = 2\n")
    bad = write(conf / "00B" / "b.toml", """\
        # settings of 00B

        [toy-source]
        n_blocks = 3

        [toy-sink]
        delay = 0.5
        dealy = 0.5
        """)
    with pytest.raises(ConfigError, match=re.escape(
            f"{bad}:8: stage 'toy-sink' (crystal 00B): unknown key 'dealy' "
            "(did you mean 'delay'?)")):
        resolve_config(conf)
    bad.write_text("[toy-sinc]\ndelay = 0.5\n")
    with pytest.raises(ConfigError, match=re.escape(
            f"{bad}:1: crystal 00B: overrides for unknown stage 'toy-sinc'")):
        resolve_config(tmp_path)  # the run folder above Conf/


@pytest.mark.usefixtures("toy_plugins")
def test_run_folder_reads_like_its_conf(tmp_path: Path) -> None:
    conf = tmp_path / "run_0001" / "Conf"
    write(conf / "run.toml", RUN.split("[crystal")[0].replace('"00A", "00B"', '"00A"')
          .replace('output = "out"', 'output = "../Out"'))
    write(conf / "00A" / "crystal.toml", "[toy-source]\nn_blocks = 2\n")
    (conf / "00A" / "TimeEvoCC.conf").write_text("0 10 1.0\n")  # not TOML: not read here
    via_run, via_conf = resolve_config(conf.parent), resolve_config(conf)
    assert via_run.source == via_conf.source == conf / "run.toml"
    a, b = via_run.crystals["00A"], via_conf.crystals["00A"]
    assert a.to_dict() == b.to_dict()
    assert a.output_dir.resolve() == (conf.parent / "Out" / "00A").resolve()
    assert a.stages[0].settings["n_blocks"] == 2
    with pytest.raises(ConfigError, match=re.escape("has no run.toml or gpsa.toml (nor "
                                                    "Conf/run.toml)")):
        resolve_config(tmp_path)


def _toy_algorithm_plugin() -> ModuleType:
    from gpsa.config.params import Param
    from gpsa.plugins.hookspecs import hookimpl
    from gpsa.runtime.psa_algorithm import PsaAlgorithm

    class Knobbed(PsaAlgorithm):
        """A PSA algorithm with its own setting."""

        name = "knobbed"
        knob = Param(int, 1, "a setting only this algorithm takes")

    @hookimpl
    def gpsa_register_psa_algorithms(register: Callable[[type], None]) -> None:
        register(Knobbed)

    plugin = ModuleType("knobbed_plugin")
    plugin.gpsa_register_psa_algorithms = gpsa_register_psa_algorithms  # type: ignore[attr-defined]
    return plugin


@pytest.fixture
def knobbed_plugins() -> Iterator[None]:
    from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager

    reset_plugin_manager(create_plugin_manager(extra=[_toy_algorithm_plugin()], autoload=False))
    yield
    reset_plugin_manager()


@pytest.mark.usefixtures("knobbed_plugins")
def test_psa_keys_of_another_algorithm_wait_for_the_command_line(tmp_path: Path) -> None:
    basis = tmp_path / "b.h5"
    basis.write_bytes(b"")  # only checked for existence here
    path = write(tmp_path / "run.toml", f"""\
        [run]
        crystals = ["00A"]

        [[stage]]
        actor = "simulator"
        basis = "{basis}"

        [[stage]]
        actor = "psa"
        basis = "{basis}"
        knob = 3

        [[stage]]
        actor = "adf-writer"
        """)
    cfg = resolve_config(path, psa="knobbed")  # the key of --psa's algorithm is accepted
    assert cfg.crystals["00A"].stages[1].settings["knob"] == 3
    with pytest.raises(ConfigError, match=re.escape(f"{path}:11: stage 'psa': unknown key "
                                                    "'knob'")):
        resolve_config(path)  # grid-search has no 'knob'
    path.write_text(path.read_text().replace("knob = 3", "knob = 3\nserach = 'ags'"))
    with pytest.raises(ConfigError, match=re.escape(
            f"{path}:12: stage 'psa': unknown key 'serach' (known: algorithm, basis, knob)")):
        resolve_config(path, psa="knobbed")  # the keys of the algorithm --psa selects
