"""The OpenSearch backend: searches, facets, "did you mean" and autocomplete from the index.

Relevance (``search.ranking``): each book's best *match tier* (ISBN, exact title, author's
name, title phrase, title words, title+subtitle+authors together, anywhere), a
``dis_max`` of constant scores, times a *popularity prior* from its rating count
(``function_score``), so the tier decides first and the most-read book within a tier wins.

Typos and partial words: only when that finds nothing, the search runs again with
fuzziness ``AUTO:4,7`` on title, subtitle and authors (no edits below 4 letters, one up to
6, two from 7) and with edge n-grams for unfinished words (``quantum phys``). Doing both
from the start would pad every result list with look-alikes ("dune" → "done", "dine"),
inflate the counts shoppers see, and cost three times the CPU per search.

One request per results page: hits and facets together, the facets counted over a
bounded sample of the best matches (``sampler``), so a search costs about the same
however many books match; the typo retry and "did you mean" only when the words as typed
match nothing. Facets see the query without the facet filters (those are the hits'
``post_filter``); each facet's aggregation applies every *other* facet's filter.

A failure raises ``opensearchpy.exceptions.TransportError``; ``search.engine`` decides
what that means for the circuit breaker and answers from a database backend instead.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.urls import reverse
from opensearchpy import A, Q, Search
from opensearchpy.exceptions import TransportError
from opensearchpy.helpers.aggs import Agg
from opensearchpy.helpers.query import Query

from catalog.selectors.pages import books_in_order
from search import ranking, result_cache
from search.client import search_client
from search.documents import alias_name
from search.facets import FacetCounts, build_facets, category_facet_paths
from search.params import (
    FACET_NAMES,
    PRICE_RANGES,
    PRICE_RANGES_BY_KEY,
    RATING_THRESHOLDS,
    SearchFilters,
    SearchSpec,
    page_info,
)
from search.result_cache import FoundBooks, FoundHit
from search.results import (
    MARK_END,
    MARK_START,
    SNIPPET_LENGTH,
    AuthorSuggestion,
    AutocompleteResult,
    SearchHit,
    SearchResult,
    TitleSuggestion,
    highlight,
    highlight_words,
    safe_highlight,
    snippet,
    strip_marks,
)

# Fuzziness for words of 4+ letters: none below 4, one edit up to 6, two from 7.
FUZZINESS = "AUTO:4,7"
# At most one edit, from 4 letters: a misspelt author or title ranks above a twice-misspelt look-alike.
ONE_TYPO = "AUTO:4,100"
TEXT_FIELDS = ["title", "subtitle", "authors", "tags", "category_names", "description"]
# The fields that name the book itself (the CORE_WORDS tier), and its title and authors alone.
CORE_FIELDS = ["title", "subtitle", "authors"]
NAMING_FIELDS = ["title", "authors"]
PARTIAL_FIELDS = ["title.autocomplete^1.5", "authors.autocomplete"]


# --- The interface (search.backends.base.SearchBackend) ----------------------------------


def search(spec: SearchSpec) -> SearchResult:
    """One page of hits for ``spec`` with facets, highlights and "did you mean" (see the module docstring).

    The matching ids and facet counts are shared between processes until the index next
    changes (``search.result_cache``); the cards are read from Postgres, so prices and
    stock are live.
    """
    found = result_cache.found_books(spec, lambda: _find(spec))
    page = page_info(spec, found.total)
    books = {book.pk: book for book in books_in_order([hit.book_id for hit in found.hits])}
    words = highlight_words(spec.variants)
    hits = []
    for found_hit in found.hits:
        book = books.get(found_hit.book_id)
        if book is None:
            continue  # deleted since it was indexed; the sync removes it shortly
        if found_hit.title_marked is None and found_hit.description_marked is None:
            # Strict matches are highlighted here (see search.results); so is a fuzzy hit
            # that OpenSearch returned without highlights.
            hits.append(
                SearchHit(
                    book=book, title_html=highlight(book.title, words), snippet_html=snippet(book.description, words)
                )
            )
            continue
        title = found_hit.title_marked or book.title
        hits.append(
            SearchHit(
                book=book,
                title_html=safe_highlight(title),
                snippet_html=safe_highlight(found_hit.description_marked or ""),
            )
        )
    return SearchResult(
        query=spec.query,
        filters=spec.filters,
        sort=spec.sort,
        hits=hits,
        page=page,
        facets=build_facets(found.facet_counts, spec.filters) if spec.with_facets else [],
        backend="opensearch",
        suggestion=found.suggestion,
    )


def _find(spec: SearchSpec) -> FoundBooks:
    """Ask OpenSearch which books match ``spec`` (retrying for typos when none do) and how many per facet.

    One request when the words match (hits and facets together); when they match nothing,
    a second with typo tolerance that also asks the phrase suggester for "did you mean",
    and only if that too finds nothing, one ``_msearch`` checking the suggestions.
    """
    response = _run_search(spec, fuzzy=False)
    if _matched(response) == 0 and spec.query:
        # No book has every word: try again allowing typos and partial words.
        response = _run_search(spec, fuzzy=True, suggest=True)
    suggestion = _did_you_mean(spec, response) if _matched(response) == 0 and spec.query else None
    hits = []
    for hit in response["hits"]["hits"]:
        marked = hit.get("highlight") or {}
        title = marked.get("title") or marked.get("title.autocomplete")
        description = marked.get("description")
        hits.append(
            FoundHit(
                book_id=int(hit["_id"]),
                title_marked=title[0] if title else None,
                description_marked=description[0] if description else None,
            )
        )
    return FoundBooks(
        total=response["hits"]["total"]["value"],
        hits=hits,
        facet_counts=_facet_counts(response.get("aggregations", {}), spec.filters, matched=_matched(response)),
        suggestion=suggestion,
    )


def _matched(response: dict[str, Any]) -> int:
    """How many books the words match before any facet filter (the ``matched`` aggregation)."""
    return int(response.get("aggregations", {}).get("matched", {}).get("doc_count", 0))


# --- OpenSearch: the query --------------------------------------------------------------


def _text_query(spec: SearchSpec, *, fuzzy: bool) -> Query:
    """The scoring query for ``spec``: match tier times popularity prior (``search.ranking``)."""
    if not spec.query:
        # Browsing without words: the score is the prior alone, so the facet sample
        # (_add_facets) holds the most read books.
        return Q(
            "function_score",
            query=Q("match_all"),
            functions=_prior_functions(),
            score_mode="sum",
            boost_mode="replace",
        )
    return Q(
        "function_score",
        query=_tiered_query(spec, fuzzy=fuzzy),
        functions=_prior_functions(spec.query),
        score_mode="sum",
        boost_mode="multiply",
    )


def _prior_functions(query: str = "") -> list[dict[str, Any]]:
    """The prior as summed functions: ``1 + POPULARITY_WEIGHT x log10(1 + ratings_count)``.

    With a ``query`` that is a series' name ("discworld", "the hunger games"), plus
    ``SERIES_ORDER_WEIGHT x series_order`` for that series' books: reading order.
    """
    functions: list[dict[str, Any]] = [
        {"weight": 1},
        {
            "field_value_factor": {"field": "ratings_count", "modifier": "log1p", "missing": 0},
            "weight": ranking.POPULARITY_WEIGHT,
        },
    ]
    series = ranking.query_title_key(query) if query else ""
    if series:
        functions.append(
            {
                "filter": Q("term", series=series).to_dict(),
                "field_value_factor": {"field": "series_order", "missing": 0},
                "weight": ranking.SERIES_ORDER_WEIGHT,
            }
        )
    return functions


def _tier(query: Query, value: float) -> Query:
    return Q("constant_score", filter=query, boost=value)


def _tiered_query(spec: SearchSpec, *, fuzzy: bool) -> Query:
    """The best tier each book reaches (``dis_max`` of constant scores; see ``search.ranking``)."""
    tiers = []
    for variant in spec.variants:
        tiers += [
            _tier(Q("match", authors={"query": variant, "operator": "and"}), ranking.AUTHOR),
            _tier(
                Q(
                    "bool",
                    must=[Q("multi_match", query=variant, type="cross_fields", operator="and", fields=NAMING_FIELDS)],
                    filter=[Q("match", authors=variant), Q("match", title=variant)],
                ),
                ranking.AUTHOR_TITLE,
            ),
            _tier(Q("match_phrase", title={"query": variant, "slop": 1}), ranking.TITLE_PHRASE),
            _tier(Q("match", title={"query": variant, "operator": "and"}), ranking.TITLE_WORDS),
            _tier(
                Q("multi_match", query=variant, type="cross_fields", operator="and", fields=CORE_FIELDS),
                ranking.CORE_WORDS,
            ),
            _tier(
                Q("multi_match", query=variant, type="cross_fields", operator="and", fields=TEXT_FIELDS),
                ranking.ANY_FIELD,
            ),
        ]
    key = ranking.query_title_key(spec.query)
    if key:
        tiers.append(_tier(Q("term", title_keys=key), ranking.EXACT_TITLE))
    if spec.isbn:
        tiers.append(_tier(Q("term", isbn13=spec.isbn), ranking.ISBN))
    if fuzzy:
        tiers += [
            _tier(Q("match", authors=_fuzzy(spec.query, ONE_TYPO)), ranking.FUZZY_AUTHOR),
            _tier(Q("match", title=_fuzzy(spec.query, ONE_TYPO)), ranking.FUZZY_TITLE),
            _tier(Q("match", any_text=_fuzzy(spec.query, FUZZINESS)), ranking.FUZZY_ANY),
            _tier(_partial_words(spec.query), ranking.PARTIAL),
        ]
    return Q("dis_max", queries=tiers, tie_breaker=0)


def _fuzzy(text: str, fuzziness: str) -> dict[str, Any]:
    """A match on every word of ``text``, each forgiven the typos ``fuzziness`` allows."""
    return {"query": text, "fuzziness": fuzziness, "prefix_length": 1, "max_expansions": 20, "operator": "and"}


def _partial_words(text: str) -> Query:
    """Every word of ``text`` starts a word of the title or an author's name (edge n-grams)."""
    return Q("multi_match", query=text, type="cross_fields", operator="and", fields=PARTIAL_FIELDS)


def _filter_clauses(filters: SearchFilters, *, without: str | None = None) -> list[Query]:
    """One filter per active facet, except the facet named ``without``."""
    clauses = []
    if filters.category and without != "category":
        clauses.append(Q("term", category_paths=filters.category))
    if filters.authors and without != "author":
        clauses.append(Q("terms", **{"authors.raw": list(filters.authors)}))
    if filters.prices and without != "price":
        ranges = []
        for key in filters.prices:
            bounds = PRICE_RANGES_BY_KEY[key]
            limits = {"gte": float(bounds.low)} if bounds.low is not None else {}
            if bounds.high is not None:
                limits["lt"] = float(bounds.high)
            ranges.append(Q("range", price=limits))
        clauses.append(Q("bool", should=ranges, minimum_should_match=1))
    if filters.min_rating and without != "rating":
        clauses.append(Q("range", average_rating={"gte": filters.min_rating}))
    if filters.in_stock and without != "in_stock":
        clauses.append(Q("term", is_in_stock=True))
    if filters.languages and without != "language":
        clauses.append(Q("terms", language=list(filters.languages)))
    if filters.decades and without != "decade":
        clauses.append(Q("terms", decade=list(filters.decades)))
    return clauses


def _facet_aggregation(name: str, filters: SearchFilters) -> Agg:
    if name == "category":
        paths = category_facet_paths(filters.category)
        return A("terms", field="category_paths", include=paths, size=max(len(paths), 1))
    if name == "author":
        aggregation = A("terms", field="authors.raw", size=10)
        if filters.authors:
            # Selected authors keep a count even when they are not among the ten biggest.
            aggregation.bucket("selected", "filter", Q("terms", **{"authors.raw": list(filters.authors)}))
        return aggregation
    if name == "price":
        ranges = []
        for price_range in PRICE_RANGES:
            bounds: dict[str, Any] = {"key": price_range.key}
            if price_range.low is not None:
                bounds["from"] = float(price_range.low)
            if price_range.high is not None:
                bounds["to"] = float(price_range.high)
            ranges.append(bounds)
        return A("range", field="price", ranges=ranges)
    if name == "rating":
        return A("range", field="average_rating", ranges=[{"key": str(t), "from": t} for t in RATING_THRESHOLDS])
    if name == "in_stock":
        return A("filter", Q("term", is_in_stock=True))
    if name == "language":
        return A("terms", field="language", size=30)
    return A("terms", field="decade", size=30)


def _hits_search(spec: SearchSpec, *, fuzzy: bool) -> Search:
    """The page of hits: the scoring query, every filter (``post_filter``), sort, highlights."""
    search = Search(index=alias_name()).query(_text_query(spec, fuzzy=fuzzy))
    post_filters = _filter_clauses(spec.filters)
    if post_filters:
        search = search.post_filter(Q("bool", filter=post_filters))
    search = search.sort(*_sort_clauses(spec))
    search = search.extra(from_=spec.offset, size=spec.page_size, track_total_hits=True)
    search = search.source(False)
    if spec.query and fuzzy:
        # A typo-tolerant or partial match: only OpenSearch knows which words matched.
        # (Strict matches are highlighted in Python, see search.results.)
        search = search.highlight_options(
            pre_tags=[MARK_START], post_tags=[MARK_END], require_field_match=False, encoder="default"
        )
        search = search.highlight("title", number_of_fragments=0)
        search = search.highlight("title.autocomplete", number_of_fragments=0)
        search = search.highlight("description", fragment_size=SNIPPET_LENGTH, number_of_fragments=1)
    return search


def _add_facets(search: Search, spec: SearchSpec) -> Search:
    """Facet counts in the same request as the hits, over a bounded sample of the best matches.

    The aggregations see the query without the facet filters (those are the hits'
    ``post_filter``); one filter bucket per group of facets applies the *other* facets'
    filters. They count within a ``sampler``: the ``SEARCH_FACET_SAMPLE`` best-scoring
    matches per shard, so a word matching half the catalog costs what a rare one does
    (counting, not matching, is what grows with the matches). Past the sample the counts
    are estimates, scaled up and marked so (``FacetCounts.approximate``). ``matched``
    counts every match before any filter: a search the filters alone empty is not
    retried for typos and gets no "did you mean".
    """
    search.aggs.bucket("matched", "filter", Q("match_all"))
    if not spec.with_facets:
        return search  # the feature "facet_counts" is off: only ``matched``, for "did you mean"
    sample = search.aggs.bucket("sample", "sampler", shard_size=settings.SEARCH_FACET_SAMPLE)
    active = {name for name, _ in spec.filters.active()}
    # Facets whose own filter is off all see every filter: one bucket serves them all.
    shared = [name for name in FACET_NAMES if name not in active]
    groups = [("all", shared, _filter_clauses(spec.filters))] + [
        (name, [name], _filter_clauses(spec.filters, without=name)) for name in FACET_NAMES if name in active
    ]
    for group, names, clauses in groups:
        if not names:
            continue
        bucket = sample.bucket(f"f_{group}", "filter", Q("bool", filter=clauses) if clauses else Q("match_all"))
        for name in names:
            bucket.bucket(name, _facet_aggregation(name, spec.filters))
    return search


def _run_search(spec: SearchSpec, *, fuzzy: bool, suggest: bool = False) -> dict[str, Any]:
    """Hits, facets and (``suggest``) the "did you mean" candidates in one request."""
    search = _add_facets(_hits_search(spec, fuzzy=fuzzy), spec)
    body = search.to_dict()
    if suggest:
        body["suggest"] = _suggester(spec.query)
    return search_client().search(index=alias_name(), body=body)


def _sort_clauses(spec: SearchSpec) -> list[Any]:
    key = spec.sort.key
    if key == "price":
        return [{"price": "asc"}, {"id": "asc"}]
    if key == "price-desc":
        return [{"price": "desc"}, {"id": "desc"}]
    if key == "rating":
        return [{"average_rating": "desc"}, {"ratings_count": "desc"}, {"id": "asc"}]
    if key == "newest":
        return [{"publication_date": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
    if not spec.query:
        return [{"popularity": "desc"}, {"id": "asc"}]
    return ["_score", {"ratings_count": "desc"}, {"id": "asc"}]


def _facet_counts(aggregations: dict[str, Any], filters: SearchFilters, *, matched: int) -> FacetCounts:
    sample = aggregations.get("sample", {})
    found: dict[str, Any] = {}
    for key, bucket in sample.items():
        if key.startswith("f_"):
            found.update({name: value for name, value in bucket.items() if name in FACET_NAMES})
    counts = FacetCounts()
    if "category" in found:
        counts.category = {b["key"]: b["doc_count"] for b in found["category"]["buckets"]}
    if "author" in found:
        counts.author = [(b["key"], b["doc_count"]) for b in found["author"]["buckets"]]
    if "price" in found:
        counts.price = {b["key"]: b["doc_count"] for b in found["price"]["buckets"]}
    if "rating" in found:
        counts.rating = {int(b["key"]): b["doc_count"] for b in found["rating"]["buckets"]}
    if "in_stock" in found:
        counts.in_stock = found["in_stock"]["doc_count"]
    if "language" in found:
        counts.language = {b["key"]: b["doc_count"] for b in found["language"]["buckets"]}
    if "decade" in found:
        counts.decade = {int(b["key"]): b["doc_count"] for b in found["decade"]["buckets"]}
    # Selected authors outside the top ten: count them with the "selected" sub-bucket.
    if filters.authors and "author" in found and "selected" in found["author"]:
        listed = {name for name, _ in counts.author}
        for name in filters.authors:
            if name not in listed:
                counts.author.append((name, 0))
    sampled = int(sample.get("doc_count", 0))
    if 0 < sampled < matched:
        counts = counts.scaled(matched / sampled)
    return counts


def _suggester(text: str) -> dict[str, Any]:
    """The phrase suggester's request: corrections from the words in titles and author names."""
    return {
        "text": text,
        "spelling": {
            "phrase": {
                "field": "spell",
                "size": 3,
                "max_errors": 2,
                "confidence": 0.0,
                "direct_generator": [{"field": "spell", "suggest_mode": "always", "min_word_length": 3}],
            }
        },
    }


def _did_you_mean(spec: SearchSpec, response: dict[str, Any]) -> str | None:
    """A respelling of the query (from the suggester's answer in ``response``) that finds books, or None.

    Each candidate is checked with a count, with the same filters (one ``_msearch``), so
    we never suggest a dead end.
    """
    entries = response.get("suggest", {}).get("spelling", [])
    candidates = [option["text"] for entry in entries for option in entry["options"]]
    candidates = [text for text in dict.fromkeys(candidates) if text.lower() != spec.query.lower()]
    if not candidates:
        return None
    searches: list[dict[str, Any]] = []
    for text in candidates:
        candidate = replace(spec, query=text, variants=[text], isbn=None)
        count_body = _hits_search(candidate, fuzzy=False).extra(size=0, from_=0).to_dict()
        count_body.pop("highlight", None)
        searches += [{"index": alias_name()}, count_body]
    responses = search_client().msearch(body=searches)["responses"]
    for text, found in zip(candidates, responses, strict=True):
        if found.get("hits", {}).get("total", {}).get("value", 0):
            return str(text)
    return None


# --- OpenSearch: autocomplete -----------------------------------------------------------


def _folded_words(text: str) -> list[str]:
    """Lower-cased words without accents, as the autocomplete analyzer sees them."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("-", " ").split()


def _is_author_match(name: str, title: str, typed: list[str]) -> bool:
    """Whether to offer author ``name`` for what was typed, seen on a book called ``title``.

    The word being typed (the last) must start a word of the name, and every other word
    must start a word of the name or of that book's title: "ingrid th" offers Ingrid
    Thornton but not Ingrid Bennett, "dune herb" offers Frank Herbert.
    """
    name_words, title_words = _folded_words(name), _folded_words(title)

    def starts(part: str, words: list[str]) -> bool:
        return any(word.startswith(part) for word in words)

    return (
        bool(typed)
        and starts(typed[-1], name_words)
        and all(starts(part, name_words) or starts(part, title_words) for part in typed)
    )


def autocomplete(*, prefix: str, limit: int, authors_limit: int) -> AutocompleteResult:
    """Up to ``limit`` titles and ``authors_limit`` authors for what has been typed (words may be partial).

    Titles: every typed word starts a word of the title or of an author's name, the most
    read first (the prior of ``search.ranking``): "harr" offers Harry Potter before Harry
    Harrison's novels. Authors come from a second search in the same ``_msearch``, of the
    books whose author's name starts so, the most read first: the author is offered as an
    author, beside the titles rather than instead of them.
    """
    text = prefix
    titles_search = (
        Search(index=alias_name())
        .query(
            Q(
                "function_score",
                # Words split between title and author: "dune herb".
                query=Q("multi_match", query=text, type="cross_fields", operator="and", fields=PARTIAL_FIELDS),
                functions=_prior_functions(),
                score_mode="sum",
                boost_mode="replace",
            )
        )
        .sort("_score", {"id": "asc"})
        .source(["title", "slug", "isbn13", "authors", "author_slugs"])
        .highlight_options(pre_tags=[MARK_START], post_tags=[MARK_END])
        .highlight("authors.autocomplete", number_of_fragments=0)
        .extra(size=limit * 2, track_total_hits=False)
    )
    authors_search = (
        Search(index=alias_name())
        .query(Q("match", **{"authors.autocomplete": {"query": text, "operator": "and"}}))
        .sort({"ratings_count": "desc"}, {"id": "asc"})
        .source(["title", "authors", "author_slugs"])
        .highlight_options(pre_tags=[MARK_START], post_tags=[MARK_END])
        .highlight("authors.autocomplete", number_of_fragments=0)
        .extra(size=authors_limit * 4, track_total_hits=False)
    )
    index = alias_name()
    body = [{"index": index}, titles_search.to_dict(), {"index": index}, authors_search.to_dict()]
    responses = search_client().msearch(body=body)["responses"]
    for part in responses:
        if "error" in part:
            raise TransportError(part.get("status", 500), part["error"].get("type", "error"), part["error"])
    title_hits, author_hits = (part["hits"]["hits"] for part in responses)
    typed = _folded_words(text)
    titles: list[TitleSuggestion] = []
    seen_titles: set[str] = set()
    for hit in title_hits:
        source = hit["_source"]
        if source["title"].lower() not in seen_titles and len(titles) < limit:
            seen_titles.add(source["title"].lower())
            url = reverse("catalog:book", kwargs={"isbn13": source["isbn13"], "slug": source["slug"]})
            titles.append(TitleSuggestion(title=source["title"], authors=source.get("authors", []), url=url))
    authors: dict[str, AuthorSuggestion] = {}
    for hit in [*author_hits, *title_hits]:
        source = hit["_source"]
        names, slugs = source.get("authors", []), source.get("author_slugs", [])
        for marked in hit.get("highlight", {}).get("authors.autocomplete", []):
            name = strip_marks(marked)
            is_new = name in names and name not in authors and len(authors) < authors_limit
            if is_new and _is_author_match(name, source["title"], typed):
                slug = slugs[names.index(name)] if len(slugs) == len(names) else ""
                url = reverse("catalog:author", kwargs={"slug": slug}) if slug else ""
                authors[name] = AuthorSuggestion(name=name, url=url)
    return AutocompleteResult(prefix=text, titles=titles, authors=list(authors.values()), backend="opensearch")
