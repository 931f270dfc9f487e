"""Partner, ApiKey and PartnerCart now belong to the ``partners`` app: removed from this app's state only.

Their tables (``api_partner``, ``api_apikey``, ``api_partnercart``) and rows stay where
they are; ``partners/migrations/0001_initial.py`` takes them over under the same names.
This is Django's documented way of moving a model between apps (``SeparateDatabaseAndState``):
the database side does nothing, so the move takes no lock and loses no row.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_partner_carts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                # Models that point at Partner first.
                migrations.DeleteModel(name="PartnerCart"),
                migrations.DeleteModel(name="ApiKey"),
                migrations.DeleteModel(name="Partner"),
            ],
            database_operations=[],
        ),
    ]
