"""Events the search app announces. Analytics listens; search imports no listener.

``search_performed`` is sent after every ``search.engine.search_books`` call with
``query``, ``filters`` (facet name → values), ``sort``, ``page``, ``result_count``,
``latency_ms``, ``is_zero_result`` and ``backend`` ("opensearch" or "database").
Receivers run on the request path, so they must only hand the event off (a Redis list
push, a queued task), never write to the database themselves.
"""

from django.dispatch import Signal

search_performed = Signal()
