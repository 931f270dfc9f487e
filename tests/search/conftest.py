"""Fixtures of the search tests: a real OpenSearch index per test, a small catalog with
known relevance, eager Celery by default, and a real Celery worker for the tests that
need one (``celery_worker``)."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django_redis import get_redis_connection
from opensearchpy import OpenSearch

from catalog.models import Book
from catalog.selectors.categories import category_index_clear
from cloudshelf.celery import app as celery_app
from search import synonyms
from search.breaker import opensearch_breaker
from search.client import bulk_client
from search.documents import alias_name
from search.services import search_index_rebuild
from tests.factories import AuthorFactory, BookFactory, CategoryFactory
from tests.network import silent_server, wait_for  # noqa: F401  (a shared fixture; wait_for imported from here)
from tests.workers import real_worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Search tests run Celery tasks eagerly unless they ask for ``celery_worker``."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


# /health/ready shows its checks only to staff or to callers with this token.
HEALTH_TOKEN = "search-tests-health-token"


@pytest.fixture(autouse=True)
def _health_details_token(settings):
    settings.HEALTH_DETAILS_TOKEN = HEALTH_TOKEN


@pytest.fixture(autouse=True)
def _fresh_search_state(settings):
    """Every test starts with a closed breaker, no remembered synonyms and no queued syncs."""

    def clean() -> None:
        opensearch_breaker.reset()
        synonyms.synonyms_changed()
        category_index_clear()
        for alias in ("default", "durable"):  # the breaker's state; the sync queue
            redis = get_redis_connection(alias)
            keys = list(redis.scan_iter(f"{settings.SEARCH_INDEX_PREFIX}*"))
            if keys:
                redis.delete(*keys)

    clean()
    yield
    clean()


@pytest.fixture
def search_index(db, settings):
    """``build()`` (re)builds this test's books index from the database, as ``search_index --rebuild`` does.

    The index and alias carry this test process's prefix and are deleted afterwards.
    """

    def build() -> str:
        return search_index_rebuild().index

    yield build
    # The URL from the environment: a test may have switched OPENSEARCH_URL off meanwhile.
    if os.environ.get("OPENSEARCH_URL"):
        client = OpenSearch(hosts=[os.environ["OPENSEARCH_URL"]], timeout=30)
        client.indices.delete(index=f"{settings.SEARCH_INDEX_PREFIX}books*", ignore_unavailable=True)


def refresh_index() -> None:
    """Make writes visible to searches now (the index refreshes every second on its own)."""
    bulk_client().indices.refresh(index=alias_name())


def indexed_document(book_id: int) -> dict | None:
    """The document of ``book_id`` in the index, or None."""
    found = bulk_client().get(index=alias_name(), id=str(book_id), ignore=404)
    return found.get("_source") if found.get("found") else None


# --- A small catalog with known answers ----------------------------------------------------


class Shelf:
    """Books whose relevance, facets and spellings the tests know by heart."""

    def __init__(self) -> None:
        fiction = CategoryFactory(name="Fiction", slug="fiction")
        self.science_fiction = CategoryFactory(name="Science Fiction", slug="science-fiction", parent=fiction)
        self.space_opera = CategoryFactory(name="Space Opera", slug="space-opera", parent=self.science_fiction)
        self.fantasy = CategoryFactory(name="Fantasy", slug="fantasy", parent=fiction)
        self.classics = CategoryFactory(name="Classics", slug="classics", parent=fiction)
        children = CategoryFactory(name="Children & Young Adult", slug="children")
        self.young_adult = CategoryFactory(name="Young Adult", slug="young-adult", parent=children)
        nonfiction = CategoryFactory(name="Non-fiction", slug="non-fiction")
        self.history = CategoryFactory(name="History", slug="history", parent=nonfiction)
        self.fiction, self.children, self.nonfiction = fiction, children, nonfiction

        herbert = AuthorFactory(name="Frank Herbert", slug="frank-herbert")
        tolkien = AuthorFactory(name="J. R. R. Tolkien", slug="j-r-r-tolkien")
        asimov = AuthorFactory(name="Isaac Asimov", slug="isaac-asimov")
        austen = AuthorFactory(name="Jane Austen", slug="jane-austen")
        self.authors = {"herbert": herbert, "tolkien": tolkien, "asimov": asimov, "austen": austen}

        def book(key, title, authors, category, price, rating, popularity, year, **extra):
            made = BookFactory(
                title=title,
                authors=authors,
                category=category,
                price=Decimal(price),
                average_rating=Decimal(rating),
                ratings_count=extra.pop("ratings_count", 100),
                popularity=popularity,
                publication_date=date(year, 6, 1) if year else None,
                **extra,
            )
            setattr(self, key, made)
            return made

        sf = self.science_fiction
        book(
            "dune",
            "Dune",
            [herbert],
            sf,
            "9.99",
            "4.60",
            900,
            1965,
            description="A desert planet, a noble family and the spice that rules the universe.",
        )
        book(
            "dune_messiah",
            "Dune Messiah",
            [herbert],
            sf,
            "12.50",
            "4.10",
            300,
            1969,
            description="Twelve years after the desert war, an emperor sees the future.",
        )
        book(
            "children_of_dune",
            "Children of Dune",
            [herbert],
            sf,
            "14.00",
            "4.00",
            200,
            1976,
            stock=0,
            description="The twins of the emperor inherit a desert empire.",
        )
        book(
            "june",
            "June",
            [AuthorFactory(name="Miranda Beverly", slug="miranda-beverly")],
            self.classics,
            "16.00",
            "3.50",
            5000,
            2016,
            description="A house, a summer and two families.",
        )
        book(
            "hobbit",
            "The Hobbit",
            [tolkien],
            self.fantasy,
            "8.99",
            "4.70",
            1000,
            1937,
            description="A hobbit is swept into a quest for a dragon's treasure.",
        )
        book(
            "fellowship",
            "The Fellowship of the Ring",
            [tolkien],
            self.fantasy,
            "15.99",
            "4.80",
            800,
            1954,
            description="Nine companions set out to destroy the one ring.",
        )
        book(
            "foundation",
            "Foundation",
            [asimov],
            self.space_opera,
            "22.00",
            "4.30",
            500,
            1951,
            description="A mathematician foresees the fall of a galactic empire.",
        )
        book(
            "fondation",
            "Fondation",
            [asimov],
            self.space_opera,
            "21.00",
            "4.20",
            40,
            1957,
            language="fr",
            description="Un mathématicien prévoit la chute de l'empire galactique.",
        )
        book(
            "history_of_sf",
            "A History of Science Fiction",
            [AuthorFactory(name="Adam Roberts", slug="adam-roberts")],
            self.history,
            "35.00",
            "3.80",
            50,
            2006,
            description="How science fiction grew from pulp magazines into literature.",
        )
        book(
            "emma",
            "Emma",
            [austen],
            self.classics,
            "6.99",
            "3.90",
            400,
            1815,
            description="A young woman meddles in the love lives of her friends.",
        )
        book(
            "emma_press",
            "The Emma Press Anthology of Love",
            [AuthorFactory(name="Emma Wright", slug="emma-wright")],
            self.classics,
            "11.00",
            "4.90",
            9000,
            2015,
            description="Poems about love, by Emma and friends.",
        )
        book(
            "hunger_games",
            "The Hunger Games",
            [AuthorFactory(name="Suzanne Collins", slug="suzanne-collins")],
            self.young_adult,
            "10.99",
            "4.30",
            700,
            2008,
            description="A young adult dystopian novel of survival.",
        )
        book(
            "neuromancer",
            "Neuromancer",
            [AuthorFactory(name="William Gibson", slug="william-gibson")],
            sf,
            "13.99",
            "3.90",
            250,
            1984,
            description="A washed-up hacker is hired for one last job in cyberspace.",
        )

    @property
    def books(self) -> list[Book]:
        return list(Book.objects.order_by("pk"))


@pytest.fixture
def shelf(db) -> Shelf:
    return Shelf()


@pytest.fixture
def indexed_shelf(shelf, search_index) -> Shelf:
    """The shelf, indexed in OpenSearch and in the fallback's search rows."""
    search_index()
    return shelf


# --- A real Celery worker ------------------------------------------------------------------


@pytest.fixture
def celery_worker(settings, transactional_db):
    """A real ``celery -A cloudshelf worker`` reading the test database (``tests.workers.real_worker``)."""
    environment = {
        "SEARCH_INDEX_PREFIX": settings.SEARCH_INDEX_PREFIX,
        "SEARCH_INDEX_DEBOUNCE_SECONDS": "0.5",
        # The worker bumps the kept answers' generation after a sync: in this test process's
        # cache keys, or a search asked before the index refreshed would stay kept (stale).
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
    }
    with real_worker("search", environment) as log:
        yield log
