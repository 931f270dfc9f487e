"""How a search ranks books, in numbers both backends share (OpenSearch and the Postgres fallback).

A book's score is its *match tier* times its *popularity prior*::

    score = tier x (1 + POPULARITY_WEIGHT x log10(1 + ratings_count)
                      + SERIES_ORDER_WEIGHT / (1 + volume)   when the query is the book's series' name)

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
``AUTHOR_TITLE``          16   are some of an author's name and the rest of the title
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

A query that is a series' name ("discworld", "hercule poirot", "the hunger games"; compared
as title keys, so "connelly" is not the Harper Connelly series) lists it in reading order: the
series term outweighs popularity (volume 1 adds 1.0 to the prior, volume 2 0.67, volume
13 0.14), since a shopper asking for the series starts at its first volume. A query
that is not the series' name gets no such term: an author's most-read book comes first
even when it is volume 4.

Typo-tolerant and partial-word matches (the retry when the words as typed find nothing)
have tiers of their own, below every exact one: an author's name with one typo per word
(``FUZZY_AUTHOR``) above a title with one typo per word (``FUZZY_TITLE``) above words
with up to two typos anywhere in title and authors (``FUZZY_ANY``) above unfinished
words (``PARTIAL``).
"""

from __future__ import annotations

import math

from catalog.titles import title_key

ISBN = 1000.0
EXACT_TITLE = 100.0
AUTHOR = 20.0
AUTHOR_TITLE = 16.0
TITLE_PHRASE = 14.0
TITLE_WORDS = 11.0
CORE_WORDS = 5.0
ANY_FIELD = 1.0
FUZZY_AUTHOR = 6.0
FUZZY_TITLE = 5.0
FUZZY_ANY = 4.0
PARTIAL = 2.0

# The prior: 1 + 0.15 x log10(1 + ratings): x 1.45 at 1,000 ratings, x 1.75 at 100,000,
# x 1.97 at 2.8 million.
POPULARITY_WEIGHT = 0.15
# Added to the prior when the query is the book's series' name: SERIES_ORDER_WEIGHT / (1 + volume).
SERIES_ORDER_WEIGHT = 2.0

# Part of every kept answer's cache key: bump when a change reorders results.
RANKING_VERSION = 4


def prior(ratings_count: int, *, series_volume: float | None = None) -> float:
    """The popularity prior of a book; ``series_volume`` when the query is its series' name."""
    series = SERIES_ORDER_WEIGHT / (1 + series_volume) if series_volume is not None else 0.0
    return 1 + POPULARITY_WEIGHT * math.log10(1 + max(ratings_count, 0)) + series


def query_title_key(query: str) -> str:
    """The key a query is compared with ``title_keys`` under (``catalog.titles.title_key``)."""
    return title_key(query)
