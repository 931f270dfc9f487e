"""Events the search app announces. Analytics listens; search imports no listener.

``search_performed`` is sent for every search a customer or partner ran: by
``search.engine.search_books``, and by the page cache for a results page answered from a
kept copy. Its keyword arguments are the fields of ``SearchPerformed`` (plain values:
``query``, ``filters`` (facet name → values), ``sort``, ``page``, ``result_count``,
``is_zero_result``, ``backend`` ("opensearch" or "database") and ``latency_ms``), so a
listener needs nothing else of search. Receivers run on the request path, so they must
only hand the event off (a Redis list push, a queued task), never write to the database
themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from django.dispatch import Signal

if TYPE_CHECKING:
    from search.results import SearchResult

search_performed = Signal()


@dataclass(frozen=True)
class SearchPerformed:
    """One search, as analytics records it. Built only by ``from_result``."""

    query: str
    filters: dict[str, list[str]]
    sort: str
    page: int
    result_count: int
    is_zero_result: bool
    backend: str
    latency_ms: float

    @classmethod
    def from_result(cls, result: SearchResult, *, latency_ms: float) -> SearchPerformed:
        """The event of the search that answered ``result`` in ``latency_ms`` milliseconds."""
        return cls(
            query=result.query,
            filters=result.filters.as_dict(),
            sort=result.sort.key,
            page=result.page.number,
            result_count=result.total,
            is_zero_result=result.is_zero_result,
            backend=result.backend,
            latency_ms=latency_ms,
        )

    def send(self) -> None:
        """Announce this search with ``search_performed``."""
        search_performed.send(sender=SearchPerformed, **asdict(self))
