"""Text colours of static/css/site.css against the backgrounds they sit on (WCAG AA: 4.5:1).

Lighthouse (``make lighthouse``) checks the rendered pages; these pin the colours of states
a page may not show when it runs, such as a pagination's disabled "Previous" on page one.
"""

import re
from pathlib import Path

import pytest

SITE_CSS = Path(__file__).resolve().parents[1] / "static" / "css" / "site.css"


def css_rule_bodies(selector: str) -> list[str]:
    """The declarations of every rule for exactly ``selector``, in file order (inside @media too)."""
    text = re.sub(r"/\*.*?\*/", "", SITE_CSS.read_text(), flags=re.DOTALL)
    return [body for found, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text) if " ".join(found.split()) == selector]


def css_rules() -> dict[str, str]:
    """Each rule's selector list (as written, whitespace collapsed) -> the declarations of its first rule."""
    text = re.sub(r"/\*.*?\*/", "", SITE_CSS.read_text(), flags=re.DOTALL)
    rules: dict[str, str] = {}
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        rules.setdefault(" ".join(selector.split()), body)
    return rules


def custom_property(name: str) -> str:
    return re.search(rf"{re.escape(name)}:\s*(#[0-9a-fA-F]{{6}})", css_rules()[":root"]).group(1)


def declared_colour(selector: str) -> str:
    value = re.search(r"(?:^|;)\s*color:\s*([^;]+);", css_rules()[selector]).group(1).strip()
    variable = re.fullmatch(r"var\((--[\w-]+)\)", value)
    return custom_property(variable.group(1)) if variable else value


def relative_luminance(colour: str) -> float:
    if len(colour) == 4:  # #fff -> #ffffff
        colour = "#" + "".join(digit * 2 for digit in colour[1:])
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_contrast_formula_matches_wcag():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#d3ccbe", "#fbfaf7") == pytest.approx(1.52, abs=0.01)  # the figure


@pytest.mark.parametrize("background", ["--paper", "--surface"])
def test_a_disabled_pagination_step_is_readable(background):
    # Every listing (books, category, author, search) draws the same pagination.
    assert contrast(declared_colour(".pagination__disabled"), custom_property(background)) >= 4.5


@pytest.mark.parametrize("background", ["--paper", "--surface"])
def test_the_accent_is_readable_as_small_text(background):
    # The eyebrow above an author's or a category's name is 12.8px bold: small text, 4.5:1.
    assert contrast(declared_colour(".eyebrow"), custom_property(background)) >= 4.5


def test_the_cart_count_is_readable_on_the_accent():
    assert contrast(declared_colour(".cart-link__count"), custom_property("--accent")) >= 4.5


def test_an_error_pages_big_status_code_is_readable_as_large_text():
    # 96px bold: large text, 3:1 (axe checks it even though it is aria-hidden).
    assert contrast(declared_colour(".error-page__code"), custom_property("--paper")) >= 3
