"""Marks of one search put into the cached book cards of its results page."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from search.results import SearchHit, card_with_highlighted_title

register = template.Library()


@register.filter
def with_highlighted_title(card: SafeString, hit: SearchHit) -> SafeString:
    """``{{ card|with_highlighted_title:hit }}``: the card with the hit's matched title words in ``<mark>``."""
    return card_with_highlighted_title(card, hit.book.title, hit.title_html)
