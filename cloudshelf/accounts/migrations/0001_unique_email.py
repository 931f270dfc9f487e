"""One account per e-mail address, whatever its case, enforced by the database.

The sign-up form checks first, but two sign-ups at once both pass that check; only a
unique index makes the second insert fail. Accounts made in the admin without an e-mail
address (``""``) are left out of it. The index is plain SQL that Postgres and SQLite both
read (an expression index with a WHERE clause).
"""

from django.db import migrations

INDEX = "accounts_user_email_lower_unique"


def refuse_duplicates(apps, schema_editor):
    """Say which addresses clash instead of failing on an opaque CREATE INDEX error."""
    from django.db.models import Count
    from django.db.models.functions import Lower

    user_model = apps.get_model("auth", "User")
    clashes = (
        user_model.objects.exclude(email="")
        .values(address=Lower("email"))
        .annotate(accounts=Count("id"))
        .filter(accounts__gt=1)
        .values_list("address", flat=True)[:20]
    )
    if clashes:
        raise RuntimeError(
            "These e-mail addresses have more than one account; merge or change them, then migrate: "
            + ", ".join(clashes)
        )


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunPython(refuse_duplicates, migrations.RunPython.noop),
        migrations.RunSQL(
            f"CREATE UNIQUE INDEX {INDEX} ON auth_user (LOWER(email)) WHERE email <> ''",
            f"DROP INDEX {INDEX}",
        ),
    ]
