"""``migrate`` without the statement timeout: a migration may rewrite a large table for minutes.

Django's own command, run inside ``cloudshelf.database.long_running_statements`` on the
database it migrates. The lock timeout stays: a migration that cannot get its table lock
in time fails (run it again) rather than queueing every request behind it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrateCommand

from cloudshelf.database import long_running_statements


class Command(DjangoMigrateCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        with long_running_statements(using=options["database"]):
            super().handle(*args, **options)
