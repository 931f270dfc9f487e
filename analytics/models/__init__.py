"""What analytics records, one module per kind of record. It only listens to other apps' events and never leads."""

from analytics.models.search_log import SearchLog

__all__ = ["SearchLog"]
