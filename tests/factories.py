"""factory_boy factories for the catalog and users. Every ISBN they make is valid."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils.text import slugify

from catalog.isbn import isbn13_check_digit
from catalog.models import Author, Book, BookAuthor, Category, Inventory, Review, Tag

_isbn_counter = itertools.count(1)


def next_isbn13() -> str:
    """A fresh, valid ISBN-13 (978 prefix, correct check digit)."""
    first_twelve = f"978{next(_isbn_counter):09d}"
    return first_twelve + str(isbn13_check_digit(first_twelve))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"reader{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.LazyAttribute(lambda category: slugify(category.name))
    parent = None
    path = factory.LazyAttribute(
        lambda category: f"{category.parent.path}/{category.slug}" if category.parent else category.slug
    )
    name_path = factory.LazyAttribute(
        lambda category: f"{category.parent.name_path} > {category.name}" if category.parent else category.name
    )
    depth = factory.LazyAttribute(lambda category: category.parent.depth + 1 if category.parent else 0)


class AuthorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Author

    name = factory.Sequence(lambda n: f"Author Number{n}")
    slug = factory.LazyAttribute(lambda author: slugify(author.name))


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag {n}")
    slug = factory.LazyAttribute(lambda tag: slugify(tag.name))


class BookFactory(factory.django.DjangoModelFactory):
    """A book with one author and stock (``stock=0`` for out of stock, ``authors=[]`` for none)."""

    class Meta:
        model = Book
        skip_postgeneration_save = True

    isbn13 = factory.LazyFunction(next_isbn13)
    title = factory.Sequence(lambda n: f"The Book of Things {n}")
    slug = factory.LazyAttribute(lambda book: slugify(book.title))
    description = "A book about things."
    price = Decimal("19.99")
    currency = "USD"
    language = "en"
    category = factory.SubFactory(CategoryFactory)

    @factory.post_generation
    def authors(self, create: bool, extracted: list[Author] | None, **kwargs: object) -> None:
        if not create:
            return
        authors = extracted if extracted is not None else [AuthorFactory()]
        BookAuthor.objects.bulk_create(
            [BookAuthor(book=self, author=author, position=index) for index, author in enumerate(authors)]
        )

    @factory.post_generation
    def stock(self, create: bool, extracted: int | None, **kwargs: object) -> None:
        if create:
            Inventory.objects.create(book=self, stock_on_hand=10 if extracted is None else extracted)


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    book = factory.SubFactory(BookFactory)
    user = factory.SubFactory(UserFactory)
    rating = 4
    title = "Worth reading"
    body = "I enjoyed it."


# --- Orders (cart app) -----------------------------------------------------------------------


class OrderFactory(factory.django.DjangoModelFactory):
    """A paid order with a shipping address; add lines with ``OrderLineFactory(order=...)``."""

    class Meta:
        model = "cart.Order"

    user = factory.SubFactory(UserFactory)
    status = "paid"
    idempotency_key = factory.LazyFunction(uuid.uuid4)
    currency = "USD"
    total = Decimal("0")
    shipping_name = "Alice Reader"
    shipping_line1 = "1 Library Lane"
    shipping_city = "Booktown"
    shipping_postal_code = "12345"
    shipping_country = "GB"
    payment_provider = "test"
    card_last4 = "4242"


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cart.OrderLine"

    order = factory.SubFactory(OrderFactory)
    book = factory.SubFactory(BookFactory)
    title = factory.LazyAttribute(lambda line: line.book.title)
    isbn13 = factory.LazyAttribute(lambda line: line.book.isbn13)
    unit_price = factory.LazyAttribute(lambda line: line.book.price)
    quantity = 1
