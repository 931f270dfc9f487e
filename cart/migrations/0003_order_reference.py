"""Order references (``CS-7K4Q-M2XD``): the column, one for every existing order, then unique.

In three steps because a unique column cannot be added with one default for rows that
exist: added nullable, filled in batches (each reference drawn until it is new, so the
unique index of the last step cannot fail), then made required and unique.
"""

from django.db import migrations, models

import cart.models

_BATCH = 2000


def _order_references_backfill(apps, schema_editor):
    Order = apps.get_model("cart", "Order")
    drawn = set()
    batch = []
    for order in Order.objects.filter(reference__isnull=True).only("pk").order_by("pk").iterator(chunk_size=_BATCH):
        reference = cart.models.order_reference_new()
        while reference in drawn:
            reference = cart.models.order_reference_new()
        drawn.add(reference)
        order.reference = reference
        batch.append(order)
        if len(batch) == _BATCH:
            Order.objects.bulk_update(batch, ["reference"])
            batch = []
    Order.objects.bulk_update(batch, ["reference"])


class Migration(migrations.Migration):
    dependencies = [
        ("cart", "0002_order_payment_pending"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="reference",
            field=models.CharField(editable=False, max_length=12, null=True),
        ),
        migrations.RunPython(_order_references_backfill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="order",
            name="reference",
            field=models.CharField(default=cart.models.order_reference_new, editable=False, max_length=12, unique=True),
        ),
    ]
