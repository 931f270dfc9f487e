"""What analytics records, one module per kind of record. It only listens to other apps' events and never leads."""

from analytics.models.events import BookDay, FlushedBatch, SearchDay, SiteDay
from analytics.models.reports import StaffReports
from analytics.models.rum import RumBeacon
from analytics.models.search_log import SearchLog

__all__ = ["BookDay", "FlushedBatch", "RumBeacon", "SearchDay", "SearchLog", "SiteDay", "StaffReports"]
