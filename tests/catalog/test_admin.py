import re
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from catalog import services
from catalog.models import Book, Category, Inventory
from tests.admin_layout import CHROMIUM, changelist_layout
from tests.factories import AuthorFactory, BookFactory, CategoryFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/catalog/book/"


@pytest.fixture
def staff_client(client):
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


def test_book_changelist_query_count_does_not_grow_with_books(staff_client, django_assert_max_num_queries):
    BookFactory.create_batch(3)
    staff_client.get(CHANGELIST)  # warm the content-type and session caches
    with django_assert_max_num_queries(12) as few:
        staff_client.get(CHANGELIST)
    BookFactory.create_batch(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = staff_client.get(CHANGELIST)
    assert response.status_code == 200


def test_book_changelist_searches_by_exact_isbn(staff_client):
    wanted, other = BookFactory(title="Wanted"), BookFactory(title="Other")

    response = staff_client.get(CHANGELIST, {"q": wanted.isbn13})

    assert wanted.title in response.content.decode()
    assert other.title not in response.content.decode()


def test_popularity_is_a_sortable_column_of_the_book_list(staff_client):
    BookFactory(title="Steady Seller", popularity=40)
    BookFactory(title="Bestseller", popularity=900)
    BookFactory(title="Slow Burner", popularity=3)

    page = staff_client.get(CHANGELIST).content.decode()
    column = re.search(
        r'<th scope="col" class="sortable column-popularity">.*?<a href="\?o=(\d+)[^"]*">Popularity</a>', page, re.S
    )
    assert column is not None
    most_popular_first = staff_client.get(CHANGELIST, {"o": f"-{column.group(1)}"})

    titles = [book.title for book in most_popular_first.context["cl"].result_list]
    assert titles == ["Bestseller", "Steady Seller", "Slow Burner"]
    assert '<td class="field-popularity">900</td>' in most_popular_first.content.decode()


def test_the_book_list_has_short_headers(staff_client):
    BookFactory(price=Decimal("19.99"), currency="USD")

    page = staff_client.get(CHANGELIST).content.decode()

    headers = re.findall(r'<div class="text">(?:<a href="[^"]*">|<span>)([^<]+)</(?:a|span)></div>', page)
    assert headers == ["Title", "Author", "Category", "Price", "Stock", "Rating", "Popularity"]
    assert '<td class="field-price_with_currency">19.99 USD</td>' in page


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt install chromium)")
def test_every_book_column_fits_a_1366_pixel_wide_screen(staff_client, tmp_path):
    # Named data: the factories' sequence names ("Author Number12345") grow with the suite.
    BookFactory(
        title="The Hunger Games (The Hunger Games, #1)",
        authors=[AuthorFactory(name="Suzanne Collins")],
        category=CategoryFactory(name="Young Adult Science Fiction"),
        price=Decimal("19.99"),
        popularity=123_456,
    )
    html = staff_client.get(CHANGELIST).content.decode()

    layout = changelist_layout(html, tmp_path)

    assert layout.viewport == 1366
    assert layout.nav_sidebar_open
    assert layout.overflow == 0
    assert layout.last_column_right <= layout.list_right


def test_adjust_prices_shows_a_form_then_applies_the_percentage(staff_client):
    cheap, dear = BookFactory(price=Decimal("10.00")), BookFactory(price=Decimal("19.99"))
    selection = {"action": "adjust_prices", ACTION_CHECKBOX_NAME: [cheap.pk, dear.pk]}

    form_page = staff_client.post(CHANGELIST, selection)
    assert form_page.status_code == 200
    assert "Change prices by" in form_page.content.decode()

    staff_client.post(CHANGELIST, {**selection, "apply": "1", "percent": "-10"})

    assert list(Book.objects.order_by("pk").values_list("price", flat=True)) == [Decimal("9.00"), Decimal("17.99")]


@pytest.mark.parametrize("percent", ["-100", "abc", "", "100000"])
def test_adjust_prices_rejects_bad_percentages_and_changes_nothing(staff_client, percent):
    book = BookFactory(price=Decimal("10.00"))
    selection = {"action": "adjust_prices", ACTION_CHECKBOX_NAME: [book.pk], "apply": "1", "percent": percent}

    response = staff_client.post(CHANGELIST, selection)

    assert response.status_code == 200  # the form again, with its error
    assert "errorlist" in response.content.decode()
    book.refresh_from_db()
    assert book.price == Decimal("10.00")


def test_set_stock_sets_every_selected_book(staff_client):
    in_stock, no_inventory_row = BookFactory(stock=3), BookFactory()
    Inventory.objects.filter(book=no_inventory_row).delete()
    selection = {"action": "set_stock", ACTION_CHECKBOX_NAME: [in_stock.pk, no_inventory_row.pk]}

    staff_client.post(CHANGELIST, {**selection, "apply": "1", "stock_on_hand": "25"})

    assert dict(Inventory.objects.values_list("book_id", "stock_on_hand")) == {
        in_stock.pk: 25,
        no_inventory_row.pk: 25,
    }


def test_set_stock_refuses_negative_numbers(staff_client):
    book = BookFactory(stock=3)
    selection = {"action": "set_stock", ACTION_CHECKBOX_NAME: [book.pk], "apply": "1", "stock_on_hand": "-1"}

    staff_client.post(CHANGELIST, selection)

    assert Inventory.objects.get(book=book).stock_on_hand == 3


def test_renaming_a_category_rewrites_its_subtree_paths():
    fiction = services.category_get_or_create_path(names=["Fiction"])
    epic = services.category_get_or_create_path(names=["Fiction", "Fantasy", "Epic"])

    fiction.name, fiction.slug = "Novels", "novels"
    services.category_save(category=fiction)

    epic.refresh_from_db()
    assert (epic.path, epic.name_path, epic.depth) == ("novels/fantasy/epic", "Novels > Fantasy > Epic", 2)


def test_a_category_cannot_move_under_its_own_descendant():
    root = CategoryFactory(name="Root")
    child = CategoryFactory(name="Child", parent=root)
    root.parent = child

    with pytest.raises(services.CatalogError, match="under itself"):
        services.category_save(category=root)

    assert Category.objects.get(pk=root.pk).parent_id is None


def test_category_paths_are_shared_case_insensitively():
    first = services.category_get_or_create_path(names=["Science Fiction", "Space Opera"])
    second = services.category_get_or_create_path(names=["science  fiction", "space opera"])

    assert first.pk == second.pk
    assert Category.objects.count() == 2
