"""Generated covers (catalog.covers) and the formatting tags used on every page."""

from decimal import Decimal

import pytest

from catalog.covers import cover_palette, cover_svg
from catalog.markup import money, rating_label


def test_cover_escapes_hostile_titles_and_authors():
    svg = cover_svg(isbn13="9780306406157", title='<b>Tags</b> & "Quotes"', author="O'Brien <script>")

    assert "<b>" not in svg
    assert "<script>" not in svg
    assert "&lt;b&gt;Tags&lt;/b&gt;" in svg
    assert "&amp;" in svg
    label = "Cover of &lt;b&gt;Tags&lt;/b&gt; &amp; &quot;Quotes&quot; by O&#x27;Brien &lt;script&gt;"
    assert f'aria-label="{label}"' in svg


def test_cover_is_an_accessible_inline_image():
    svg = cover_svg(isbn13="9780306406157", title="Dune", author="Frank Herbert")

    assert svg.startswith('<svg class="cover" viewBox="0 0 200 300" role="img"')
    assert 'aria-label="Cover of Dune by Frank Herbert"' in svg


def test_long_titles_wrap_and_are_cut_with_an_ellipsis():
    svg = cover_svg(isbn13="9780306406157", title="word " * 60, author="")

    assert svg.count("<tspan") == 5
    assert "…" in svg


def test_cover_colour_is_stable_per_isbn_and_varies_between_isbns():
    assert cover_palette("9780306406157") == cover_palette("9780306406157")
    assert len({cover_palette(f"978000000{n:03d}9").background for n in range(40)}) > 20


def test_cover_text_meets_wcag_aa_contrast_for_every_colour():
    palettes = [cover_palette(f"978{n:09d}") for n in range(2000)]

    assert min(palette.text_contrast for palette in palettes) >= 4.5
    assert len({palette.background.split()[0] for palette in palettes}) > 300  # hues stay varied


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("9.99"), "EUR", "€9.99"),
        (Decimal("12"), "GBP", "£12.00"),
        (Decimal("1200"), "JPY", "¥1,200"),
        (Decimal("12"), "CHF", "12.00\u00a0CHF"),
    ],
)
def test_money_formats_prices_with_their_currency(amount, currency, expected):
    assert money(amount, currency) == expected


def test_rating_label_reads_as_a_sentence():
    assert rating_label(Decimal("4.26"), 1204) == "Rated 4.3 out of 5 from 1,204 ratings"
    assert rating_label(Decimal("5"), 1) == "Rated 5.0 out of 5 from 1 rating"
    assert rating_label(Decimal("0"), 0) == "No ratings yet"
