"""Each page's queries, pinned: the visitor's session, user and permissions, then the reports' own."""

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from cloudshelf import db_router
from cloudshelf.db_router import ReplicaState

# The user, their permissions and their groups' permissions (the session is in Redis): before any report runs.
VISITOR = 3


@pytest.mark.parametrize(
    ("path", "report_queries"),
    [
        ("/admin/reports/", 0),
        ("/admin/reports/sales/", 1),
        ("/admin/reports/categories/", 2),
        ("/admin/reports/top-sellers/", 1),
        ("/admin/reports/searches/", 4),  # each list, and each for the period before
        ("/admin/reports/funnel/", 2),
        ("/admin/reports/low-stock/", 3),  # sales of low books, the other low books, their titles
        ("/admin/reports/performance/", 2),  # real users' percentiles of each window (the server's are in Redis)
        ("/admin/reports/sales/sales.csv", 1),
        ("/admin/reports/searches/top-searches.csv", 2),
        ("/admin/reports/performance/export.csv", 2),
    ],
)
def test_query_count_of_each_page(reports_client, known_shop, django_assert_num_queries, path, report_queries):
    with django_assert_num_queries(VISITOR + report_queries):
        assert reports_client.get(path).status_code == 200


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_report_queries_run_on_the_replica(reports_client, monkeypatch):
    # Outside a test transaction, as in production (reads inside one stay on the primary). The
    # router believes the standby is up and current (tests/ops/test_replica_standby.py runs it for real).
    monkeypatch.setattr(
        db_router, "replica_state", lambda: ReplicaState(is_up=True, lag_seconds=0.0, checked_at=float("inf"))
    )
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert reports_client.get("/admin/reports/sales/?days=7").status_code == 200
        assert reports_client.get("/admin/reports/performance/").status_code == 200
    tables = " ".join(query["sql"] for query in on_replica.captured_queries)
    assert "cart_orderline" in tables
    assert "analytics_rumbeacon" in tables
    assert "auth_user" not in tables  # the visitor is read from the primary
