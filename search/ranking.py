"""How a search ranks books, in numbers both backends share (OpenSearch and the Postgres fallback).

A book's score is its *match tier* times its *popularity prior*::

    score = tier x (1 + POPULARITY_WEIGHT x log10(1 + ratings_count) + FIRST_VOLUME_BONUS if volume 1)

The tier says how the words matched, and a better tier always beats a worse one by more
than the prior can make up, except between neighbouring tiers where a book read by
millions may pass an obscure one (see ``docs/search.md``, "Ranking"):

======================  =====  ====================================================
tier                    value  the query's words …
======================  =====  ====================================================
``ISBN``                1000   are the book's ISBN (with or without hyphens, or ISBN-10)
``EXACT_TITLE``          100   are the title, give or take case, punctuation, a leading
                               article, the series parenthesis or the subtitle
``AUTHOR``                20   all appear in one of the book's authors' names
``TITLE_PHRASE``          14   appear in the title in that order
``TITLE_WORDS``           11   all appear in the title
``CORE_WORDS``             5   all appear across title, subtitle and authors
``ANY_FIELD``              1   all appear somewhere, the description or tags included
======================  =====  ====================================================

Why tiers rather than BM25's text score: BM25 rewards short fields and repeated words,
so among an author's books the one with the shortest author list won, and a book
*about* Orwell whose description says "Orwell" five times came near his novels. Inside
a tier every book matches equally well, and the prior (how many readers rated it; the
real Goodreads counts for imported books, plus CloudShelf's own reviews) decides: 1984
before Keep the Aspidistra Flying. The prior is log-scaled because demand is: a book
rated by 2.8 million is not 28 times likelier wanted than one rated by 100,000, and it
is bounded (x 1 for an unrated book to about x 2.05 at 10 million ratings), so it orders
books within a tier and cannot carry a loose match over a precise one.

Typo-tolerant and partial-word matches (the retry when the words as typed find nothing)
keep the engine's own similarity score, times the same prior.
"""

from __future__ import annotations

import math

from catalog.titles import title_key

ISBN = 1000.0
EXACT_TITLE = 100.0
AUTHOR = 20.0
TITLE_PHRASE = 14.0
TITLE_WORDS = 11.0
CORE_WORDS = 5.0
ANY_FIELD = 1.0

# The prior: 1 + 0.15 x log10(1 + ratings): x 1.45 at 1,000 ratings, x 1.75 at 100,000,
# x 1.97 at 2.8 million.
POPULARITY_WEIGHT = 0.15
# Added to the prior of a series' first volume: where nothing else separates volumes,
# shoppers start a series at #1.
FIRST_VOLUME_BONUS = 0.1


def prior(ratings_count: int, series_number: float | None = None) -> float:
    """The popularity prior of a book (the same formula the backends compute in their queries)."""
    bonus = FIRST_VOLUME_BONUS if series_number == 1 else 0.0
    return 1 + POPULARITY_WEIGHT * math.log10(1 + max(ratings_count, 0)) + bonus


def query_title_key(query: str) -> str:
    """The key a query is compared with ``title_keys`` under (``catalog.titles.title_key``)."""
    return title_key(query)
