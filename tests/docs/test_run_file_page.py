"""``docs/run-file.md`` is generated from the declared parameters (gpsa.config.reference) and must
be the current output; its example resolves as described; every grid-search setting has a real
help text; ``gpsa plugins --markdown`` prints the tables of installed plugins too."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from docs.conftest import DOCS, code_blocks
from gpsa.cli.main import main
from gpsa.config.reference import REGENERATE, builtin_catalogue, run_file_page
from gpsa.plugins import Param, PsaAlgorithm, hookimpl
from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager
from gpsa.psa import settings as psa_settings
from gpsa.psa.settings import PsaSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PAGE = DOCS / "run-file.md"


def test_committed_page_is_current() -> None:
    assert PAGE.read_text() == run_file_page(), (
        f"docs/run-file.md is stale: regenerate it with `{REGENERATE}`")


def test_documented_command_writes_the_page() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GPSA_BLOCK_PLUGINS"}
    cmd = REGENERATE.split(">")[0].split()
    assert cmd[:3] == ["python", "-m", "gpsa.config.reference"]
    out = subprocess.run([sys.executable, *cmd[1:]], capture_output=True, text=True, env=env,
                         check=True, cwd=PAGE.parents[1])
    assert out.stdout == PAGE.read_text()


def test_page_is_independent_of_installed_plugins() -> None:
    class Extra(PsaAlgorithm):
        """An installed plugin's algorithm."""

        name = "extra-algo"

    class Plugin:
        @hookimpl
        def gpsa_register_psa_algorithms(self, register: Any) -> None:
            register(Extra)

    reset_plugin_manager(create_plugin_manager(extra=[Plugin()], autoload=False))
    page = run_file_page()
    assert "extra-algo" not in page and page == PAGE.read_text()


def test_every_builtin_setting_is_on_the_page() -> None:
    from gpsa.config.resolve import STAGE_KEYS, RunSettings

    text = PAGE.read_text()
    cat = builtin_catalogue()
    for entry in [*cat.actors.values(), *cat.psa_algorithms.values()]:
        assert f"#### `{entry.name}`" in text
        for key, param in entry.obj.params().items():
            assert param.help, f"{entry.name}.{key} has no help text"
            assert f"| `{key}` |" in text
    for key in [*RunSettings.params(), *STAGE_KEYS]:
        assert f"| `{key}` |" in text
    assert "(undocumented)" not in text


def test_grid_search_settings_have_help_and_choices() -> None:
    algo = builtin_catalogue().psa_algorithm("grid-search")
    params = algo.params()
    choices = {"mask": psa_settings.MASK_NAMES, "search": psa_settings.SEARCHES,
               "backend": psa_settings.BACKENDS, "segment_order": psa_settings.SEGMENT_ORDERS,
               "gpu_basis_dtype": psa_settings.GPU_DTYPES,
               "transfer_dtype": psa_settings.TRANSFER_DTYPES,
               "gpu_kernel": psa_settings.GPU_KERNELS,
               "refine_method": psa_settings.REFINE_METHODS}
    defaults = PsaSettings()
    for f in dataclasses.fields(PsaSettings):
        param = params[f.name]
        assert param.help and "PsaSettings." not in param.help, f.name
        assert param.default == getattr(defaults, f.name)
        assert param.choices == choices.get(f.name), f.name
    assert params["search"].choices == ("full", "ags")


def test_param_bounds_agree_with_the_settings_checks() -> None:
    """A value at a Param's minimum passes PsaSettings; one below is refused by both."""
    params = builtin_catalogue().psa_algorithm("grid-search").params()
    for name, param in params.items():
        if param.min is None:
            continue
        low = param.min if param.type is float else int(param.min)
        PsaSettings(**{name: low})
        with pytest.raises(Exception, match=name):
            PsaSettings(**{name: low - 1})


def test_settings_docstring_shows_the_defaults() -> None:
    doc = psa_settings.__doc__ or ""
    block = doc.split("::", 1)[1]
    lines = [ln[4:] for ln in block.splitlines() if ln.startswith("    ")]
    table = tomllib.loads("\n".join(lines))["stage"][0]
    defaults = PsaSettings()
    shown = {k: v for k, v in table.items() if k not in ("actor", "basis")}
    assert len(shown) >= 10
    for key, value in shown.items():
        assert getattr(defaults, key) == value, f"docstring shows {key} = {value!r}"


def test_example_resolves_as_described(tmp_path: Path) -> None:
    from gpsa.config.resolve import resolve_config

    example = next(body for lang, body in code_blocks(PAGE.read_text()) if lang == "toml")
    for name in ("data/00A.adf", "data/00B.adf", "bases/A-2mm.h5", "bases/B-2mm.h5"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()
    (tmp_path / "run.toml").write_text(example)
    cfg = resolve_config(tmp_path / "run.toml")
    assert list(cfg.crystals) == ["00A", "00B"]
    a, b = cfg.crystals["00A"], cfg.crystals["00B"]
    here = tmp_path.resolve()
    assert a.output_dir == here / "out" / "00A"
    stages = {st.name: st for st in a.stages}
    assert Path(stages["adf-reader"].settings["path"]) == here / "data" / "00A.adf"
    assert stages["psa"].workers == 2 and stages["psa"].settings["search"] == "ags"
    assert Path(stages["psa"].settings["basis"]) == here / "bases" / "A-2mm.h5"
    b_psa = {st.name: st for st in b.stages}["psa"]
    assert Path(b_psa.settings["basis"]) == here / "bases" / "B-2mm.h5"
    assert Path(stages["adf-writer"].settings["path"]) == Path("psa.adf")


def test_page_links_exist() -> None:
    for target in re.findall(r"\]\(([^)#]+)\)", PAGE.read_text()):
        assert (PAGE.parent / target).exists(), target


class Knobs(PsaAlgorithm):
    """An in-test algorithm with every kind of setting."""

    name = "knobs"
    mode = Param(str, "fast", "how | to run", choices=("fast", "slow"))
    count = Param(int, 3, "how many", min=1, max=9)
    weights = Param(Path, None, "trained weights", kind="input")


class KnobsPlugin:
    @hookimpl
    def gpsa_register_psa_algorithms(self, register: Any) -> None:
        register(Knobs)


def test_plugins_markdown_lists_installed_algorithms(capsys: pytest.CaptureFixture[str]) -> None:
    reset_plugin_manager(create_plugin_manager(extra=[KnobsPlugin()], autoload=False))
    assert main(["plugins", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Settings of the registered actors and PSA algorithms")
    assert "### `grid-search`" in out and "### `knobs`" in out and "### `adf-reader`" in out
    assert '| `mode` | str | `"fast"` | how \\| to run; one of `"fast"`, `"slow"` |' in out
    assert "| `count` | int | `3` | how many; 1 to 9 |" in out
    assert "| `weights` | input path | unset | trained weights |" in out


def test_markdown_and_json_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["plugins", "--markdown", "--json"])
    assert exc.value.code == 2
    capsys.readouterr()
