"""Synonyms and the fallback's search rows; on Postgres also pg_trgm and the two GIN indexes.

The indexes are created here rather than in ``Meta.indexes`` because SQLite (the embedded
default) has neither GIN nor trigrams: the Postgres-only steps check the database vendor
and do nothing on SQLite, so the same migration runs everywhere.
"""

import django.contrib.postgres.search
import django.db.models.deletion
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

POSTGRES_INDEXES = [
    (
        "search_document_vector_gin",
        "CREATE INDEX IF NOT EXISTS search_document_vector_gin ON search_booksearchdocument USING gin (search_vector)",
    ),
    (
        "search_document_text_trgm",
        "CREATE INDEX IF NOT EXISTS search_document_text_trgm ON search_booksearchdocument "
        "USING gin (search_text gin_trgm_ops)",
    ),
]


def create_postgres_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _name, sql in POSTGRES_INDEXES:
        schema_editor.execute(sql)


def drop_postgres_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _sql in POSTGRES_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        # A no-op on SQLite; pg_trgm is a trusted extension, so the database owner may create it.
        TrigramExtension(),
        migrations.CreateModel(
            name="BookSearchDocument",
            fields=[
                (
                    "book",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_document",
                        serialize=False,
                        to="catalog.book",
                    ),
                ),
                ("search_vector", django.contrib.postgres.search.SearchVectorField(null=True)),
                ("search_text", models.TextField(default="")),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.CreateModel(
            name="Synonym",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "terms",
                    models.CharField(
                        help_text="Comma-separated words or phrases that mean the same, e.g. “sci-fi, science fiction”.",
                        max_length=500,
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="active")),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["terms"],
            },
        ),
        migrations.RunPython(create_postgres_indexes, drop_postgres_indexes, elidable=False),
    ]
