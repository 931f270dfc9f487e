"""Hot record versions (catalog.hot, docs/hot-data.md): a column on books and on inventory, and
the triggers that raise them by one on every UPDATE of the row, in the writing transaction.

Triggers rather than Django code because stock moves through ``F()`` updates and ``Case``
statements that send no signal, and a version taken anywhere but inside the change's own
transaction could be out of order with it. On Postgres a BEFORE trigger sets
``NEW.hot_version`` from ``OLD`` (what Django sent is ignored); SQLite, which cannot assign to
``NEW``, updates the row again after the change (recursive triggers are off, and the ``WHEN``
guard stops a second round if someone turns them on).
"""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TABLES = ("catalog_book", "catalog_inventory")
KEYS = {"catalog_book": "id", "catalog_inventory": "book_id"}


def create_triggers(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(
                f"CREATE OR REPLACE FUNCTION {table}_hot_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN NEW.hot_version := OLD.hot_version + 1; RETURN NEW; END $$"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_hot_version BEFORE UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_hot_version_bump()"
            )
        elif vendor == "sqlite":
            key = KEYS[table]
            schema_editor.execute(
                f"CREATE TRIGGER {table}_hot_version AFTER UPDATE ON {table} "
                "FOR EACH ROW WHEN NEW.hot_version <= OLD.hot_version BEGIN "
                f"UPDATE {table} SET hot_version = OLD.hot_version + 1 WHERE {key} = NEW.{key}; END"
            )
        else:  # pragma: no cover - the project runs on Postgres and SQLite only
            raise NotImplementedError(f"hot_version triggers for {vendor}")


def drop_triggers(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_hot_version ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_hot_version_bump()")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_hot_version")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_review_verified_purchase"),
    ]

    operations = [
        migrations.AddField(
            model_name="book",
            name="hot_version",
            field=models.BigIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.AddField(
            model_name="inventory",
            name="hot_version",
            field=models.BigIntegerField(db_default=1, default=1, editable=False),
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
