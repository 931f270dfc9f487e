"""``cloudshelf_english``: Postgres' english text search with accents folded, for the fallback.

"nina mala" finds *Travesuras de la niña mala* and "kurk mantolu" *Kürk Mantolu Madonna*, as
they do in OpenSearch (``asciifolding``). ``unaccent`` is a trusted extension (the database
owner may create it, as with ``pg_trgm``; Amazon RDS allows it). Postgres only. The search
rows' vectors take the new configuration at the next ``manage.py search_index --rebuild``
(until then a row's accented words match only accented queries, as before).
"""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations

CREATE_CONFIGURATION = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'cloudshelf_english') THEN
        CREATE TEXT SEARCH CONFIGURATION cloudshelf_english (COPY = english);
        ALTER TEXT SEARCH CONFIGURATION cloudshelf_english
            ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
    END IF;
END $$
"""


def create_configuration(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_CONFIGURATION)


def drop_configuration(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS cloudshelf_english")


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0004_search_rows_series"),
    ]

    operations = [
        # A no-op on SQLite.
        UnaccentExtension(),
        migrations.RunPython(create_configuration, drop_configuration, elidable=False),
    ]
