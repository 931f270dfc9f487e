"""The one interface every search backend offers, so ``search.engine`` can choose among them.

A backend is a module with two functions: ``search(spec)`` and
``autocomplete(prefix=, limit=, authors_limit=)``. Hits and facets come back in the same
dataclasses (``search.results``) whichever backend answered; only ``result.backend`` tells.
"""

from __future__ import annotations

from typing import Protocol

from search.params import SearchSpec
from search.results import AutocompleteResult, SearchResult


class SearchBackend(Protocol):
    """What ``search.engine`` asks of a backend (``search.backends.opensearch``, ``postgres``, ``sqlite``)."""

    def search(self, spec: SearchSpec) -> SearchResult:
        """One page of hits for ``spec``, with facets, highlights and perhaps a "did you mean".

        Raises ``SearchPageOutOfRange`` for a page past the last one.
        """
        ...

    def autocomplete(self, *, prefix: str, limit: int, authors_limit: int) -> AutocompleteResult:
        """Up to ``limit`` titles and ``authors_limit`` authors matching what has been typed."""
        ...
