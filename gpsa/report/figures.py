"""Shared figure helpers: matplotlib with the Agg backend (no display), one PNG per figure, and
what a panel shows when it has nothing to plot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpsa.errors import ConfigError

INSTALL_HINT = "gpsa report needs matplotlib: pip install 'gpsa[plot]' (or pip install matplotlib)"


@dataclass(frozen=True)
class Figure:
    """A written plot: its PNG file, a title and one sentence saying what it shows."""

    path: Path
    title: str
    caption: str


def require_matplotlib() -> None:
    """Raise a one-line :class:`ConfigError` saying how to install matplotlib when it is
    missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 5.0,
               height: float = 4.0) -> tuple[Any, Any]:
    """A figure of ``nrows`` × ``ncols`` panels (Agg backend, constrained layout)."""
    require_matplotlib()
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save(fig: Any, path: Path, title: str, caption: str) -> Figure:
    """Write ``fig`` as a PNG (100 dpi) to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return Figure(path=path, title=title, caption=caption)


def no_data(ax: Any, what: str) -> None:
    """Mark an empty panel."""
    ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
