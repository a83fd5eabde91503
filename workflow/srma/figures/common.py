"""Shared styling, text measurement and deterministic saving for srma's figures.

Every figure is built on a :class:`matplotlib.figure.Figure` (never ``pyplot``: rules may
run in threads of one process) and saved twice: SVG with text kept as text (so that the
numbers in a figure can be searched and copied) and PNG at 300 dpi.

Same inputs give the same bytes:

- SVG element ids are derived from ``svg.hashsalt`` (fixed to ``"srma"``), the ``Date``
  metadata is dropped and ``Creator`` is fixed;
- PNG files carry no text chunk (no ``Software``: the matplotlib version; no date): they
  are written by :func:`encode_png`, whose only inputs are the pixels and the resolution;
- fonts are named explicitly (DejaVu Sans, shipped inside matplotlib), so text widths and
  layout do not depend on the fonts installed on the machine.

matplotlib reads ``svg.hashsalt`` and ``svg.fonttype`` from its global ``rcParams`` when a
figure is saved. :func:`figure_context` therefore sets them inside ``rc_context`` under a
process-wide lock, so that two threads never see each other's (or a half-restored)
settings; the whole build-and-save of one figure runs inside it.
"""

from __future__ import annotations

import functools
import io
import math
import os
import struct
import textwrap
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import RendererSVG
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager, get_font
from matplotlib.ft2font import LoadFlags
from matplotlib.text import Text
from PIL import Image

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

#: zlib level of the PNG pixel data. A 300-dpi forest plot of 140 studies holds about
#: 40 million pixels: level 3 without row filters deflates them about four times faster
#: than matplotlib's PNG writer (Pillow, level 6, adaptive filters), into a file about a
#: fifth smaller.
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


@contextmanager
def figure_context() -> Iterator[None]:
    """Hold the figure lock and srma's rcParams while a figure is built and saved."""
    with _LOCK, matplotlib.rc_context(RC):
        yield


@dataclass(frozen=True)
class TextLine:
    """One line of text laid out and rasterised by FreeType at :attr:`TextLines.dpi`.

    ``width``, ``height``, ``descent``: pixels, as ``RendererAgg.get_text_width_height_
    descent`` gives them; ``image``: the antialiased bitmap (uint8 coverage), rendered
    with the line's origin on a pixel corner ``origin_col`` columns left of the
    bitmap's first column and ``baseline_row`` rows below its top.
    """

    width: float
    height: float
    descent: float
    image: np.ndarray
    origin_col: int
    baseline_row: int


class TextLines:
    """Single lines of text laid out and rasterised once per figure, at ``dpi``.

    A forest plot's table text is measured to size its columns, measured again by
    matplotlib when the figure is drawn, and rendered for the PNG; FreeType's line layout
    (``FT2Font.set_text``) is the costly step of each. One instance per figure (used by
    one thread) keeps what a single layout gives, per text and font: the metrics for
    :class:`TextMeasure` and for :class:`LineTextRenderer`'s layout, and the bitmap that
    the renderer blends. Glyphs are unhinted (``RC["text.hinting"]``), so the metrics do
    not depend on the resolution beyond rounding to 1/64 pixel.
    """

    def __init__(self, dpi: float = PNG_DPI) -> None:
        self.dpi = float(dpi)
        self._lines: dict[tuple[str, FontProperties], TextLine] = {}

    def line(self, text: str, prop: FontProperties) -> TextLine:
        """``text`` (one line) in the font ``prop``, laid out and rendered at most once."""
        key = (text, prop)  # FontProperties compare and hash by value
        hit = self._lines.get(key)
        if hit is None:
            # The font (with its fallbacks) as matplotlib's Agg renderer looks it up.
            face = get_font(fontManager._find_fonts_by_props(prop))
            face.clear()
            face.set_size(prop.get_size_in_points(), self.dpi)
            face.set_text(text, 0.0, flags=LoadFlags.NO_HINTING)  # RC["text.hinting"]
            face.draw_glyphs_to_bitmap(antialiased=True)
            w, h = face.get_width_height()  # 26.6 fixed point (1/64 pixel)
            descent = face.get_descent()  # -bbox.yMin, 26.6
            x_min, _ = face.get_bitmap_offset()  # the line's leftmost ink, 26.6
            # FT2Font copies a glyph whose bitmap starts ``left`` whole pixels right of
            # the origin (and ``top`` above the baseline) to column int(left - xMin / 64)
            # and row int(yMax / 64 - top + 1) of the line's bitmap (xMin, yMax: the
            # line's extent, 1/64 pixel; int() truncates towards zero). So the baseline
            # is floor(yMax / 64) + 1 rows below the top and, for every glyph but a
            # leftmost one (which int() may put one column right), the origin is
            # ceil(xMin / 64) columns left of the first column. A line of one glyph is
            # that leftmost glyph: its origin is floor(xMin / 64) columns left.
            origin_col = (math.floor if len(text) == 1 else math.ceil)(x_min / 64.0)
            hit = TextLine(
                width=w / 64.0,
                height=h / 64.0,
                descent=descent / 64.0,
                image=np.array(face.get_image(), dtype=np.uint8, copy=True),
                origin_col=origin_col,
                baseline_row=math.floor((h - descent) / 64.0) + 1,
            )
            self._lines[key] = hit
        return hit


class LineTextRenderer(RendererAgg):
    """Agg renderer that lays out and rasterises each line of text once, as one bitmap.

    matplotlib 3.11 measures a line (to align it), lays it out again and renders and
    blends it glyph by glyph, with Python work per glyph; a 300-dpi forest plot of 140
    studies holds some 10,000 glyphs, and that took most of its drawing time. Here each
    line comes from :class:`TextLines` (one FreeType layout for the measure and the
    bitmap, shared with the :class:`TextMeasure` that laid the figure out) and is blended
    once, as matplotlib 3.8-3.10 did. The metrics are the ones matplotlib's Agg renderer
    gives, so text is aligned exactly as before; the glyphs keep their sub-pixel positions
    within the line and the line's bitmap is placed on whole pixels, within about half a
    pixel (1/600 inch at 300 dpi) of the glyph-by-glyph placement (a line's leftmost
    glyph may sit one pixel further right, as FreeType's line bitmap puts it in matplotlib
    3.8-3.10 too). Rotated, math and non-antialiased text is left to matplotlib's code.
    """

    def __init__(self, width, height, dpi, lines: TextLines | None = None) -> None:
        super().__init__(width, height, dpi)
        self._lines = lines if lines is not None and lines.dpi == float(dpi) else TextLines(dpi)

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        line = self._lines.line(s, prop)
        return line.width, line.height, line.descent

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or angle != 0 or not gc.get_antialiased():
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        line = self._lines.line(s, prop)
        # x, y: the line's baseline origin, y downwards. The bitmap goes to the whole
        # pixel nearest to where matplotlib's glyph-by-glyph rendering puts the glyphs,
        # which is higher by the canvas height's fraction of a pixel (it places glyph
        # rows from int(height)); the tests check every sub-pixel phase within half a
        # pixel. draw_text_image takes the bitmap's left column and the row just below
        # its bottom.
        left = round(x + line.origin_col)
        top = round(y - line.baseline_row - (self.height - int(self.height)))
        self._renderer.draw_text_image(line.image, left, top + line.image.shape[0], 0.0, gc)
        return None


class LineTextSVGRenderer(RendererSVG):
    """SVG renderer taking text metrics from :class:`TextLines` (scaled to points).

    With ``svg.fonttype = "none"`` the SVG holds text as text and matplotlib measures
    each line only to align it; the figure's :class:`TextLines` already hold those
    measures (unhinted, at the PNG's resolution), so no line is laid out again. The
    alignment differs from matplotlib's own measure by rounding, under 0.01 point.
    """

    def __init__(self, width, height, svgwriter, *, lines: TextLines, **kwargs) -> None:
        super().__init__(width, height, svgwriter, **kwargs)
        self._lines = lines

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        line = self._lines.line(s, prop)
        points = 72.0 / self._lines.dpi
        return line.width * points, line.height * points, line.descent * points


class Canvas(FigureCanvasAgg):
    """Agg canvas drawing with :class:`LineTextRenderer` (reused while the size holds).

    ``lines``: the figure's :class:`TextLines` (from its :class:`TextMeasure`), used when
    the figure is drawn at their resolution.
    """

    def __init__(self, figure: Figure, lines: TextLines | None = None) -> None:
        super().__init__(figure)
        self.lines = lines
        self._line_text_key: tuple[float, float, float] | None = None

    def get_renderer(self) -> RendererAgg:
        w, h = self.figure.bbox.size
        key = (w, h, self.figure.dpi)
        if self._line_text_key != key:
            self.renderer = LineTextRenderer(w, h, self.figure.dpi, self.lines)
            self._line_text_key = key
        return self.renderer


def new_figure(width_in: float, height_in: float, lines: TextLines | None = None) -> Figure:
    """A white figure of ``width_in`` x ``height_in`` inches with an Agg canvas attached.

    ``lines``: the :class:`TextLines` of the :class:`TextMeasure` that laid the figure
    out (``tm.lines``), so that its text is laid out and rasterised once.
    """
    fig = Figure(figsize=(width_in, height_in), dpi=100, facecolor="white")
    Canvas(fig, lines)
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
    """Measures text extents in inches as matplotlib's Agg renderer lays text out.

    Used to lay out table-like figures (forest plot, PRISMA boxes) so that columns are
    exactly as wide as their widest cell and nothing overlaps, whatever the labels.
    Widths come from :attr:`lines` (laid out at the PNG's resolution); pass them to
    :func:`new_figure` so that the figure reuses them.
    """

    def __init__(self, dpi: float = PNG_DPI) -> None:
        self.lines = TextLines(dpi)
        self._fig = Figure(figsize=(1, 1), dpi=72)
        self._renderer = FigureCanvasAgg(self._fig).get_renderer()

    def _extent(self, text: str, size: float, weight: str) -> float:
        return self.lines.line(text, font(size, weight)).width / self.lines.dpi

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
    svg = svg_bytes(fig)
    png = png_bytes(fig, PNG_DPI)
    write_bytes_atomic(Path(svg_path), svg)
    write_bytes_atomic(Path(png_path), png)


def svg_bytes(fig: Figure) -> bytes:
    """``fig`` as SVG, as ``fig.savefig(format="svg", dpi=72, metadata=SVG_METADATA)``
    writes it (the figure is white, unclipped, without layout engine), with text measured
    by the figure's :class:`TextLines` when it has them (:func:`new_figure`)."""
    lines = getattr(fig.canvas, "lines", None)
    if lines is None:
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata=SVG_METADATA, dpi=72)
        return buf.getvalue()
    out = io.StringIO()
    dpi = fig.dpi
    fig.dpi = 72  # SVG user units are points
    try:
        width, height = fig.get_size_inches()
        svg = LineTextSVGRenderer(
            width * 72, height * 72, out, lines=lines, image_dpi=72, metadata=SVG_METADATA
        )
        renderer = MixedModeRenderer(fig, width, height, 72, svg)
        fig.draw(renderer)
        renderer.finalize()
    finally:
        fig.dpi = dpi
    return out.getvalue().encode("utf-8")


def png_bytes(fig: Figure, dpi: float) -> bytes:
    """``fig`` drawn by Agg at ``dpi`` and encoded by :func:`encode_png`.

    The same pixels as ``fig.savefig(format="png", dpi=dpi)`` (the figure's own white
    face colour, no bounding-box trimming); only the encoding differs.
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    old = fig.dpi
    fig.set_dpi(dpi)
    try:
        canvas.draw()
        # A view of the renderer's buffer, read before anything draws again.
        return encode_png(np.asarray(canvas.buffer_rgba()), dpi)
    finally:
        fig.set_dpi(old)


def encode_png(rgba: np.ndarray, dpi: float, level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """A PNG file (bytes) of the pixels ``rgba`` (uint8, rows x columns x 4) at ``dpi``.

    Chunks: IHDR (8-bit truecolour, RGB when every pixel is opaque, else RGBA), pHYs (the
    resolution in pixels per metre), one IDAT, IEND; no text or time chunk, so the bytes
    depend on the pixels only (PNG specification, W3C 2003, sections 11.2 and 11.3.5).
    Rows are stored unfiltered (filter type 0) and deflated at zlib ``level``, a block of
    rows at a time (a 300-dpi page is some 150 MB of pixels: no whole copy is made).

    Written here rather than with Pillow because Pillow's encoder has no switch for its
    adaptive row filters, which cost most of the time on the 40-megapixel pages of large
    forest plots while hardly shrinking these mostly-white figures.
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels of shape (rows, columns, 4), got {rgba.shape}")
    rows, cols, _ = rgba.shape
    opaque = rows * cols == 0 or int(rgba[:, :, 3].min()) == 255
    channels = 3 if opaque else 4
    block_rows = max(1, (1 << 20) // max(cols, 1))
    block = np.zeros((block_rows, 1 + cols * channels), dtype=np.uint8)  # col 0: filter 0
    deflate = zlib.compressobj(level)
    idat = []
    for start in range(0, rows, block_rows):
        n = min(block_rows, rows - start)
        pixels = np.ascontiguousarray(rgba[start : start + n])
        if opaque:  # Pillow drops the alpha bytes several times faster than numpy's copy
            size = (cols, n)
            pixels = Image.frombuffer("RGBA", size, pixels, "raw", "RGBA", 0, 1).convert("RGB")
        block[:n, 1:] = np.asarray(pixels).reshape(n, -1)
        idat.append(deflate.compress(block[:n]))
    idat.append(deflate.flush())

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    per_metre = round(dpi / 0.0254)
    header = struct.pack(">IIBBBBB", cols, rows, 8, 2 if opaque else 6, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
            chunk(b"IDAT", b"".join(idat)),
            chunk(b"IEND", b""),
        )
    )


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
