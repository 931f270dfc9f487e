"""Title keys and series volume on the fallback's search rows, and the SQL function computing the keys.

``cloudshelf_title_key(text)`` is the SQL twin of ``catalog.titles.title_key`` (lower case,
apostrophes dropped, every run of other non-alphanumerics one space, no leading article);
``tests/search/test_title_keys.py`` keeps the two equal on real titles. Postgres only: on
SQLite (the embedded default) the fallback searches the catalog directly.

Existing rows get their new columns at the next ``manage.py search_index --rebuild`` (or
``search_index --check --fix``, which sees them as drifted).
"""

from django.db import migrations, models

TITLE_KEY_FUNCTION = r"""
CREATE OR REPLACE FUNCTION cloudshelf_title_key(title text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT REGEXP_REPLACE(
        BTRIM(REGEXP_REPLACE(REGEXP_REPLACE(LOWER(title), '[''’`]', '', 'g'), '[^[:alnum:]]+', ' ', 'g')),
        '^(the|a|an) ', '')
$$
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TITLE_KEY_FUNCTION)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS cloudshelf_title_key(text)")


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0002_search_rows_facet_columns"),
    ]

    operations = [
        migrations.AddField(
            model_name="booksearchdocument",
            name="title_keys",
            field=models.JSONField(default=list),
        ),
        migrations.AddField(
            model_name="booksearchdocument",
            name="series_number",
            field=models.FloatField(null=True),
        ),
        migrations.RunPython(create_function, drop_function, elidable=False),
    ]
