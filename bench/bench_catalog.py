"""Catalog pages on the production-shaped stack (gunicorn, Postgres, Redis) with 100,000 books.

Target (issue 2): browse, author and book detail pages answer in well under 50 ms each
(checked as p95 < 50 ms). Each page kind is measured on its own at a steady rate, over many
different URLs so the figures include cache misses, then a mixed run shows the rate the
stack sustains. Each run prints the ``X-Page-Cache`` values the pages answered with (how many
came from the page cache) and the CPU the stack spent.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence

import django

from bench.checks import run_watched
from bench.loadgen import Request, Result
from bench.targets import Target

RATE = float(os.environ.get("BENCH_RATE", "50"))
DURATION = float(os.environ.get("BENCH_DURATION", "15"))
MIN_BOOKS = int(os.environ.get("BENCH_MIN_BOOKS", "100000"))
SORTS = ["", "price", "-price", "rating", "newest", "title"]
PAGE = Target(max_p95_ms=50)


def _sample_urls() -> dict[str, list[str]]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")
    django.setup()
    from django.conf import settings

    from catalog.models import Author, Book, Category

    total = Book.objects.count()
    if total < MIN_BOOKS:
        raise SystemExit(f"the benchmark needs {MIN_BOOKS:,} books and the stack has {total:,}: run `make seed`")
    rng = random.Random(7)
    ids = list(Book.objects.values_list("id", flat=True).order_by("?")[:2000])
    books = [book.get_absolute_url() for book in Book.objects.filter(id__in=ids).only("isbn13", "slug")]
    authors = [f"/authors/{slug}/" for slug in Author.objects.order_by("?").values_list("slug", flat=True)[:500]]
    categories = list(Category.objects.values_list("path", flat=True))
    last_page = min(total // settings.CATALOG_PAGE_SIZE, settings.CATALOG_MAX_PAGE)
    browse = [
        f"/categories/{rng.choice(categories)}/?sort={rng.choice(SORTS)}&page={rng.choice([1, 1, 2, 3, 10])}"
        for _ in range(500)
    ]
    deep = [f"/books/?sort={rng.choice(SORTS)}&page={rng.randint(400, last_page)}" for _ in range(500)]
    return {"book detail": books, "author page": authors, "category browse": browse, "deep pagination": deep}


def _random_path_requests(paths: Sequence[str], rng: random.Random) -> Callable[[int], Request]:
    """GET requests for paths drawn at random: the same sequence for the same seeded ``rng``."""
    return lambda _index: Request(rng.choice(paths))


def run(base_url: str) -> list[Result]:
    urls = _sample_urls()
    results = []
    for name, paths in urls.items():
        rng = random.Random(name)
        results.append(
            run_watched(
                f"catalog: {name}",
                base_url,
                _random_path_requests(paths, rng),
                rate=RATE,
                duration_s=DURATION,
                target=PAGE,
            )
        )
    results.append(
        run_watched("catalog: home", base_url, lambda _i: Request("/"), rate=RATE, duration_s=DURATION, target=PAGE)
    )
    mixed = [path for paths in urls.values() for path in paths] + ["/"] * 50
    rng = random.Random("mixed")
    results.append(
        run_watched(
            "catalog: mixed pages",
            base_url,
            lambda _i: Request(rng.choice(mixed)),
            rate=RATE * 2,
            duration_s=DURATION,
            connections=32,
        )
    )
    return results
