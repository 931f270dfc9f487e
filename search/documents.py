"""The books index: analyzers, mapping, index names, and the document each book becomes.

One alias (``<prefix>books``) points at one concrete index (``<prefix>books-<timestamp>``);
searches and updates go through the alias, a rebuild fills a new index and swaps the
alias atomically (``search.services.search_index_rebuild``).

Analysis, field by field:

* ``title``: english stemming for recall; ``title.exact``
  (lower-cased, accent-folded keyword) and ``title_keys`` (``catalog.titles``: without the
  series parenthesis, subtitle or leading article) make an exact title rank first;
  ``title.autocomplete`` holds edge n-grams (1 to 20 letters of every word) for
  as-you-type matching.
* ``authors``: english analysis too (the cross-field query needs one analyzer across its
  fields), ``authors.autocomplete`` edge n-grams, ``authors.raw`` for the facet and filter.
* ``description``, ``subtitle``, ``tags``, ``category_names``: english stemming.
* ``any_text``: title, subtitle and authors unstemmed (``copy_to``); fuzzy matching runs
  there, since a typo compared against a stem misleads.
* ``spell``: title and authors (``copy_to``) with shingles, for the phrase suggester
  behind "did you mean".
* Synonyms are *not* in the analyzers: they are expanded in the query (``search.synonyms``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from opensearchpy import (
    Boolean,
    Date,
    Document,
    Float,
    Index,
    Integer,
    Keyword,
    ScaledFloat,
    Short,
    Text,
    analyzer,
    char_filter,
    normalizer,
    token_filter,
)

from catalog.models import Book, BookAuthor, Category
from catalog.titles import title_key, title_keys, title_parts

# --- Analysis -------------------------------------------------------------------------

# Edge n-grams of every word from the first letter up to 20; the search side cuts query
# words at 20 letters too, so a long word still matches its longest gram.
autocomplete_grams = token_filter("autocomplete_grams", "edge_ngram", min_gram=1, max_gram=20)
query_word_cut = token_filter("query_word_cut", "truncate", length=20)
english_stemmer = token_filter("english_stemmer", "stemmer", language="english")
english_possessive = token_filter("english_possessive", "stemmer", language="possessive_english")
english_stop = token_filter("english_stop", "stop", stopwords="_english_")
spell_shingles = token_filter("spell_shingles", "shingle", min_shingle_size=2, max_shingle_size=3)

# "A.B.C." and "J.K." read as "ABC" and "JK", as shoppers type them.
acronym_dots = char_filter("acronym_dots", "pattern_replace", pattern=r"(?<=\p{L})\.(?=\p{L})", replacement="")
# "L'Écume des jours", "dell'amore": the article before an apostrophe is not part of the word.
elided_articles = token_filter(
    "elided_articles",
    "elision",
    articles_case=True,
    articles=[
        "l",
        "d",
        "j",
        "m",
        "t",
        "s",
        "n",
        "c",
        "qu",
        "jusqu",
        "lorsqu",
        "puisqu",
        "dell",
        "dall",
        "nell",
        "sull",
        "all",
        "un",
    ],
)
FOLDING = ["lowercase", "asciifolding", elided_articles]

plain_text = analyzer("plain_text", tokenizer="standard", char_filter=[acronym_dots], filter=FOLDING)
english_text = analyzer(
    "english_text",
    tokenizer="standard",
    char_filter=[acronym_dots],
    filter=[english_possessive, *FOLDING, english_stop, english_stemmer],
)
autocomplete_index = analyzer(
    "autocomplete_index", tokenizer="standard", char_filter=[acronym_dots], filter=[*FOLDING, autocomplete_grams]
)
autocomplete_search = analyzer(
    "autocomplete_search", tokenizer="standard", char_filter=[acronym_dots], filter=[*FOLDING, query_word_cut]
)
spell_text = analyzer("spell_text", tokenizer="standard", char_filter=[acronym_dots], filter=[*FOLDING, spell_shingles])
lowercase_ascii = normalizer("lowercase_ascii", filter=["lowercase", "asciifolding"])


def _autocomplete_field() -> Text:
    return Text(analyzer=autocomplete_index, search_analyzer=autocomplete_search)


class BookDocument(Document):
    """The mapping of one book in the index (see the module docstring for the analyzers)."""

    id = Integer()
    isbn13 = Keyword()
    title = Text(
        analyzer=english_text,
        # Offsets in the postings let the highlighter skip re-analysing the text (3-4x faster).
        index_options="offsets",
        copy_to=["spell", "any_text"],
        fields={
            "exact": Keyword(normalizer=lowercase_ascii, ignore_above=300),
            "autocomplete": _autocomplete_field(),
        },
    )
    # The forms a shopper types for exactly this book (catalog.titles.title_keys): the exact-title rank.
    title_keys = Keyword(ignore_above=300)
    # The series named in the title and the volume (catalog.titles.title_parts); a query
    # that is the series' name lists it in reading order by series_order = 1 / (1 + volume).
    series = Keyword(ignore_above=300)  # catalog.titles.title_key of the series' name
    series_number = Float()
    series_order = Float()
    subtitle = Text(analyzer=english_text, copy_to="any_text")
    slug = Keyword(index=False, doc_values=False)
    authors = Text(
        analyzer=english_text,
        copy_to=["spell", "any_text"],
        # Global ordinals built at refresh, not by the first search after it.
        fields={"raw": Keyword(ignore_above=200, eager_global_ordinals=True), "autocomplete": _autocomplete_field()},
    )
    author_slugs = Keyword(index=False, doc_values=False)
    description = Text(analyzer=english_text, index_options="offsets")
    tags = Text(analyzer=english_text, fields={"raw": Keyword(ignore_above=80)})
    publisher = Text(analyzer=plain_text)
    category_path = Keyword()
    # The book's category and every ancestor: filtering on "fiction" finds the whole subtree.
    category_paths = Keyword(eager_global_ordinals=True)
    category_names = Text(analyzer=english_text)
    price = ScaledFloat(scaling_factor=100)
    currency = Keyword(index=False)
    average_rating = Float()
    ratings_count = Integer()
    popularity = Integer()
    language = Keyword(eager_global_ordinals=True)
    publication_date = Date()
    decade = Short()
    stock_on_hand = Integer()
    is_in_stock = Boolean()
    updated_at = Date()
    # Title, subtitle and authors as plain words in one field: typo-tolerant (fuzzy)
    # matching runs here, where a query's words may hit different fields and no stemmer
    # distorts the edit distance.
    any_text = Text(analyzer=plain_text)
    spell = Text(analyzer=spell_text)


# --- Names ----------------------------------------------------------------------------


def alias_name() -> str:
    """The alias every search and update goes through."""
    return f"{settings.SEARCH_INDEX_PREFIX}books"


def new_index_name() -> str:
    """A fresh concrete index name, sortable by creation time."""
    return f"{alias_name()}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"


def index_pattern() -> str:
    """Matches every concrete books index of this prefix (old, live and half-built)."""
    return f"{alias_name()}-*"


def book_index(name: str, *, building: bool = False) -> Index:
    """The index definition: settings, analyzers and the ``BookDocument`` mapping.

    ``building`` turns off refreshes and replicas, which roughly halves the time a
    bulk load takes; ``search_index_rebuild`` restores both before the alias swap.
    """
    index = Index(name)
    index.settings(
        number_of_shards=settings.SEARCH_INDEX_SHARDS,
        number_of_replicas=0 if building else settings.SEARCH_INDEX_REPLICAS,
        refresh_interval="-1" if building else "1s",
        # Deep pages are capped far below this (SEARCH_MAX_PAGE); the default is kept.
        max_result_window=10_000,
    )
    index.document(BookDocument)
    return index


# --- Documents ------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryInfo:
    path: str
    name_path: str


def category_infos() -> dict[int, CategoryInfo]:
    """Every category's path and readable path, by id (a few hundred rows at most)."""
    return {
        pk: CategoryInfo(path=path, name_path=name_path)
        for pk, path, name_path in Category.objects.values_list("id", "path", "name_path")
    }


def ancestor_paths(path: str) -> list[str]:
    """``fiction/fantasy/epic`` → ``["fiction", "fiction/fantasy", "fiction/fantasy/epic"]``."""
    parts = path.split("/")
    return ["/".join(parts[: index + 1]) for index in range(len(parts))]


_BOOK_COLUMNS = (
    "id",
    "isbn13",
    "title",
    "subtitle",
    "slug",
    "description",
    "publisher",
    "category_id",
    "price",
    "currency",
    "average_rating",
    "ratings_count",
    "popularity",
    "language",
    "publication_date",
    "updated_at",
    "inventory__stock_on_hand",
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def book_documents(book_ids: Iterable[int], *, categories: dict[int, CategoryInfo] | None = None) -> list[dict]:
    """The index documents of the books among ``book_ids`` that exist (three queries).

    Plain ``values()`` rows rather than model instances: a rebuild turns 100,000 books
    into documents, and building model objects would be the slowest step.
    """
    ids = list(book_ids)
    if not ids:
        return []
    categories = categories if categories is not None else category_infos()
    authors: dict[int, list[tuple[str, str]]] = {}
    for book_id, name, slug in (
        BookAuthor.objects.filter(book_id__in=ids)
        .order_by("book_id", "position")
        .values_list("book_id", "author__name", "author__slug")
    ):
        authors.setdefault(book_id, []).append((name, slug))
    tags: dict[int, list[str]] = {}
    for book_id, name in (
        Book.tags.through.objects.filter(book_id__in=ids).order_by("tag__name").values_list("book_id", "tag__name")
    ):
        tags.setdefault(book_id, []).append(name)
    documents = []
    for row in Book.objects.filter(pk__in=ids).order_by("pk").values(*_BOOK_COLUMNS):
        category = categories.get(row["category_id"]) if row["category_id"] else None
        book_authors = authors.get(row["id"], [])
        stock = row["inventory__stock_on_hand"] or 0
        published = row["publication_date"]
        parts = title_parts(row["title"])
        documents.append(
            {
                "id": row["id"],
                "isbn13": row["isbn13"],
                "title": row["title"],
                "title_keys": title_keys(row["title"]),
                "series": title_key(parts.series) or None,
                "series_number": parts.number,
                "series_order": 1 / (1 + parts.number) if parts.number is not None else None,
                "subtitle": row["subtitle"],
                "slug": row["slug"],
                "authors": [name for name, _ in book_authors],
                "author_slugs": [slug for _, slug in book_authors],
                "description": row["description"],
                "tags": tags.get(row["id"], []),
                "publisher": row["publisher"],
                "category_path": category.path if category else None,
                "category_paths": ancestor_paths(category.path) if category else [],
                "category_names": category.name_path if category else "",
                "price": float(row["price"]),
                "currency": row["currency"],
                "average_rating": float(row["average_rating"]),
                "ratings_count": row["ratings_count"],
                "popularity": row["popularity"],
                "language": row["language"],
                "publication_date": _iso(published),
                "decade": published.year // 10 * 10 if published else None,
                "stock_on_hand": stock,
                "is_in_stock": stock > 0,
                "updated_at": _iso(row["updated_at"]),
            }
        )
    return documents
