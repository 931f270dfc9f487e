"""The catalog: books, their authors, categories, tags, reviews and stock.

``catalog`` is the bottom of the dependency graph: it imports nothing from ``cart``,
``search`` or ``analytics``. Writes go through ``catalog.services``; reads that build
pages go through ``catalog.selectors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from catalog.isbn import validate_isbn13


class Category(models.Model):
    """A node of the category tree.

    ``path`` is the slash-joined chain of slugs from the root (``fiction/fantasy``) and
    doubles as the browse URL; ``name_path`` is the same chain for people
    (``Fiction > Fantasy``); ``depth`` is 0 for roots. All three are derived from the
    parent chain by ``catalog.services`` and never edited by hand, so a lookup by URL
    is one indexed query and a breadcrumb needs no recursion.
    """

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120)
    parent = models.ForeignKey("self", null=True, blank=True, related_name="children", on_delete=models.PROTECT)
    path = models.CharField(max_length=400, unique=True, editable=False)
    name_path = models.CharField(max_length=600, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    description = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "slug"], name="category_unique_slug_per_parent"),
        ]

    def __str__(self) -> str:
        return self.name_path

    def get_absolute_url(self) -> str:
        return reverse("catalog:category", kwargs={"path": self.path})


class Author(models.Model):
    name = models.CharField(max_length=200, db_index=True)
    slug = models.SlugField(max_length=220, unique=True)
    bio = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:author", kwargs={"slug": self.slug})


class Tag(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class CoverRendition:
    """One stored copy of a fetched cover: ``name`` in the default storage, pixel size, format.

    Names hold a digest of the bytes, so a name never changes content and may be cached
    for ever. Kept as JSON on the book (``cover_renditions``): a listing reads them with
    the book row, no join.
    """

    name: str
    width: int
    height: int
    format: str  # "webp" (pages) or "jpeg" (Open Graph: not every crawler reads WebP)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> CoverRendition:
        return cls(name=str(item["name"]), width=int(item["width"]), height=int(item["height"]), format=item["format"])

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "width": self.width, "height": self.height, "format": self.format}


class BookQuerySet(models.QuerySet["Book"]):
    def for_listing(self) -> BookQuerySet:
        """Everything a book card shows, in a fixed number of queries whatever the page size.

        The one place that owns ``select_related``/``prefetch_related`` for listings.
        """
        return self.select_related("inventory").prefetch_related(
            models.Prefetch("book_authors", queryset=BookAuthor.objects.select_related("author").order_by("position"))
        )


class Book(models.Model):
    isbn13 = models.CharField("ISBN-13", max_length=13, unique=True, validators=[validate_isbn13])
    title = models.CharField(max_length=300)
    subtitle = models.CharField(max_length=300, blank=True)
    slug = models.SlugField(max_length=320)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, default="USD")
    publication_date = models.DateField(null=True, blank=True)
    # The "newest" sort key: the publication date, with undated books last. A stored
    # generated column rather than ``DESC NULLS LAST``, because SQLite (the embedded
    # default) cannot create an index with a NULLS modifier and Postgres can only walk an
    # index whose NULLS order matches the query's.
    publication_sort_date = models.GeneratedField(
        expression=Coalesce("publication_date", Value(date(1, 1, 1))),
        output_field=models.DateField(),
        db_persist=True,
    )
    language = models.CharField(max_length=8, default="en", help_text="ISO 639-1 code, e.g. en, fr")
    page_count = models.PositiveIntegerField(null=True, blank=True)
    publisher = models.CharField(max_length=200, blank=True)
    # Covers. ``cover_url`` is where an import says the cover is: a source only, never
    # linked from a page (a slow or gone host would show a broken image). ``cover_image``
    # is a cover staff uploaded, shown as it is. ``catalog.cover_fetch`` downloads
    # ``cover_url`` into media storage and records the resized copies in
    # ``cover_renditions`` (see ``CoverRendition``); pages show them only while
    # ``cover_source_url`` (what they were made from) is still the ``cover_url``.
    # Until then, or when the host fails, the generated cover shows. The rest is the
    # fetch's state, kept on the book so listings need no join (docs/covers.md).
    cover_url = models.URLField(max_length=500, blank=True)
    cover_image = models.ImageField(upload_to="covers/", blank=True)
    # Database defaults too: seed_catalog writes rows with COPY, naming only its columns.
    cover_renditions = models.JSONField(
        default=list, db_default=Value([], models.JSONField()), blank=True, editable=False
    )
    cover_source_url = models.URLField(max_length=500, blank=True, default="", db_default="", editable=False)
    cover_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    cover_fetch_failures = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    cover_fetch_error = models.CharField(max_length=300, blank=True, default="", db_default="", editable=False)
    cover_retry_at = models.DateTimeField(null=True, blank=True, editable=False)
    category = models.ForeignKey(Category, null=True, blank=True, related_name="books", on_delete=models.PROTECT)
    authors = models.ManyToManyField(Author, through="BookAuthor", related_name="books")
    tags = models.ManyToManyField(Tag, blank=True, related_name="books")

    # Ratings shown on the site. ``external_*`` is what an import brought from the
    # publisher's data feed; CloudShelf reviews are added on top of it by
    # ``catalog.services.book_refresh_rating`` whenever a review changes.
    average_rating = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0"))
    ratings_count = models.PositiveIntegerField(default=0)
    review_count = models.PositiveIntegerField(default=0)
    external_average_rating = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0"))
    external_ratings_count = models.PositiveIntegerField(default=0)
    # A relative sales signal (units sold recently); drives "bestselling" order and search boosts.
    popularity = models.PositiveIntegerField(default=0)
    # Version of the book's hot record in DynamoDB (catalog.hot): a database trigger adds 1 on
    # every UPDATE of the row, inside the writing transaction, whatever Django sent. The
    # record's version is this plus ``Inventory.hot_version`` (docs/hot-data.md).
    hot_version = models.BigIntegerField(default=0, db_default=0, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BookQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="book_price_not_negative"),
            models.CheckConstraint(
                condition=Q(average_rating__gte=0) & Q(average_rating__lte=5), name="book_average_rating_0_to_5"
            ),
        ]
        # One index per browse order, for the whole catalog and within a category. The
        # trailing id makes every order total, so pagination never repeats or skips.
        indexes = [
            models.Index(F("popularity").desc(), "id", name="book_by_popularity"),
            models.Index(F("category"), F("popularity").desc(), "id", name="book_cat_by_popularity"),
            models.Index("price", "id", name="book_by_price"),
            models.Index("category", "price", "id", name="book_cat_by_price"),
            models.Index(F("average_rating").desc(), F("ratings_count").desc(), "id", name="book_by_rating"),
            models.Index(
                F("category"), F("average_rating").desc(), F("ratings_count").desc(), "id", name="book_cat_by_rating"
            ),
            models.Index(F("publication_sort_date").desc(), "id", name="book_by_newest"),
            models.Index(F("category"), F("publication_sort_date").desc(), "id", name="book_cat_by_newest"),
            models.Index("title", "id", name="book_by_title"),
            models.Index("category", "title", "id", name="book_cat_by_title"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalog:book", kwargs={"isbn13": self.isbn13, "slug": self.slug})

    @property
    def author_credits(self) -> list[tuple[int, str]]:
        """``(author id, name)`` in credit order: as fetched for a whole page at once
        (``set_author_credits``), else from the ``for_listing`` prefetch when present."""
        credits = self.__dict__.get("_author_credits")
        if credits is not None:
            return credits
        return [(link.author_id, link.author.name) for link in self.book_authors.all()]

    @property
    def author_names(self) -> list[str]:
        """Author names in credit order (see ``author_credits``)."""
        return [name for _, name in self.author_credits]

    def set_author_credits(self, credits: list[tuple[int, str]]) -> None:
        """Give the book its credits, fetched in bulk for a page of books (``books_in_order``)."""
        self.__dict__["_author_credits"] = credits

    @property
    def fetched_cover(self) -> list[CoverRendition]:
        """The fetched copies of the current ``cover_url``, smallest first; ``[]`` when there are none.

        Copies of an earlier ``cover_url`` are not the book's cover any more, so they
        are not returned even before the new one is fetched.
        """
        if not self.cover_url or self.cover_source_url != self.cover_url or self.cover_fetched_at is None:
            return []
        return [CoverRendition.from_json(item) for item in self.cover_renditions or []]

    @property
    def stock_on_hand(self) -> int:
        inventory = getattr(self, "inventory", None)
        return inventory.stock_on_hand if inventory is not None else 0

    @property
    def is_in_stock(self) -> bool:
        return self.stock_on_hand > 0

    @property
    def is_low_stock(self) -> bool:
        return 0 < self.stock_on_hand <= settings.CATALOG_LOW_STOCK_THRESHOLD


class BookAuthor(models.Model):
    """Links a book to an author, keeping the credit order (``position`` 0 is the lead)."""

    book = models.ForeignKey(Book, related_name="book_authors", on_delete=models.CASCADE)
    author = models.ForeignKey(Author, related_name="author_books", on_delete=models.CASCADE)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["book", "author"], name="book_author_unique")]
        indexes = [models.Index(fields=["author", "book"], name="book_author_by_author")]

    def __str__(self) -> str:
        return f"{self.author} on {self.book}"


class Inventory(models.Model):
    """Stock on hand for one book. Decrements go through ``F()`` updates or row locks only."""

    book = models.OneToOneField(Book, related_name="inventory", on_delete=models.CASCADE, primary_key=True)
    stock_on_hand = models.PositiveIntegerField(default=0)
    # Bumped by a trigger on every UPDATE (checkout's F() decrements included); 1 on insert so
    # a row appearing raises the book's hot record version too (see ``Book.hot_version``).
    hot_version = models.BigIntegerField(default=1, db_default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "inventory"
        constraints = [models.CheckConstraint(condition=Q(stock_on_hand__gte=0), name="inventory_stock_not_negative")]

    def __str__(self) -> str:
        return f"{self.book_id}: {self.stock_on_hand}"


class Review(models.Model):
    book = models.ForeignKey(Book, related_name="reviews", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="reviews", on_delete=models.CASCADE)
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=10_000)
    # The reviewer bought the book here (a paid or shipped order line): set by the review
    # services through ``catalog.purchases``; anyone may review, this only marks who bought.
    verified_purchase = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["book", "user"], name="review_one_per_user_per_book"),
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"),
        ]
        indexes = [
            models.Index(F("book"), F("created_at").desc(), F("id").desc(), name="review_by_book_newest"),
            # The book page's "verified purchases" filter: its page and its count.
            models.Index(
                F("book"),
                F("created_at").desc(),
                F("id").desc(),
                condition=Q(verified_purchase=True),
                name="review_verified_by_book",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}★ {self.title}"
