"""Shared styling, text measurement and deterministic saving for srma's figures.

Every figure is a :class:`matplotlib.figure.Figure` with a
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg` (never ``pyplot``: rules may run
in threads of one process), saved with ``Figure.savefig`` twice: SVG with text kept as
text (``svg.fonttype = "none"``, so that the numbers in a figure can be searched and
copied) and PNG at 300 dpi. Only matplotlib's public API is used.

Same inputs give the same bytes:

- SVG element ids are derived from ``svg.hashsalt`` (fixed to ``"srma"``), the ``Date``
  metadata is dropped and ``Creator`` is fixed (no matplotlib version);
- PNG files carry no ``Software`` text (the matplotlib version) and no date;
- fonts are named explicitly (DejaVu Sans, shipped inside matplotlib), so text widths and
  layout do not depend on the fonts installed on the machine;
- rcParams start from matplotlib's defaults, so a ``matplotlibrc`` on the machine does not
  change a figure.

matplotlib reads ``svg.hashsalt``, ``svg.fonttype`` and the text settings from its global
``rcParams`` when a figure is drawn. :func:`figure_context` therefore sets them inside
``rc_context`` under a process-wide lock, so that two threads never see each other's (or
a half-restored) settings; the whole build-and-save of one figure runs inside it.
"""

from __future__ import annotations

import functools
import io
import math
import os
import textwrap
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from matplotlib.textpath import TextToPath

from srma.errors import InputError
from srma.io import is_missing, write_bytes_atomic

#: Resolution of the PNG copies (dots per inch).
PNG_DPI = 300

#: Font family used for every text; DejaVu Sans ships with matplotlib.
FONT_FAMILY = "DejaVu Sans"

#: Base font size (points) of table text in the figures.
FONT_SIZE = 9.0

#: rcParams set (over matplotlib's defaults) while a figure is built and saved; sizes,
#: colours and fonts are otherwise passed to each artist explicitly.
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
    # (PNG) as TextMeasure measures it, so a layout measured once fits every output.
    "text.hinting": "no_hinting",
    "hatch.linewidth": 0.6,
    "hatch.color": "#9a9a9a",
}

#: SVG metadata: no date, a fixed creator.
SVG_METADATA = {"Date": None, "Creator": "srma"}

#: PNG metadata: no ``Software`` text (it names the matplotlib version).
PNG_METADATA = {"Software": None}

#: zlib level of the PNG pixel data (Pillow's option, through ``savefig(pil_kwargs=)``):
#: these figures are mostly white, and level 3 deflates a 300-dpi page several times
#: faster than the default level 6 into a file only slightly larger.
PNG_COMPRESS_LEVEL = 3

#: Colours (colour-blind safe, print safe).
INK = "#1a1a1a"
GREY = "#6b6b6b"
LIGHT = "#d9d9d9"
STUDY_COLOUR = "#2b5d8a"
POOLED_COLOUR = "#1a1a1a"
PI_COLOUR = "#b2182b"

# matplotlib's rcParams are global: only one thread at a time builds and saves a figure.
_LOCK = threading.RLock()
# Whether this thread is inside figure_context (then a nested one changes nothing).
_ACTIVE = threading.local()


@contextmanager
def figure_context() -> Iterator[None]:
    """Hold the figure lock and srma's rcParams (over matplotlib's defaults) while a
    figure is built and saved. Re-entrant: a figure function may call another."""
    with _LOCK:
        if getattr(_ACTIVE, "depth", 0):
            _ACTIVE.depth += 1
            try:
                yield
            finally:
                _ACTIVE.depth -= 1
            return
        with matplotlib.rc_context():
            matplotlib.rcdefaults()
            matplotlib.rcParams.update(RC)
            _ACTIVE.depth = 1
            try:
                yield
            finally:
                _ACTIVE.depth = 0


def in_figure_context(function):
    """Decorator: ``function`` (a figure's layout, drawing and saving) runs in
    :func:`figure_context`, so its text is measured and drawn with srma's rcParams."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with figure_context():
            return function(*args, **kwargs)

    return wrapper


def new_figure(width_in: float, height_in: float) -> Figure:
    """A white figure of ``width_in`` x ``height_in`` inches with an Agg canvas attached."""
    fig = Figure(figsize=(width_in, height_in), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def add_text(fig: Figure, transform, x: float, y: float, s: str, **kwargs) -> Text:
    """An unclipped text at ``(x, y)`` in ``transform``'s coordinates, added to ``fig``.

    For table text laid out in the data coordinates of an axes that spans the figure:
    ``Axes.text`` would clip every text to the axes' patch, and setting up that clip costs
    about a third of a millisecond per text (a forest plot of 150 studies holds some
    1,000 texts) for nothing, as the table's axes cover the whole figure. Figure-level
    texts are drawn after the axes; the table's texts overlap no axes' content.
    """
    text = Text(x, y, s, transform=transform, **kwargs)
    fig.add_artist(text)
    return text


def font(size: float = FONT_SIZE, weight: str = "normal", style: str = "normal") -> FontProperties:
    """Font properties of srma's figures (explicit family, size in points).

    The same arguments give the same (shared) object: matplotlib copies font properties
    into every text, so callers pass it on and never modify it.
    """
    return _font(float(size), weight, style)


@functools.lru_cache(maxsize=64)
def _font(size: float, weight: str, style: str) -> FontProperties:
    return FontProperties(family=[FONT_FAMILY, "sans-serif"], size=size, weight=weight, style=style)


class TextMeasure:
    """Measures text extents in inches as matplotlib lays text out.

    Used to lay out table-like figures (forest plot, PRISMA boxes) so that columns are
    exactly as wide as their widest cell and nothing overlaps, whatever the labels.
    Widths of single lines come from ``TextToPath.get_text_width_height_descent``
    (:mod:`matplotlib.textpath`: FreeType layout of the font and fallbacks matplotlib
    draws with, unhinted as srma's figures are drawn: ``RC["text.hinting"]``); heights of
    multi-line texts from ``Text.get_window_extent``. Use it inside
    :func:`figure_context` (the figure functions run in it). Each distinct text is
    measured once per instance (one instance per figure, used by one thread).
    """

    def __init__(self) -> None:
        self._paths = TextToPath()
        self._widths: dict[tuple[str, float, str], float] = {}
        self._heights: dict[tuple[str, float, float], float] = {}
        self._fig: Figure | None = None

    def _extent(self, line: str, size: float, weight: str) -> float:
        key = (line, float(size), weight)
        width = self._widths.get(key)
        if width is None:
            w, _, _ = self._paths.get_text_width_height_descent(
                line, font(size, weight), ismath=False
            )
            width = self._widths[key] = w / 72.0  # points -> inches
        return width

    def width(self, text: str, size: float = FONT_SIZE, weight: str = "normal") -> float:
        """Width of the widest line of ``text`` in inches."""
        return max(
            (self._extent(line, size, weight) for line in str(text).split("\n") if line),
            default=0.0,
        )

    def height(self, text: str, size: float = FONT_SIZE, linespacing: float = 1.2) -> float:
        """Height in inches of ``text`` (all its lines) as matplotlib lays it out."""
        key = (str(text), float(size), float(linespacing))
        height = self._heights.get(key)
        if height is None:
            with figure_context():
                if self._fig is None:  # laid out at the PNG's resolution
                    self._fig = Figure(figsize=(1, 1), dpi=PNG_DPI)
                    FigureCanvasAgg(self._fig)
                artist = self._fig.text(
                    0, 0, str(text), fontproperties=font(size), linespacing=linespacing
                )
                try:
                    renderer = self._fig.canvas.get_renderer()
                    height = artist.get_window_extent(renderer).height / PNG_DPI
                finally:
                    artist.remove()
            self._heights[key] = height
        return height

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

    Both files are rendered in memory first and written atomically, so a failure never
    leaves a half-written figure. Runs in :func:`figure_context` (entered here when the
    caller has not).
    """
    with figure_context():
        svg = svg_bytes(fig)
        png = png_bytes(fig)
    write_bytes_atomic(Path(svg_path), svg)
    write_bytes_atomic(Path(png_path), png)


def svg_bytes(fig: Figure) -> bytes:
    """``fig`` as SVG: user units in points, text as text, fixed metadata.

    Call inside :func:`figure_context` (``svg.fonttype``, ``svg.hashsalt``).
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", dpi=72, metadata=SVG_METADATA)
    return buf.getvalue()


def png_bytes(fig: Figure, dpi: float = PNG_DPI) -> bytes:
    """``fig`` drawn by Agg at ``dpi`` as PNG, without text chunks (no version, no date).

    Call inside :func:`figure_context`.
    """
    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=dpi,
        metadata=PNG_METADATA,
        pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL},
    )
    return buf.getvalue()


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


def table_name(source: str, table: str) -> str:
    """How an error message names one of a figure's input tables, e.g.
    ``results/x.parquet (leave-one-out table)``."""
    return f"{source} ({table})" if source else table


def check_same_group(pooled: pd.DataFrame, tables: Mapping[str, object], source: str) -> None:
    """Raise :class:`~srma.errors.InputError` unless every table (``{name: DataFrame}``)
    is of the pooled group table's instrument x timepoint group (when both say which)."""
    if not isinstance(pooled, pd.DataFrame):
        raise InputError(table_name(source, "pooled group table"), "expected a DataFrame")
    for col in ("instrument", "timepoint"):
        if col not in pooled.columns:
            continue
        ours = {str(v) for v in pooled[col] if not is_missing(v)}
        for name, table in tables.items():
            if not isinstance(table, pd.DataFrame) or col not in table.columns:
                continue
            theirs = {str(v) for v in table[col] if not is_missing(v)}
            if len(ours | theirs) > 1:
                raise InputError(
                    table_name(source, name),
                    f"{col} {sorted(theirs)} differs from the pooled group table's {sorted(ours)}",
                    field=col,
                )


#: Width of a note figure, its margin and the space between its blocks, inches.
NOTE_W = 6.5
NOTE_MARGIN = 0.2
NOTE_GAP = 0.12


@in_figure_context
def note_figure(
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    title: str,
    message: str,
    items: Sequence[str] = (),
) -> None:
    """A small figure that says why a plot was not drawn (e.g. a funnel plot of a group
    with fewer than 10 studies), so that every declared figure exists and the report
    tells the reader the reason instead of leaving a gap. ``items`` (e.g. one line per
    study with its reason) are listed under the message, one bullet each.

    Title, message and items are wrapped to the figure's width (measured), so none is
    cut off, whatever its length."""
    tm = TextMeasure()
    width = NOTE_W - 2 * NOTE_MARGIN
    blocks = [(tm.wrap(title, width, FONT_SIZE, "bold"), "bold")]
    if message:
        blocks.append((tm.wrap(message, width), "normal"))
    for item in items:
        text = tm.wrap(item, width - 0.18)
        blocks.append(("\u2022 " + text.replace("\n", "\n   "), "normal"))
    heights = [tm.height(text, FONT_SIZE, 1.25) for text, _ in blocks]
    fig_h = 2 * NOTE_MARGIN + sum(heights) + NOTE_GAP * (len(blocks) - 1)
    fig = new_figure(NOTE_W, fig_h)
    y = NOTE_MARGIN
    for (text, weight), h in zip(blocks, heights, strict=True):
        fig.text(
            NOTE_MARGIN / NOTE_W,
            1 - y / fig_h,
            text,
            va="top",
            fontproperties=font(weight=weight),
            color=INK,
            linespacing=1.25,
        )
        y += h + NOTE_GAP
    save_figure(fig, svg_path, png_path)
