"""Shared styling, text measurement and deterministic saving for srma's figures.

Every figure is built on a :class:`matplotlib.figure.Figure` (never ``pyplot``: rules may
run in threads of one process) and saved twice: SVG with text kept as text (so that the
numbers in a figure can be searched and copied) and PNG at 300 dpi.

Same inputs give the same bytes:

- SVG element ids are derived from ``svg.hashsalt`` (fixed to ``"srma"``), the ``Date``
  metadata is dropped and ``Creator`` is fixed;
- PNG files carry no ``Software`` text chunk (the matplotlib version) and no date;
- fonts are named explicitly (DejaVu Sans, shipped inside matplotlib), so text widths and
  layout do not depend on the fonts installed on the machine.

matplotlib reads ``svg.hashsalt`` and ``svg.fonttype`` from its global ``rcParams`` when a
figure is saved. :func:`figure_context` therefore sets them inside ``rc_context`` under a
process-wide lock, so that two threads never see each other's (or a half-restored)
settings; the whole build-and-save of one figure runs inside it.
"""

from __future__ import annotations

import io
import math
import os
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from srma.io import write_bytes_atomic

#: Resolution of the PNG copies (dots per inch).
PNG_DPI = 300

#: Font family used for every text; DejaVu Sans ships with matplotlib.
FONT_FAMILY = "DejaVu Sans"

#: Base font size (points) of table text in the figures.
FONT_SIZE = 9.0

#: rcParams set while a figure is built and saved (nothing else is read from rcParams:
#: sizes, colours and fonts are passed to each artist explicitly).
RC = {
    "svg.hashsalt": "srma",
    "svg.fonttype": "none",
    "svg.image_inline": True,
    "font.family": [FONT_FAMILY],
    # Fallbacks named in the SVG for viewers without DejaVu Sans: same metrics (Vera) or
    # narrower (Arial, Helvetica, Liberation Sans), so text still fits its column.
    "font.sans-serif": [
        FONT_FAMILY,
        "Bitstream Vera Sans",
        "Arial",
        "Helvetica",
        "Liberation Sans",
    ],
    "font.size": FONT_SIZE,
    "axes.unicode_minus": True,
    "path.simplify": True,
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
    "savefig.transparent": False,
    "savefig.bbox": None,
    "mathtext.default": "regular",
    "text.usetex": False,
    "text.parse_math": False,
    # Unhinted glyphs: text is as wide at 72 dpi (SVG), 100 dpi (layout) and 300 dpi
    # (PNG), so a layout measured once fits every output.
    "text.hinting": "no_hinting",
    "hatch.linewidth": 0.6,
    "hatch.color": "#9a9a9a",
}

#: SVG metadata: no date, a fixed creator.
SVG_METADATA = {"Date": None, "Creator": "srma"}

#: PNG metadata: no Software chunk (it would hold the matplotlib version).
PNG_METADATA = {"Software": None}

#: Colours (colour-blind safe, print safe).
INK = "#1a1a1a"
GREY = "#6b6b6b"
LIGHT = "#d9d9d9"
STUDY_COLOUR = "#2b5d8a"
POOLED_COLOUR = "#1a1a1a"
PI_COLOUR = "#b2182b"

# matplotlib's rcParams are global: only one thread at a time builds and saves a figure.
_LOCK = threading.RLock()


@contextmanager
def figure_context() -> Iterator[None]:
    """Hold the figure lock and srma's rcParams while a figure is built and saved."""
    with _LOCK, matplotlib.rc_context(RC):
        yield


def new_figure(width_in: float, height_in: float) -> Figure:
    """A white figure of ``width_in`` x ``height_in`` inches with an Agg canvas attached."""
    fig = Figure(figsize=(width_in, height_in), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def font(size: float = FONT_SIZE, weight: str = "normal", style: str = "normal") -> FontProperties:
    """Font properties of srma's figures (explicit family, size in points)."""
    return FontProperties(family=[FONT_FAMILY, "sans-serif"], size=size, weight=weight, style=style)


class TextMeasure:
    """Measures text extents in inches with matplotlib's own Agg renderer.

    Used to lay out table-like figures (forest plot, PRISMA boxes) so that columns are
    exactly as wide as their widest cell and nothing overlaps, whatever the labels.
    """

    def __init__(self) -> None:
        self._fig = Figure(figsize=(1, 1), dpi=72)
        self._renderer = FigureCanvasAgg(self._fig).get_renderer()
        self._cache: dict[tuple[str, float, str], float] = {}

    def _extent(self, text: str, size: float, weight: str) -> float:
        key = (text, size, weight)
        if key not in self._cache:
            # Glyph widths depend on the hinting setting; swapping that one key (under the
            # figure lock) is much cheaper than a full rc_context per measurement.
            with _LOCK:
                old = matplotlib.rcParams["text.hinting"]
                matplotlib.rcParams["text.hinting"] = RC["text.hinting"]
                try:
                    w, _, _ = self._renderer.get_text_width_height_descent(
                        text, font(size, weight), ismath=False
                    )
                finally:
                    matplotlib.rcParams["text.hinting"] = old
            self._cache[key] = w / 72.0
        return self._cache[key]

    def width(self, text: str, size: float = FONT_SIZE, weight: str = "normal") -> float:
        """Width of the widest line of ``text`` in inches."""
        widest = 0.0
        for line in str(text).split("\n") or [""]:
            if not line:
                continue
            widest = max(widest, self._extent(line, size, weight))
        return widest

    def height(self, text: str, size: float = FONT_SIZE, linespacing: float = 1.2) -> float:
        """Height in inches of ``text`` (all its lines) as matplotlib lays it out."""
        with figure_context():
            artist = self._fig.text(
                0, 0, str(text), fontproperties=font(size), linespacing=linespacing
            )
            try:
                return artist.get_window_extent(self._renderer).height / 72.0
            finally:
                artist.remove()

    def wrap(self, text: str, max_width: float, size: float = FONT_SIZE, weight="normal") -> str:
        """Wrap ``text`` at word boundaries so that no line is wider than ``max_width`` in."""
        text = str(text)
        if self.width(text, size, weight) <= max_width:
            return text
        # Narrow down the character count that fits, then let textwrap break at spaces.
        avg = self.width(text, size, weight) / max(len(text), 1)
        chars = max(8, int(max_width / avg))
        while chars > 8:
            lines = textwrap.wrap(text, chars, break_long_words=True, break_on_hyphens=False)
            if all(self.width(line, size, weight) <= max_width for line in lines):
                return "\n".join(lines)
            chars -= 1
        return "\n".join(textwrap.wrap(text, chars, break_long_words=True))


def save_figure(fig: Figure, svg_path: str | os.PathLike, png_path: str | os.PathLike) -> None:
    """Save ``fig`` as SVG (text as text) and as a 300-dpi PNG, byte-identical on rerun.

    Must be called inside :func:`figure_context`. Both files are rendered in memory first
    and written atomically, so a failure never leaves a half-written figure.
    """
    svg_buf = io.BytesIO()
    fig.savefig(svg_buf, format="svg", metadata=SVG_METADATA, dpi=72)
    png_buf = io.BytesIO()
    fig.savefig(png_buf, format="png", metadata=PNG_METADATA, dpi=PNG_DPI)
    for path, buf in ((svg_path, svg_buf), (png_path, png_buf)):
        write_bytes_atomic(Path(path), buf.getvalue())


def fmt_num(value: float | None, digits: int = 2) -> str:
    """A number for a figure: fixed decimals, a true minus sign, ``NA`` for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    text = f"{value:.{digits}f}"
    if text.startswith("-"):
        # "-0.00" is shown as "0.00".
        text = text[1:] if float(text) == 0 else "\u2212" + text[1:]
    return text


def fmt_p(p: float | None) -> str:
    """A p-value as reviewers expect: ``p < 0.001`` below 0.001, else three decimals."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p = NA"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}"


def is_missing(value: object) -> bool:
    """True for None, NaN and pandas' missing markers."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like values are not missing scalars
        return False


def note_figure(
    svg_path: str | os.PathLike, png_path: str | os.PathLike, title: str, message: str
) -> None:
    """A small figure that says why a plot was not drawn (e.g. a funnel plot of a group
    with fewer than 10 studies), so that every declared figure exists and the report
    tells the reader the reason instead of leaving a gap."""
    import textwrap

    lines = textwrap.wrap(message, 70)
    with figure_context():
        fig = new_figure(6.5, 0.9 + 0.25 * len(lines))
        fig.text(0.03, 0.93, title, va="top", fontproperties=font(weight="bold"), color=INK)
        fig.text(0.03, 0.62, "\n".join(lines), va="top", fontproperties=font(), color=INK)
        save_figure(fig, svg_path, png_path)
