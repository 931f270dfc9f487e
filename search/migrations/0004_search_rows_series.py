"""The series a book's title names, on the fallback's search rows (``catalog.titles.title_parts``).

A query naming a series lists it in reading order (``search.ranking``). Existing rows get it
at the next ``manage.py search_index --rebuild`` (or ``--check --fix``).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0003_title_keys_series"),
    ]

    operations = [
        migrations.AddField(
            model_name="booksearchdocument",
            name="series",
            field=models.CharField(default="", max_length=300),
        ),
    ]
