"""Tables the search app owns: staff-edited synonyms and the Postgres fallback's search rows.

The catalog's tables are never altered by search: what search needs on top of them lives
here, keyed by the book, and is kept true by the same sync that updates OpenSearch.
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models

from catalog.models import Book

# The longest term a synonym group may hold; a "term" is a word or a short phrase.
MAX_SYNONYM_TERM_LENGTH = 60


def normalize_term(text: str) -> str:
    """A term as synonyms compare it: lower case, single spaces, no surrounding punctuation."""
    words = (word.strip(".,;:!?\"'()[]{}") for word in text.lower().split())
    return " ".join(word for word in words if word)


class Synonym(models.Model):
    """A group of words or phrases customers use for the same thing: ``sci-fi, science fiction``.

    Staff edit these in the admin. Each group is *equivalent* (any term finds books that
    use any other), which is what shoppers expect of ``ya`` and ``young adult``. Searches
    expand them at query time (see ``search.synonyms``), so an edit needs no reindex.
    """

    terms = models.CharField(
        max_length=500,
        help_text="Comma-separated words or phrases that mean the same, e.g. “sci-fi, science fiction”.",
    )
    is_active = models.BooleanField("active", default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["terms"]

    def __str__(self) -> str:
        return self.terms

    @property
    def term_list(self) -> list[str]:
        """The group's distinct normalized terms, in the order staff wrote them."""
        seen: list[str] = []
        for raw in self.terms.split(","):
            term = normalize_term(raw)
            if term and term not in seen:
                seen.append(term)
        return seen

    def clean(self) -> None:
        terms = self.term_list
        if len(terms) < 2:
            raise ValidationError({"terms": "Give at least two different terms, separated by commas."})
        too_long = [term for term in terms if len(term) > MAX_SYNONYM_TERM_LENGTH]
        if too_long:
            raise ValidationError({"terms": f"Keep each term under {MAX_SYNONYM_TERM_LENGTH} characters."})
        if any(not re.search(r"\w", term) for term in terms):
            raise ValidationError({"terms": "Each term needs at least one letter or digit."})
        self.terms = ", ".join(terms)


class BookSearchDocument(models.Model):
    """What the Postgres fallback searches and counts, one narrow row per book.

    Why a table of our own rather than an expression index on ``catalog_book``: the
    weighted vector needs the book's *authors* (title A > subtitle and authors B >
    description, category and tags C), which live in other tables, and an index
    expression can only read its own row. A search-owned table also leaves the catalog's
    schema alone.

    * ``search_vector``: ``setweight(to_tsvector('cloudshelf_english', …))`` of the title (A),
      subtitle and authors (B), description, category path and tags (C); GIN-indexed.
    * ``search_text``: lower-cased title and authors; a pg_trgm GIN index on it serves
      typo-tolerant matching (``%>``, word similarity) and the "did you mean" title.
    * The rest copies what facets, filters and sorts need (price, rating, stock, category,
      language, dates, author names), so a fallback search reads this table alone: for a
      common word, joining the catalog's wide rows cost more than the search itself.
      Like the OpenSearch document, the copy is at most one sync (about a second) behind;
      the cards on the page always show live prices and stock.

    Rows are written with one set-based SQL statement by ``search.services`` (the same
    sync that updates OpenSearch) and by ``manage.py search_index --rebuild``. Both
    indexes are created by a Postgres-only migration step; on SQLite (the embedded
    default) the table exists but stays empty, and the fallback queries the catalog
    directly with ``icontains``.
    """

    book = models.OneToOneField(Book, primary_key=True, on_delete=models.CASCADE, related_name="search_document")
    search_vector = SearchVectorField(null=True)
    search_text = models.TextField(default="")
    title = models.CharField(max_length=300, default="")
    isbn13 = models.CharField(max_length=13, default="")
    category_id = models.BigIntegerField(null=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    average_rating = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    ratings_count = models.PositiveIntegerField(default=0)
    popularity = models.PositiveIntegerField(default=0)
    language = models.CharField(max_length=8, default="")
    publication_date = models.DateField(null=True)
    publication_sort_date = models.DateField(null=True)
    is_in_stock = models.BooleanField(default=False)
    author_names = models.JSONField(default=list)
    # What ranks a book for "exactly this title" and a series' first volume first
    # (``catalog.titles``; computed in SQL by ``cloudshelf_title_key``).
    title_keys = models.JSONField(default=list)
    series = models.CharField(max_length=300, default="")
    series_number = models.FloatField(null=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"search row of book {self.book_id}"
