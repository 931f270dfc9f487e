"""The permission to see the staff report pages; the reports themselves read other tables."""

from __future__ import annotations

from django.db import models


class StaffReports(models.Model):
    """No table (``managed = False``): it exists to carry ``analytics.view_reports``.

    Reports show revenue, search terms and performance, which not every member of staff
    should see, so they get a permission of their own that an administrator grants in the
    admin (to a user or a group) instead of riding on a model's view permission.
    """

    class Meta:
        managed = False
        db_table = "analytics_staff_reports"
        default_permissions = ()
        permissions = [("view_reports", "Can view the staff reports and export them as CSV")]
        verbose_name = "staff reports"
        verbose_name_plural = "staff reports"

    def __str__(self) -> str:
        return "staff reports"
