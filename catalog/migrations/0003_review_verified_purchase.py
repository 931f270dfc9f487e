"""Reviews gain ``verified_purchase``, backfilled from the orders already paid or shipped.

From now on the review services set the flag (``catalog.purchases``). The backfill reads
the cart's historical models: a migration may, where the code may not import ``cart``,
and it is the one place the catalog's history waits for the cart's (no cycle: the cart's
migrations need only ``catalog.0001``). Without the cart app there is nothing to backfill.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.db.models import Exists, OuterRef

# cart.models.Order.Status.PAID and SHIPPED, frozen as a migration must.
_BOUGHT = ["paid", "shipped"]


def mark_reviews_of_bought_books(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    try:
        order_line = apps.get_model("cart", "OrderLine")
    except LookupError:
        return
    review = apps.get_model("catalog", "Review")
    bought = order_line.objects.filter(
        book_id=OuterRef("book_id"), order__user_id=OuterRef("user_id"), order__status__in=_BOUGHT
    )
    # One set-based UPDATE, whatever the number of reviews.
    review.objects.filter(Exists(bought)).update(verified_purchase=True)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_book_cover_fetch"),
        ("cart", "0002_order_payment_pending"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="review",
            name="verified_purchase",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddIndex(
            model_name="review",
            index=models.Index(
                models.F("book"),
                models.OrderBy(models.F("created_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                condition=models.Q(("verified_purchase", True)),
                name="review_verified_by_book",
            ),
        ),
        migrations.RunPython(mark_reviews_of_bought_books, migrations.RunPython.noop, elidable=True),
    ]
