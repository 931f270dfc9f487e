"""Generated covers for books that have no cover image.

Most imported books arrive without artwork, and a grid of grey boxes makes a shop look
broken. Instead each such book gets a typographic cover: its title and lead author on a
background colour derived from the ISBN, so a book always keeps the same colour and
neighbouring books rarely share one.

The cover is returned as **inline SVG markup** rather than a ``data:`` URI or a URL of a
cover-rendering view:

* a browse page shows 24 cards; a URL per cover would cost 24 extra requests (and 24
  extra Django responses) per page view, and ``data:`` URIs of SVG must be
  percent-encoded or base64-encoded, which makes them about a third bigger;
* inline SVG uses the page's own web font, and its text scales crisply at any size;
* ``role="img"`` with an ``aria-label`` gives screen readers one short description
  instead of reading every text fragment of the drawing.

Every piece of text is HTML-escaped, so titles like ``<Tags> & "Quotes"`` are safe.
"""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# The SVG coordinate system: a 2:3 book-cover rectangle, scaled by CSS.
WIDTH = 200
HEIGHT = 300

# WCAG 2 AA for normal-size text: the author line on a cover is small.
MIN_TEXT_CONTRAST = 4.5
_TEXT_COLOUR = "#fbf8f1"
_TEXT_RGB = (0xFB / 255, 0xF8 / 255, 0xF1 / 255)
_TITLE_MAX_LINES = 5
_AUTHOR_MAX_LINES = 2


@dataclass(frozen=True)
class CoverPalette:
    """Colours of one generated cover, as CSS colour strings."""

    background: str
    accent: str
    text: str
    text_contrast: float


def _hsl_to_rgb(hue: float, saturation: float, lightness: float) -> tuple[float, float, float]:
    """HSL (degrees, 0 to 1, 0 to 1) to RGB in 0 to 1, per the CSS Color 4 algorithm."""

    def channel(n: int) -> float:
        k = (n + hue / 30) % 12
        a = saturation * min(lightness, 1 - lightness)
        return lightness - a * max(-1, min(k - 3, 9 - k, 1))

    return channel(0), channel(8), channel(4)


def _relative_luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(c) for c in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(luminance_a: float, luminance_b: float) -> float:
    """WCAG contrast ratio between two relative luminances (1 to 21)."""
    lighter, darker = max(luminance_a, luminance_b), min(luminance_a, luminance_b)
    return (lighter + 0.05) / (darker + 0.05)


def cover_palette(isbn13: str) -> CoverPalette:
    """Pick the cover colours for an ISBN: the same ISBN always gives the same colours.

    The hue comes from a hash of the ISBN (consecutive ISBNs of a series still get
    unrelated colours). Saturation and lightness vary a little within a muted, dark-ish
    band. The text is near-white, and the background is darkened until the pair meets
    the WCAG AA contrast ratio of 4.5: yellows and greens are much brighter than blues
    at the same HSL lightness, so a fixed lightness would leave some titles unreadable.
    """
    digest = hashlib.sha256(isbn13.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    lightness = 0.28 + (digest[2] % 12) / 100  # 28 to 39%
    saturation = 0.28 + (digest[3] % 18) / 100  # 28 to 45%
    text_luminance = _relative_luminance(_TEXT_RGB)
    contrast = contrast_ratio(_relative_luminance(_hsl_to_rgb(hue, saturation, lightness)), text_luminance)
    while contrast < MIN_TEXT_CONTRAST:
        lightness -= 0.01
        contrast = contrast_ratio(_relative_luminance(_hsl_to_rgb(hue, saturation, lightness)), text_luminance)
    background = f"hsl({hue} {saturation * 100:.0f}% {lightness * 100:.0f}%)"
    accent = f"hsl({(hue + 35) % 360} {min(saturation + 0.3, 0.9) * 100:.0f}% {min(lightness + 0.3, 0.8) * 100:.0f}%)"
    return CoverPalette(background=background, accent=accent, text=_TEXT_COLOUR, text_contrast=contrast)


def _wrap(text: str, *, width: int, max_lines: int) -> list[str]:
    """Wrap ``text`` to lines of about ``width`` characters, ending with … when cut short."""
    lines = textwrap.wrap(" ".join(text.split()), width=width, break_long_words=True, break_on_hyphens=True)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(width - 1, 1)].rstrip() + "…"
    return lines


def _title_layout(title: str) -> tuple[list[str], int]:
    """Wrapped title lines and a font size: short titles are set large, long ones smaller."""
    length = len(title)
    if length <= 14:
        font_size, width = 26, 12
    elif length <= 40:
        font_size, width = 21, 15
    else:
        font_size, width = 17, 19
    return _wrap(title, width=width, max_lines=_TITLE_MAX_LINES) or ["Untitled"], font_size


def cover_svg(*, isbn13: str, title: str, author: str = "", css_class: str = "cover") -> SafeString:
    """Inline SVG markup for a generated cover of the book (escaped, safe to render).

    ``author`` is the lead author's name (blank for anonymous works).
    """
    palette = cover_palette(isbn13)
    title_lines, title_size = _title_layout(title)
    author_lines = _wrap(author, width=22, max_lines=_AUTHOR_MAX_LINES) if author else []
    line_height = round(title_size * 1.18)
    label = f"Cover of {title}" + (f" by {author}" if author else "")

    title_spans = "".join(
        f'<tspan x="24" dy="{0 if index == 0 else line_height}">{escape(line)}</tspan>'
        for index, line in enumerate(title_lines)
    )
    author_spans = "".join(
        f'<tspan x="24" dy="{0 if index == 0 else 17}">{escape(line)}</tspan>'
        for index, line in enumerate(author_lines)
    )
    author_top = HEIGHT - 36 - 17 * (len(author_lines) - 1)
    # Safe: every string interpolated below is escaped or generated here.
    return mark_safe(
        f'<svg class="{escape(css_class)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid slice">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{palette.background}"/>'
        f'<rect x="0" y="0" width="9" height="{HEIGHT}" fill="#000" opacity=".18"/>'
        f'<rect x="24" y="34" width="36" height="4" rx="2" fill="{palette.accent}"/>'
        f'<text x="24" y="{60 + title_size}" fill="{palette.text}" font-family="Georgia, \'Times New Roman\', serif" '
        f'font-size="{title_size}" font-weight="700">{title_spans}</text>'
        f'<rect x="24" y="{author_top - 30}" width="{WIDTH - 48}" height="1" fill="{palette.text}" opacity=".35"/>'
        f'<text x="24" y="{author_top}" fill="{palette.text}" font-family="system-ui, sans-serif" font-size="13" '
        f'letter-spacing=".06em" opacity=".9">{author_spans}</text>'
        "</svg>"
    )
