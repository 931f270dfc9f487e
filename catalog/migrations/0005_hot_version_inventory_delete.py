"""A deleted inventory row must not lower its book's hot version (catalog.hot, docs/hot-data.md).

The record's version is ``book.hot_version + inventory.hot_version``. Deleting the inventory
row (the admin allows it) dropped the second term, and a row made again starts at 1, so the
sum fell below what DynamoDB holds and every later sync of the book was refused as older.
An ``AFTER DELETE`` trigger now moves the row's version onto its book, plus one: the sum
grows at the delete, and again when a row is made.

On Postgres the book's ``BEFORE UPDATE`` trigger set ``OLD + 1`` whatever the statement
sent; it now keeps a larger value the statement sent (this trigger's), which a Django save
never does (it sends the version it read, never more than the row's).
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

BUMP_BOOK = (
    "CREATE OR REPLACE FUNCTION catalog_book_hot_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN NEW.hot_version := GREATEST(NEW.hot_version, OLD.hot_version + 1); RETURN NEW; END $$"
)
BUMP_BOOK_BEFORE = (
    "CREATE OR REPLACE FUNCTION catalog_book_hot_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN NEW.hot_version := OLD.hot_version + 1; RETURN NEW; END $$"
)
# OLD.hot_version + 1: on SQLite the book's own trigger does not fire for an UPDATE that raises
# the version already (its WHEN guard), so the + 1 is written here for both databases.
MOVE_ON_DELETE = "UPDATE catalog_book SET hot_version = hot_version + OLD.hot_version + 1 WHERE id = OLD.book_id"


def create_trigger(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(BUMP_BOOK)
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION catalog_inventory_hot_version_move() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {MOVE_ON_DELETE}; RETURN OLD; END $$"
        )
        schema_editor.execute(
            "CREATE TRIGGER catalog_inventory_hot_version_delete AFTER DELETE ON catalog_inventory "
            "FOR EACH ROW EXECUTE FUNCTION catalog_inventory_hot_version_move()"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            "CREATE TRIGGER catalog_inventory_hot_version_delete AFTER DELETE ON catalog_inventory "
            f"FOR EACH ROW BEGIN {MOVE_ON_DELETE}; END"
        )
    else:  # pragma: no cover - the project runs on Postgres and SQLite only
        raise NotImplementedError(f"hot_version triggers for {vendor}")


def drop_trigger(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS catalog_inventory_hot_version_delete ON catalog_inventory")
        schema_editor.execute("DROP FUNCTION IF EXISTS catalog_inventory_hot_version_move()")
        schema_editor.execute(BUMP_BOOK_BEFORE)
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS catalog_inventory_hot_version_delete")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_hot_version"),
    ]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger, elidable=False),
    ]
