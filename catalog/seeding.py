"""A deterministic synthetic catalog for demos and benchmarks (``manage.py seed_catalog``).

Everything is drawn from one ``random.Random(seed)`` and the word lists below, so the same
seed always yields the same books, authors, prices, stock and reviews; only the
``created_at``/``updated_at`` of rows written here depend on the clock. Faker is a
development dependency and is deliberately not used: the demo catalog must load on a
production-shaped install.

The load is set-based because it has to put 100,000 books into Postgres in well under a
minute: rows are generated in memory a batch at a time and written with ``COPY`` (Postgres)
or ``executemany`` (SQLite), then the shown ratings are computed by one SQL ``UPDATE``.
No ``books_changed`` event is sent: a search index is rebuilt from scratch after a seed
instead of receiving 100,000 single-book events, and the hot records are backfilled
(``dynamo_sync --backfill``; until then the partner API reads the new books from Postgres).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from catalog.isbn import isbn13_check_digit
from catalog.maintenance import VacuumReport, tables_vacuum_analyze
from catalog.models import Author, Book, BookAuthor, Category, Inventory, Review, Tag
from catalog.services import books_refresh_ratings, category_get_or_create_path
from cloudshelf.database import rows_insert

MAX_BOOKS = 1_000_000
# The catalog tables a seed writes (and the reviewers' user table): VACUUM ANALYZEd after
# the load (``catalog.maintenance``).
SEEDED_MODELS: tuple[type[models.Model], ...] = (
    Book,
    BookAuthor,
    Author,
    Category,
    Inventory,
    Review,
    Tag,
    Book.tags.through,
)

# Publication dates and review dates are spread back from this fixed day rather than from
# today, so a seed gives the same catalog whichever day it runs.
REFERENCE_DATE = date(2026, 1, 1)

# --- The category tree ------------------------------------------------------------------
# root -> child -> grandchildren; a child with no grandchildren is itself a leaf. Books are
# attached to leaves only. The third element of each root is its writing "style", which
# picks the title and description templates.

CATEGORY_TREE: dict[str, tuple[str, dict[str, list[str]]]] = {
    "Fiction": (
        "fiction",
        {
            "Fantasy": ["Epic Fantasy", "Urban Fantasy", "Sword & Sorcery"],
            "Science Fiction": ["Space Opera", "Cyberpunk", "Dystopian", "Time Travel"],
            "Mystery & Thriller": ["Detective", "Cozy Mystery", "Psychological Thriller", "Espionage"],
            "Romance": ["Historical Romance", "Contemporary Romance", "Romantic Comedy"],
            "Horror": ["Gothic", "Supernatural"],
            "Literary Fiction": [],
            "Historical Fiction": [],
        },
    ),
    "Non-fiction": (
        "history",
        {
            "History": ["Ancient History", "Medieval History", "Modern History", "Military History"],
            "Biography & Memoir": ["Political Biography", "Memoir", "Artists & Musicians"],
            "Politics & Society": [],
            "Travel": [],
            "True Crime": [],
        },
    ),
    "Science & Nature": (
        "science",
        {
            "Physics": ["Cosmology", "Quantum Physics"],
            "Biology": ["Evolution", "Genetics"],
            "Natural History": ["Birds", "Oceans"],
            "Mathematics": [],
        },
    ),
    "Business & Economics": (
        "business",
        {
            "Economics": ["Behavioral Economics", "Economic History"],
            "Management": ["Leadership", "Strategy"],
            "Personal Finance": [],
            "Entrepreneurship": [],
        },
    ),
    "Technology & Computing": (
        "technology",
        {
            "Programming": ["Python", "Web Development", "Algorithms"],
            "Data & AI": ["Machine Learning", "Data Science"],
            "Networking & Security": [],
            "Software Engineering": [],
        },
    ),
    "Arts & Culture": (
        "arts",
        {
            "Art History": [],
            "Photography": [],
            "Music": ["Classical Music", "Jazz"],
            "Film & Television": [],
            "Architecture": [],
        },
    ),
    "Children & Young Adult": (
        "children",
        {
            "Picture Books": [],
            "Middle Grade": ["Middle Grade Adventure", "Middle Grade Fantasy"],
            "Young Adult": ["YA Fantasy", "YA Contemporary"],
        },
    ),
    "Lifestyle": (
        "lifestyle",
        {
            "Cooking": ["Baking", "Vegetarian Cooking", "World Cuisine"],
            "Health & Fitness": ["Nutrition", "Running"],
            "Home & Garden": ["Gardening", "Interior Design"],
            "Self-Help": ["Productivity", "Mindfulness"],
        },
    ),
}

# How much of the catalog each root holds (fiction dominates, as in any bookshop).
ROOT_WEIGHTS = {
    "Fiction": 34,
    "Non-fiction": 16,
    "Science & Nature": 9,
    "Business & Economics": 8,
    "Technology & Computing": 8,
    "Arts & Culture": 6,
    "Children & Young Adult": 11,
    "Lifestyle": 8,
}


def _words(text: str) -> tuple[str, ...]:
    """A word list written as running text, so the lists stay short on the page."""
    return tuple(text.split())


# --- Names --------------------------------------------------------------------------------

FIRST_NAMES = _words(
    """
    Ada Adrian Aiko Alan Alice Amara Amelia Ana Andrea Anna Arjun Astrid Beatrice Ben Bianca Carlos Caroline
    Catherine Chen Chloe Claire Daniel David Diego Dmitri Eleanor Elena Elif Elias Eliza Emil Emily Emma Ethan
    Farah Felix Fiona Francesca Gabriel Grace Hannah Hassan Helen Henrik Hugo Ingrid Isaac Isabel Ivan Jack
    James Jana Javier Jonas Jorge Julia Julian Kai Karin Kenji Laila Lars Laura Leo Lina Lucas Lucia Luis Magnus
    Malik Maria Marta Martin Mateo Maya Mei Miguel Mira Nadia Naomi Nathan Nia Nikolai Nina Noah Nora Olga
    Oliver Omar Oscar Paolo Paula Peter Priya Rafael Rahul Rosa Ruth Samuel Sara Sebastian Sofia Stefan Tariq
    Teresa Thomas Tobias Valentina Victor Walter Wen Yara Yusuf Zoe
    """
)

LAST_NAMES = _words(
    """
    Abbott Adeyemi Alvarez Andersen Arnold Bauer Becker Bennett Bergström Blackwood Brennan Brooks Calloway
    Castillo Chandra Clarke Costa Crane Dalton Davies Delacroix Dubois Eriksen Esposito Falk Fernandes Fischer
    Fitzgerald Fontaine Garcia Gallagher Greer Gupta Hadley Hale Hartmann Haugen Hayes Holloway Ibarra Ishikawa
    Jansen Jensen Kaplan Keller Kimura Kowalski Lambert Larsen Lindqvist Lombardi Lucas Madsen Marchetti Marlowe
    Mercer Moreau Morrison Nakamura Navarro Nguyen Novak Okafor Olsen Ortega Osei Park Pereira Petrov Quinn
    Ramirez Rasmussen Reyes Ricci Romano Rossi Sandoval Santos Schmidt Schneider Sharma Silva Sinclair Sokolov
    Stone Sullivan Takahashi Tanaka Thornton Torres Vance Varga Vasquez Vogel Wagner Walsh Weber Whitaker Winter
    Wolfe Yamamoto Young Zhang Zimmermann
    """
)

PUBLISHERS = (
    "Harbor & Finch",
    "Northwind Press",
    "Blue Lantern Books",
    "Meridian House",
    "Copperleaf Publishing",
    "Stillwater Editions",
    "Kestrel Books",
    "Old Quay Press",
    "Larkspur & Gray",
    "Fieldstone Publishers",
    "Tidewater Books",
    "Half Moon Press",
    "Ironbridge House",
    "Wren & Ashby",
    "Cedar Hill Books",
    "Brightwater Press",
    "Saltmarsh Editions",
    "Quillon Publishing",
    "Amberly House",
    "Greyfriars Press",
    "Foxglove Books",
    "Westgate Academic",
    "Silver Birch Press",
    "Lighthouse Children's Books",
    "Parallax Technical",
)

TAGS = (
    "Award Winner",
    "Book Club Pick",
    "Debut",
    "Staff Pick",
    "Series",
    "Illustrated",
    "Signed Edition",
    "New Edition",
    "Gift Idea",
    "Summer Read",
    "Page-Turner",
    "Short Read",
    "Essential Reading",
    "Hidden Gem",
    "Coming of Age",
    "Based on a True Story",
    "Beginner Friendly",
    "Reference",
)
BESTSELLER_TAG = "Bestseller"
CLASSIC_TAG = "Classic"
TRANSLATED_TAG = "In Translation"

# Weighted: mostly English, some French, German, Spanish and Italian.
LANGUAGES = ("en", "fr", "de", "es", "it")
LANGUAGE_WEIGHTS = (84, 5, 4, 5, 2)

# --- Title and description vocabulary -------------------------------------------------------

ADJECTIVES = _words(
    """
    Silent Hidden Last Lost Broken Golden Crimson Distant Forgotten Burning Hollow Quiet Endless Secret Wild
    Dark Bright Winter Summer Northern Iron Glass Silver Sleeping Shattered Restless Midnight Painted Drowned
    Fallen Borrowed Unfinished Wandering Salt Paper Stolen Invisible Ninth Second
    """
)
NOUNS = _words(
    """
    River Garden House Kingdom City Shore Harbor Mountain Island Crown Sea Forest Road Tower Mirror Letter Map
    Orchard Bridge Lantern Storm Archive Compass Library Station Cathedral Lighthouse Promise Inheritance Season
    Frontier Voyage Signal Witness Daughter Son Stranger Keeper Cartographer Thief Queen Clockmaker
    """
)
PLURAL_NOUNS = _words(
    """
    Stars Bones Shadows Tides Ashes Echoes Ghosts Wolves Ravens Roses Kings Rivers Islands Embers Whispers
    Lanterns Secrets Saints Machines Oceans Winters Mirrors
    """
)
PLACES = (
    "Venice",
    "Alexandria",
    "Lisbon",
    "Kyoto",
    "Marrakesh",
    "Prague",
    "Samarkand",
    "Oslo",
    "Havana",
    "Cairo",
    "Istanbul",
    "Vienna",
    "Edinburgh",
    "Valparaíso",
    "Tangier",
    "Nairobi",
    "the North",
    "the Valley",
    "the Marsh",
    "the Old Quarter",
)
CITIES = tuple(place for place in PLACES if not place.startswith("the "))
PRACTICAL_ADJECTIVES = ("Essential", "Complete", "Practical", "Modern", "Busy Person's", "Beginner's", "Pocket")
SERIES_WORDS = ("Chronicles", "Saga", "Cycle", "Trilogy", "Quartet", "Annals", "Sequence")
ABSTRACT_NOUNS = _words(
    """
    Power Memory Trust Attention Money Empire Freedom Habit Curiosity Change Risk Influence Time Silence
    Belonging Progress Uncertainty Ambition Wonder Scale
    """
)
GERUNDS = _words(
    """
    Thinking Building Leading Seeing Listening Deciding Learning Making Writing Growing Living Working
    Remembering Navigating Measuring
    """
)

FICTION_PLOTS = (
    "After twenty years away, {name} returns to {place}, where the {noun_lower} has been waiting.",
    "{name} has spent a lifetime avoiding the {noun}. Now it is the only way home.",
    "In a {adj_lower} corner of {place}, a {noun_lower} keeps a secret that could undo a kingdom.",
    "Three strangers, one {noun_lower}, and a summer in {place} that none of them will forget.",
    "{name} never believed the stories about the {plural_lower} of {place} — until the night they came back.",
    "A missing letter, a {adj_lower} inheritance and a family that has lied for three generations.",
    "The war is over, but in {place} the {plural_lower} are still counting their dead.",
    "{name} is the best {noun_lower} in {place}, and the only one who knows what really happened.",
)
FICTION_PRAISE = (
    "A {adj_lower}, spellbinding novel about love, loss and the stories we tell ourselves.",
    "Told with wit and tenderness, this is storytelling at its most generous.",
    "Propulsive, atmospheric and impossible to put down.",
    "The long-awaited new novel from one of the most distinctive voices of our time.",
    "Richly imagined and quietly devastating.",
    "Part adventure, part love story, wholly unforgettable.",
)
NONFICTION_OPENERS = (
    "Drawing on years of research, {name} tells the story of {topic_lower} as it has never been told.",
    "How did {topic_lower} come to shape the world we live in? {name} has the answer.",
    "From {place} to the present day, this is the definitive account of {topic_lower}.",
    "{name} brings a lifetime of experience to an accessible, practical guide to {topic_lower}.",
    "An authoritative and surprisingly entertaining introduction to {topic_lower}.",
    "Clear, rigorous and full of examples, this book explains {topic_lower} from first principles.",
)
NONFICTION_CLOSERS = (
    "Essential reading for anyone curious about how the world works.",
    "Illustrated throughout, with notes, a bibliography and an index.",
    "A book that will change the way you think.",
    "Includes exercises, case studies and further reading.",
    "Written for the general reader, trusted by specialists.",
    "Now revised and updated for a new generation of readers.",
)
CHILDREN_LINES = (
    "{name} the {noun_lower} has never been brave. But tonight, the {plural_lower} need a hero.",
    "A warm, funny story about friendship, courage and one very stubborn {noun_lower}.",
    "Perfect for reading aloud, with bright illustrations on every page.",
    "The first adventure in a thrilling new series.",
    "Magic, mischief and a map that nobody was supposed to find.",
)
LIFESTYLE_LINES = (
    "More than a hundred tested recipes and ideas for every season.",
    "Practical, encouraging and beautifully photographed.",
    "Simple habits, clear steps and real results, from an expert who has seen it all.",
    "Everything you need to get started with {topic_lower}, and plenty to keep you going.",
    "A friendly, no-nonsense guide for busy people.",
)

REVIEW_TITLES = {
    5: ("Loved it", "A new favourite", "Couldn't put it down", "Outstanding", "Worth every page", "Brilliant"),
    4: ("Really enjoyed it", "Very good", "Recommended", "Great read", "Solid and satisfying"),
    3: ("Decent", "Good but uneven", "It was fine", "Mixed feelings", "Some great moments"),
    2: ("Disappointing", "Not for me", "Slow going", "Expected more"),
    1: ("Could not finish", "Did not work for me", "Very disappointing"),
}
REVIEW_SENTENCES = {
    5: (
        "I read it in two sittings.",
        "The writing is gorgeous and the ending is perfect.",
        "I have already bought copies for friends.",
        "Easily the best thing I have read this year.",
        "Every chapter surprised me.",
    ),
    4: (
        "A little slow in the middle, but well worth it.",
        "Thoughtful and well written.",
        "I would happily read more by this author.",
        "The characters stayed with me for days.",
        "Clear, engaging and well researched.",
    ),
    3: (
        "Parts of it were excellent, others dragged.",
        "I liked the premise more than the execution.",
        "Worth a read if the subject interests you.",
        "The first half is stronger than the second.",
    ),
    2: (
        "I struggled to stay interested.",
        "The ideas are fine but the writing is flat.",
        "Too long for what it has to say.",
    ),
    1: (
        "I gave up after a hundred pages.",
        "Nothing about it worked for me.",
        "Poorly edited and hard to follow.",
    ),
}

# Typical page counts (median) per style: a picture book is short, a programming book is not.
STYLE_PAGES = {
    "fiction": 340,
    "history": 380,
    "science": 320,
    "business": 270,
    "technology": 460,
    "arts": 240,
    "children": 180,
    "lifestyle": 230,
}

# ISBN bodies are ``(start + index * ISBN_STRIDE) mod 10**9``; the stride is coprime with
# 10**9, so a seed's ISBNs never repeat and do not look like a counter.
ISBN_STRIDE = 387_420_489


class SeedError(Exception):
    """The seed was refused; ``str(error)`` explains why and what to do instead."""


@dataclass(frozen=True)
class Leaf:
    """A leaf category books can be attached to, with the style its titles are written in."""

    category_id: int
    name: str
    style: str


@dataclass
class SeedSummary:
    """What a seed wrote, for the command's final line."""

    books: int = 0
    authors: int = 0
    reviewers: int = 0
    reviews: int = 0
    categories: int = 0
    seconds: float = 0.0
    isbns_redrawn: int = 0  # books given another ISBN because the catalog already held theirs
    vacuum: VacuumReport = field(default_factory=VacuumReport)


@dataclass
class _AuthorPlan:
    name: str
    slug: str
    bio: str
    language: str
    publisher: str
    leaves: tuple[int, int]  # indexes into the leaf list: a home category and a second one


@dataclass
class _Batch:
    books: list[tuple[Any, ...]] = field(default_factory=list)
    isbns: list[str] = field(default_factory=list)
    author_slots: list[list[int]] = field(default_factory=list)  # per book: author indexes, credit order
    stock: list[int] = field(default_factory=list)
    tag_slots: list[list[int]] = field(default_factory=list)
    reviews: list[list[tuple[int, int, str, str, datetime]]] = field(default_factory=list)


def books_in_words(count: int) -> str:
    """``1 book``, ``3,000 books``: for messages about the catalog's size."""
    return f"{count:,} book" if count == 1 else f"{count:,} books"


def isbn_for(start: int, index: int) -> str:
    """The ``index``-th ISBN-13 of a seed whose ISBN sequence begins at ``start``."""
    body = (start + index * ISBN_STRIDE) % 1_000_000_000
    first_twelve = f"978{body:09d}"
    return first_twelve + str(isbn13_check_digit(first_twelve))


def category_tree_paths() -> list[tuple[list[str], str]]:
    """Every leaf of ``CATEGORY_TREE`` as (names from the root, style), in a fixed order."""
    leaves: list[tuple[list[str], str]] = []
    for root, (style, children) in CATEGORY_TREE.items():
        for child, grandchildren in children.items():
            if grandchildren:
                leaves.extend(([root, child, grandchild], style) for grandchild in grandchildren)
            else:
                leaves.append(([root, child], style))
    return leaves


def catalog_seed(
    *,
    books: int,
    seed: int,
    append: bool = False,
    batch_size: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
) -> SeedSummary:
    """Add ``books`` synthetic books (with authors, categories, stock and reviews) to the catalog.

    Refuses a catalog that already has books unless ``append`` is set. On an append, a book
    whose ISBN is already taken gets another one (``_redraw_taken_isbns``), counted in
    ``SeedSummary.isbns_redrawn``. Everything is written in one transaction, so a seed never
    half-loads. ``progress(done, total)`` is called after each batch of books.
    """
    if not 1 <= books <= MAX_BOOKS:
        raise SeedError(f"A seed makes between 1 and {MAX_BOOKS:,} books (asked for {books:,}).")
    started = time.monotonic()
    rng = random.Random(seed)
    isbn_start = rng.randrange(1_000_000_000)
    catalog_was_empty = not Book.objects.exists()
    if not catalog_was_empty and not append:
        raise SeedError(
            f"The catalog already has {books_in_words(Book.objects.count())}. Use --if-empty to skip seeding a "
            "catalog that has books, or --append to add more."
        )
    # A fresh catalog cannot hold any of the seed's ISBNs; a real import or another seed may.
    redrawn_isbns = {} if catalog_was_empty else _redraw_taken_isbns(isbn_start, books)

    summary = SeedSummary(isbns_redrawn=len(redrawn_isbns))
    with transaction.atomic():
        leaves = _seed_categories()
        tag_ids = _seed_tags()
        authors = _plan_authors(rng, books, len(leaves))
        author_ids = _seed_authors(authors)
        reviewer_ids = _seed_reviewers(rng, _reviewer_count(books))
        lead_authors = _plan_lead_authors(rng, books, len(authors))
        highest_book_id = Book.objects.aggregate(highest=models.Max("id"))["highest"] or 0
        newest_book_id = highest_book_id
        summary.categories = Category.objects.count()
        summary.authors, summary.reviewers = len(authors), len(reviewer_ids)

        now = timezone.now()
        for batch_start in range(0, books, batch_size):
            batch_end = min(batch_start + batch_size, books)
            batch = _Batch()
            for index in range(batch_start, batch_end):
                _plan_book(
                    rng,
                    batch,
                    isbn=redrawn_isbns.get(index) or isbn_for(isbn_start, index),
                    lead_author=lead_authors[index],
                    authors=authors,
                    leaves=leaves,
                    tag_count=len(tag_ids),
                    reviewer_count=len(reviewer_ids),
                    now=now,
                )
            written_reviews, newest_book_id = _write_batch(
                batch, author_ids=author_ids, tag_ids=tag_ids, reviewer_ids=reviewer_ids, after_book_id=newest_book_id
            )
            summary.reviews += written_reviews
            summary.books = batch_end
            if progress is not None:
                progress(batch_end, books)

        if catalog_was_empty:
            books_refresh_ratings()
        else:
            new_ids = Book.objects.filter(pk__gt=highest_book_id).values_list("pk", flat=True)
            books_refresh_ratings(book_ids=list(new_ids))

    # Outside the transaction: VACUUM cannot run inside one.
    summary.vacuum = tables_vacuum_analyze((*SEEDED_MODELS, get_user_model()))
    summary.seconds = time.monotonic() - started
    return summary


def _reviewer_count(books: int) -> int:
    return max(25, min(5000, books // 20))


def _redraw_taken_isbns(isbn_start: int, books: int) -> dict[int, str]:
    """Another ISBN for each of the seed's books whose ISBN the catalog already holds, by book index.

    A real import shares the 978 prefix, so at a million books a handful of collisions is all
    but certain. Replacements continue the seed's own sequence past its last book (index
    ``books``, ``books + 1``, …), so they never repeat one of its ISBNs, and the outcome depends
    only on the seed and the catalog. Collisions are looked up in batches, never per book.
    """
    pending: list[int] = []  # indexes of books whose ISBN is taken, in order
    for first in range(0, books, _ISBN_LOOKUP_BATCH):
        isbns = {isbn_for(isbn_start, index): index for index in range(first, min(first + _ISBN_LOOKUP_BATCH, books))}
        pending.extend(sorted(isbns[isbn] for isbn in _taken_isbns(list(isbns))))
    replacements: dict[int, str] = {}
    next_index = books
    while pending:
        if next_index + len(pending) > 1_000_000_000:
            raise SeedError("The catalog holds too many of this seed's ISBNs to redraw them; use another --seed.")
        candidates = [isbn_for(isbn_start, next_index + offset) for offset in range(len(pending))]
        next_index += len(pending)
        taken = _taken_isbns(candidates)
        still_taken = []
        for index, candidate in zip(pending, candidates, strict=True):
            if candidate in taken:
                still_taken.append(index)
            else:
                replacements[index] = candidate
        pending = still_taken
    return replacements


# ISBNs looked up per step of the redraw (one query on Postgres).
_ISBN_LOOKUP_BATCH = 20_000


def _taken_isbns(isbns: Sequence[str]) -> set[str]:
    """Those of ``isbns`` that books in the catalog already have.

    On Postgres the batch goes as one array parameter (``= ANY(%s)``): a 20,000-placeholder
    ``IN`` costs three times as long to build and parse (900,000 ISBNs against a million
    books: 4 s instead of 12 s). SQLite allows 999 parameters, so it is asked 900 at a time.
    """
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        table, column = quote(Book._meta.db_table), quote(str(Book._meta.get_field("isbn13").column))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", [list(isbns)])
            return {isbn for (isbn,) in cursor.fetchall()}
    taken: set[str] = set()
    for first in range(0, len(isbns), 900):
        taken.update(Book.objects.filter(isbn13__in=isbns[first : first + 900]).values_list("isbn13", flat=True))
    return taken


def _seed_categories() -> list[Leaf]:
    """Create the category tree (idempotently, via the service that derives paths) and list its leaves."""
    return [
        Leaf(category_id=category_get_or_create_path(names=names).pk, name=names[-1], style=style)
        for names, style in category_tree_paths()
    ]


def _seed_tags() -> list[int]:
    """Tag ids, in the order: the general tags, then bestseller, classic, in translation."""
    ids = []
    for name in (*TAGS, BESTSELLER_TAG, CLASSIC_TAG, TRANSLATED_TAG):
        tag, _ = Tag.objects.get_or_create(slug=slugify(name), defaults={"name": name})
        ids.append(tag.pk)
    return ids


def _plan_authors(rng: random.Random, books: int, leaf_count: int) -> list[_AuthorPlan]:
    """About one author per 3.5 books, with unique slugs built from the name lists."""
    count = max(1, min(books, round(books / 3.5)))
    leaf_weights = _leaf_weights()
    cumulative = list(itertools.accumulate(leaf_weights))
    used: set[str] = set()
    authors: list[_AuthorPlan] = []
    while len(authors) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        attempts = 0
        while slugify(name) in used:
            attempts += 1
            initials = " ".join(f"{rng.choice('ABCDEFGHJKLMNPRSTVW')}." for _ in range(1 + attempts // 8))
            name = f"{first} {initials} {last}"
        slug = slugify(name)
        used.add(slug)
        home = bisect.bisect(cumulative, rng.random() * cumulative[-1])
        second = bisect.bisect(cumulative, rng.random() * cumulative[-1])
        language = rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0]
        publisher = rng.choice(PUBLISHERS)
        bio = f"{name} is the author of several books and lives in {rng.choice(CITIES)}." if rng.random() < 0.6 else ""
        authors.append(
            _AuthorPlan(
                name=name,
                slug=slug,
                bio=bio,
                language=language,
                publisher=publisher,
                leaves=(min(home, leaf_count - 1), min(second, leaf_count - 1)),
            )
        )
    return authors


def _leaf_weights() -> list[float]:
    """Each leaf's share of books: its root's weight split evenly over the root's leaves."""
    paths = category_tree_paths()
    leaves_per_root: dict[str, int] = {}
    for names, _style in paths:
        leaves_per_root[names[0]] = leaves_per_root.get(names[0], 0) + 1
    return [ROOT_WEIGHTS[names[0]] / leaves_per_root[names[0]] for names, _style in paths]


def _plan_lead_authors(rng: random.Random, books: int, author_count: int) -> list[int]:
    """Which author leads each book: everyone writes one, prolific authors (Pareto) write many."""
    # Capped, so the most prolific author has a few dozen books rather than hundreds.
    weights = [min(25.0, rng.paretovariate(1.5)) for _ in range(author_count)]
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    leads = list(range(author_count))
    leads.extend(
        min(bisect.bisect(cumulative, rng.random() * total), author_count - 1) for _ in range(books - author_count)
    )
    rng.shuffle(leads)
    return leads


def _seed_authors(authors: Sequence[_AuthorPlan]) -> list[int]:
    """Create the planned authors (reusing any that already exist with the same slug); ids in plan order."""
    Author.objects.bulk_create(
        [Author(name=author.name, slug=author.slug, bio=author.bio) for author in authors],
        batch_size=2000,
        ignore_conflicts=True,
    )
    ids_by_slug = _ids_by_key(Author, "slug", [author.slug for author in authors])
    return [ids_by_slug[author.slug] for author in authors]


def _seed_reviewers(rng: random.Random, count: int) -> list[int]:
    """Reviewer accounts that cannot log in (an unusable password costs no hashing)."""
    user_model = get_user_model()
    users = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        username = f"{slugify(first)}.{slugify(last)}{index + 1}"
        users.append(
            user_model(
                username=username,
                email=f"{username}@example.com",
                first_name=first,
                last_name=last,
                password=make_password(None),
            )
        )
    user_model.objects.bulk_create(users, batch_size=1000, ignore_conflicts=True)
    usernames = [user.username for user in users]
    ids_by_username = _ids_by_key(user_model, "username", usernames)
    return [ids_by_username[username] for username in usernames]


def _ids_by_key(model: type[models.Model], key: str, values: Sequence[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for first in range(0, len(values), 900):
        chunk = values[first : first + 900]
        ids.update(model._default_manager.filter(**{f"{key}__in": chunk}).values_list(key, "pk"))
    return ids


def _plan_book(
    rng: random.Random,
    batch: _Batch,
    *,
    isbn: str,
    lead_author: int,
    authors: Sequence[_AuthorPlan],
    leaves: Sequence[Leaf],
    tag_count: int,
    reviewer_count: int,
    now: datetime,
) -> None:
    """Draw one book and append its rows to ``batch``. Draw order is fixed: it is the seed's contract."""
    author = authors[lead_author]
    roll = rng.random()
    leaf_index = author.leaves[0] if roll < 0.8 else author.leaves[1] if roll < 0.95 else rng.randrange(len(leaves))
    leaf = leaves[leaf_index]

    title, subtitle = _title(rng, leaf)
    description = _description(rng, leaf, author)

    # Popularity (recent units sold) is Pareto-distributed: most books sell a little, a few sell a lot.
    popularity = min(1_000_000, int((rng.paretovariate(1.3) - 1) * 40))
    quality = min(4.8, max(2.2, rng.gauss(3.95, 0.3)))
    # About 8% of books have no ratings yet; the rest have more the better they sell.
    has_ratings = rng.random() >= 0.08
    external_count = int(popularity * rng.lognormvariate(0.5, 1.0)) + rng.randint(0, 6) if has_ratings else 0
    if external_count:
        spread = 0.9 / math.sqrt(external_count)
        external_average = Decimal(f"{min(5.0, max(1.0, rng.gauss(quality, spread))):.2f}")
    else:
        external_average = Decimal("0.00")

    years_back = int(70 * rng.random() ** 2.2)
    publication = date(REFERENCE_DATE.year - 1 - years_back, 1, 1) + timedelta(days=rng.randrange(365))
    language = author.language if rng.random() < 0.95 else rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0]
    median_pages = STYLE_PAGES[leaf.style]
    pages = max(24, min(1600, int(rng.lognormvariate(math.log(median_pages), 0.35))))
    publisher = author.publisher if rng.random() < 0.7 else rng.choice(PUBLISHERS)
    price = _price(rng, pages)

    stock_roll = rng.random()
    if stock_roll < 0.08:
        stock = 0
    elif stock_roll < 0.16:
        stock = rng.randint(1, 5)
    else:
        stock = max(6, min(900, int(rng.lognormvariate(math.log(40), 0.8))))

    author_slots = [lead_author]
    for share in (0.1, 0.02):
        if rng.random() < share:
            co_author = rng.randrange(len(authors))
            if co_author not in author_slots:
                author_slots.append(co_author)

    tag_slots: list[int] = []
    general_tags = tag_count - 3
    for _ in range(rng.choices((0, 1, 2, 3), weights=(35, 35, 20, 10))[0]):
        tag = rng.randrange(general_tags)
        if tag not in tag_slots:
            tag_slots.append(tag)
    if popularity >= 800:
        tag_slots.append(general_tags)  # bestseller
    if years_back >= 40 and popularity >= 100:
        tag_slots.append(general_tags + 1)  # classic
    if language != "en":
        tag_slots.append(general_tags + 2)  # in translation

    # Popular books collect several reviews; one per reviewer (they are sampled without replacement).
    review_count = min(reviewer_count, 30, int(popularity / 120 + rng.random()))
    reviews = []
    for reviewer in rng.sample(range(reviewer_count), review_count):
        rating = max(1, min(5, round(rng.gauss(quality, 0.9))))
        review_title = rng.choice(REVIEW_TITLES[rating])
        body = " ".join(rng.sample(REVIEW_SENTENCES[rating], rng.randint(1, 3)))
        days_after_publication = rng.randrange(max(1, (REFERENCE_DATE - publication).days))
        written = datetime.combine(publication, datetime.min.time(), tzinfo=UTC) + timedelta(
            days=days_after_publication, seconds=rng.randrange(86_400)
        )
        reviews.append((reviewer, rating, review_title, body, written))

    batch.isbns.append(isbn)
    batch.books.append(
        (
            isbn,
            title,
            subtitle,
            slugify(title)[:320] or "book",
            description,
            price,
            "USD",
            publication,
            language,
            pages,
            publisher,
            "",
            "",
            leaf.category_id,
            Decimal("0"),
            0,
            0,
            external_average,
            external_count,
            popularity,
            now,
            now,
        )
    )
    batch.author_slots.append(author_slots)
    batch.stock.append(stock)
    batch.tag_slots.append(tag_slots)
    batch.reviews.append(reviews)


BOOK_COLUMNS = (
    "isbn13",
    "title",
    "subtitle",
    "slug",
    "description",
    "price",
    "currency",
    "publication_date",
    "language",
    "page_count",
    "publisher",
    "cover_url",
    "cover_image",
    "category",
    "average_rating",
    "ratings_count",
    "review_count",
    "external_average_rating",
    "external_ratings_count",
    "popularity",
    "created_at",
    "updated_at",
)


def _price(rng: random.Random, pages: int) -> Decimal:
    """Between 7.99 and 49.99, rising with length, ending in .99 (mostly) or .49."""
    dollars = int(rng.gauss(9 + pages / 28, 4))
    if rng.random() < 0.8:
        return Decimal(f"{max(7, min(49, dollars))}.99")
    return Decimal(f"{max(8, min(49, dollars))}.49")


def _tidy_title(title: str) -> str:
    """Mend the start of a generated title: "A Island" → "An Island", "the Marsh…" → "The Marsh…"."""
    first, _, rest = title.partition(" ")
    if first == "A" and rest[:1].lower() in "aeiou" and rest:
        first = "An"
    return f"{first[:1].upper()}{first[1:]} {rest}" if rest else title[:1].upper() + title[1:]


def _title(rng: random.Random, leaf: Leaf) -> tuple[str, str]:
    """A title and (often empty) subtitle in the style of the book's category."""
    adjective, noun, plural = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(PLURAL_NOUNS)
    place = rng.choice(PLACES)
    # "A Short History of Ancient History" reads badly: history leaves lend an abstract topic instead.
    topic = leaf.name if "History" not in leaf.name else rng.choice(ABSTRACT_NOUNS)
    style = leaf.style
    if style in ("fiction", "children"):
        title = rng.choice(
            (
                f"The {adjective} {noun}",
                f"The {noun} of {plural}",
                f"A {noun} in {place}",
                f"{plural} of {place}",
                f"The {noun}'s {rng.choice(NOUNS)}",
                f"{adjective} {plural}",
                f"The Last {noun} of {place}",
                f"Where the {plural} Are",
            )
        )
        subtitle_roll = rng.random()
        if subtitle_roll < 0.15:
            subtitle = f"Book {rng.randint(1, 7)} of the {rng.choice(NOUNS)} {rng.choice(SERIES_WORDS)}"
        elif subtitle_roll < 0.25:
            subtitle = "A Novel" if style == "fiction" else "An Adventure"
        else:
            subtitle = ""
        return _tidy_title(title), subtitle
    abstract, gerund = rng.choice(ABSTRACT_NOUNS), rng.choice(GERUNDS)
    first_year = rng.randint(10, 19) * 100
    if style in ("history", "science", "arts"):
        title = rng.choice(
            (
                f"The {adjective} {noun}",
                f"{abstract} and {rng.choice(ABSTRACT_NOUNS)}",
                f"The Age of {abstract}",
                f"{place}: {abstract} and Empire",
                f"A Short History of {topic}",
                f"The {noun} and the {rng.choice(NOUNS)}",
                f"{topic}: A Very Human Story",
            )
        )
        subtitle = rng.choice(
            (
                f"How {abstract} Shaped the Modern World",
                f"A New History of {topic}",
                f"{first_year}-{first_year + rng.choice((50, 100, 150, 200))}",
                f"The Story of {topic}",
                "",
                "",
            )
        )
        return _tidy_title(title), subtitle
    # business, technology, lifestyle: practical books
    title = rng.choice(
        (
            f"The Art of {gerund}",
            f"{topic} in Practice",
            f"Learning {topic}",
            f"The {topic} Handbook",
            f"{gerund} {abstract}",
            f"Everyday {topic}",
            f"The {rng.choice(PRACTICAL_ADJECTIVES)} Guide to {topic}",
            f"{abstract} by Design",
        )
    )
    subtitle = rng.choice(
        (
            f"A Practical Guide to {abstract}",
            f"{rng.randint(3, 12)} Principles for {gerund} Well",
            f"{rng.choice(('Second', 'Third', 'Fourth'))} Edition",
            f"What Everyone Should Know About {topic}",
            "",
            "",
        )
    )
    return _tidy_title(title), subtitle


def _description(rng: random.Random, leaf: Leaf, author: _AuthorPlan) -> str:
    """Two or three sentences that read like a jacket blurb."""
    words = {
        "name": rng.choice(FIRST_NAMES),
        "place": rng.choice(PLACES),
        "noun": rng.choice(NOUNS),
        "noun_lower": rng.choice(NOUNS).lower(),
        "plural_lower": rng.choice(PLURAL_NOUNS).lower(),
        "adj_lower": rng.choice(ADJECTIVES).lower(),
        "topic_lower": leaf.name.lower() if leaf.style != "history" else rng.choice(ABSTRACT_NOUNS).lower(),
    }
    if leaf.style == "fiction":
        sentences = [rng.choice(FICTION_PLOTS), *rng.sample(FICTION_PRAISE, rng.randint(1, 2))]
    elif leaf.style == "children":
        sentences = rng.sample(CHILDREN_LINES, 2)
    elif leaf.style == "lifestyle":
        sentences = rng.sample(LIFESTYLE_LINES, 2)
    else:
        words["name"] = author.name
        sentences = [rng.choice(NONFICTION_OPENERS), *rng.sample(NONFICTION_CLOSERS, rng.randint(1, 2))]
    return " ".join(sentence.format(**words) for sentence in sentences)


def _write_batch(
    batch: _Batch,
    *,
    author_ids: Sequence[int],
    tag_ids: Sequence[int],
    reviewer_ids: Sequence[int],
    after_book_id: int,
) -> tuple[int, int]:
    """Write one batch of planned books and everything hanging off them.

    Returns the number of reviews written and the highest book id so far.
    """
    rows_insert(Book, BOOK_COLUMNS, batch.books)
    # COPY returns no ids. The batch's books are the ones above the previous highest id
    # (ids come from a sequence), matched to the plan by ISBN; the same works on SQLite.
    ids_by_isbn = dict(Book.objects.filter(pk__gt=after_book_id).values_list("isbn13", "pk"))
    book_ids = [ids_by_isbn[isbn] for isbn in batch.isbns]
    now = timezone.now()
    rows_insert(
        BookAuthor,
        ("book", "author", "position"),
        (
            (book_id, author_ids[author], position)
            for book_id, slots in zip(book_ids, batch.author_slots, strict=True)
            for position, author in enumerate(slots)
        ),
    )
    rows_insert(
        Inventory,
        ("book", "stock_on_hand", "updated_at"),
        ((book_id, stock, now) for book_id, stock in zip(book_ids, batch.stock, strict=True)),
    )
    through = Book.tags.through
    rows_insert(
        through,
        ("book", "tag"),
        ((book_id, tag_ids[tag]) for book_id, slots in zip(book_ids, batch.tag_slots, strict=True) for tag in slots),
    )
    review_rows = [
        (book_id, reviewer_ids[reviewer], rating, title, body, written, written)
        for book_id, reviews in zip(book_ids, batch.reviews, strict=True)
        for reviewer, rating, title, body, written in reviews
    ]
    rows_insert(Review, ("book", "user", "rating", "title", "body", "created_at", "updated_at"), review_rows)
    return len(review_rows), max(book_ids)
