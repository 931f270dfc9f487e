"""The partners app takes over Partner, ApiKey and PartnerCart from ``cloudshelf.api``.

State only: the tables exist already (made by ``api`` 0001 and 0002) and keep their names
through ``Meta.db_table``, so existing rows are the new models' rows and nothing is
copied or locked. The content types are relabelled from ``api`` to ``partners``, so the
admin permissions granted on these models (and the admin's history) follow them; a new
database has none yet (they are made after migrating) and the step does nothing.
"""

import uuid
from decimal import Decimal

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED_MODELS = ("partner", "apikey", "partnercart")


def _relabel_content_types(apps, from_label: str, to_label: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    taken = set(content_type.objects.filter(app_label=to_label, model__in=MOVED_MODELS).values_list("model", flat=True))
    content_type.objects.filter(app_label=from_label, model__in=set(MOVED_MODELS) - taken).update(app_label=to_label)


def content_types_to_partners(apps, schema_editor) -> None:
    _relabel_content_types(apps, "api", "partners")


def content_types_to_api(apps, schema_editor) -> None:
    _relabel_content_types(apps, "partners", "api")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        # After cloudshelf.api has let go of the models (state only), so the two apps never
        # both hold them; the tables were made by its 0001 and 0002.
        ("api", "0003_partners_moved_to_partners_app"),
        ("cart", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Partner",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=200, unique=True)),
                        ("contact_email", models.EmailField(blank=True, max_length=254)),
                        (
                            "plan",
                            models.CharField(
                                choices=[
                                    ("starter", "Starter: 10 requests/s, bursts of 20"),
                                    ("growth", "Growth: 50 requests/s, bursts of 100"),
                                    ("scale", "Scale: 250 requests/s, bursts of 500"),
                                    ("internal", "Internal (our own tools, benchmarks): 5,000 requests/s"),
                                ],
                                default="starter",
                                max_length=20,
                            ),
                        ),
                        (
                            "custom_rate_per_second",
                            models.DecimalField(
                                blank=True,
                                decimal_places=3,
                                help_text="Overrides the plan's sustained rate (requests per second).",
                                max_digits=9,
                                null=True,
                                validators=[django.core.validators.MinValueValidator(Decimal("0.001"))],
                            ),
                        ),
                        (
                            "custom_burst",
                            models.PositiveIntegerField(
                                blank=True,
                                help_text="Overrides the plan's burst size.",
                                null=True,
                                validators=[django.core.validators.MinValueValidator(1)],
                            ),
                        ),
                        (
                            "is_active",
                            models.BooleanField(default=True, help_text="Suspended partners get 403 on every call."),
                        ),
                        ("notes", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "account",
                            models.OneToOneField(
                                blank=True,
                                editable=False,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="api_partner",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "api_partner",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "name",
                            models.CharField(
                                help_text="What the partner uses this key for, e.g. 'production'.", max_length=100
                            ),
                        ),
                        ("prefix", models.CharField(editable=False, max_length=32, unique=True)),
                        ("key_hash", models.CharField(editable=False, max_length=64, unique=True)),
                        (
                            "can_write",
                            models.BooleanField(
                                default=True,
                                help_text="Read-only keys may browse the catalog but not create carts or orders.",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("last_used_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        (
                            "partner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="api_keys",
                                to="partners.partner",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "API key",
                        "db_table": "api_apikey",
                        "ordering": ["partner", "-created_at"],
                    },
                ),
                migrations.CreateModel(
                    name="PartnerCart",
                    fields=[
                        ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        (
                            "customer_reference",
                            models.CharField(
                                blank=True,
                                help_text="The partner's own id for the customer, echoed back on the order.",
                                max_length=100,
                            ),
                        ),
                        ("order_idempotency_key", models.CharField(blank=True, max_length=255)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "order",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="partner_cart",
                                to="cart.order",
                            ),
                        ),
                        (
                            "partner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="carts", to="partners.partner"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "api_partnercart",
                        "ordering": ["-created_at"],
                    },
                ),
                migrations.AddConstraint(
                    model_name="partner",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("custom_burst__isnull", True), ("custom_rate_per_second__isnull", True)),
                            models.Q(("custom_burst__isnull", False), ("custom_rate_per_second__isnull", False)),
                            _connector="OR",
                        ),
                        name="partner_custom_limit_complete",
                    ),
                ),
                migrations.AddIndex(
                    model_name="partnercart",
                    index=models.Index(fields=["partner", "-created_at"], name="partner_cart_by_partner"),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_to_partners, content_types_to_api),
    ]
