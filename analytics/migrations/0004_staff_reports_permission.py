# The permission to see the staff report pages (analytics.models.reports.StaffReports has no table).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0003_events_rollups"),
    ]

    operations = [
        migrations.CreateModel(
            name="StaffReports",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ],
            options={
                "verbose_name": "staff reports",
                "verbose_name_plural": "staff reports",
                "db_table": "analytics_staff_reports",
                "permissions": [("view_reports", "Can view the staff reports and export them as CSV")],
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
