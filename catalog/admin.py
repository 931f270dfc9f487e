"""Staff tools for the catalog. Bulk actions call ``catalog.services`` like every other writer."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from catalog import services
from catalog.models import Author, Book, BookAuthor, Category, Inventory, Review, Tag


class BookAuthorInline(admin.TabularInline):
    model = BookAuthor
    extra = 1
    autocomplete_fields = ["author"]
    ordering = ["position"]


class InventoryInline(admin.StackedInline):
    model = Inventory
    can_delete = False
    fields = ["stock_on_hand"]


class StockLevelFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("out", "Out of stock"), ("low", "Low stock"), ("in", "In stock")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Book]) -> QuerySet[Book]:
        from django.conf import settings

        low = settings.CATALOG_LOW_STOCK_THRESHOLD
        if self.value() == "out":
            return queryset.filter(inventory__stock_on_hand=0) | queryset.filter(inventory__isnull=True)
        if self.value() == "low":
            return queryset.filter(inventory__stock_on_hand__gt=0, inventory__stock_on_hand__lte=low)
        if self.value() == "in":
            return queryset.filter(inventory__stock_on_hand__gt=0)
        return queryset


class AdjustPriceForm(forms.Form):
    percent = forms.DecimalField(
        label="Change prices by (%)",
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("-99.99"),
        max_value=Decimal("1000"),
        help_text="Positive raises, negative cuts: -10 takes 10% off. Prices are rounded to the cent.",
    )


class SetStockForm(forms.Form):
    stock_on_hand = forms.IntegerField(label="Set stock on hand to", min_value=0, max_value=1_000_000)


def _bulk_action_form(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Book],
    form_class: type[forms.Form],
    title: str,
    action_name: str,
) -> forms.Form | TemplateResponse:
    """Show ``form_class`` on an intermediate page; return the bound, valid form once submitted."""
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            return form
    else:
        form = form_class()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "books": queryset[:20],
        "book_count": queryset.count(),
        "selected_ids": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "action_name": action_name,
        "select_across": request.POST.get("select_across", "0"),
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/catalog/book/bulk_action.html", context)


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    # Short headers, price with currency in one column, and no ISBN column (the search box finds a
    # book by its ISBN, its page shows it): every column fits beside the filters at 1366 px with
    # real titles, authors and categories. Popularity sorts on its index (``book_by_popularity``).
    list_display = [
        "title",
        "lead_author",
        "category",
        "price_with_currency",
        "stock",
        "rating",
        "popularity",
    ]
    list_select_related = ["category", "inventory"]
    list_filter = [StockLevelFilter, "language", "currency", ("category", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=isbn13", "title", "book_authors__author__name", "publisher"]
    search_help_text = "Search by exact ISBN-13, title, author or publisher."
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["category", "tags"]
    inlines = [BookAuthorInline, InventoryInline]
    readonly_fields = ["average_rating", "ratings_count", "review_count", "created_at", "updated_at"]
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) over 100k rows on every page is wasted work
    actions = ["adjust_prices", "set_stock"]
    fieldsets = [
        (None, {"fields": ["isbn13", "title", "subtitle", "slug", "description", "category", "tags"]}),
        ("Price", {"fields": ["price", "currency"]}),
        ("Publication", {"fields": ["publication_date", "publisher", "language", "page_count"]}),
        ("Cover", {"fields": ["cover_url", "cover_image"]}),
        (
            "Ratings and sales",
            {
                "fields": [
                    "external_average_rating",
                    "external_ratings_count",
                    "average_rating",
                    "ratings_count",
                    "review_count",
                    "popularity",
                ]
            },
        ),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Book]:
        return super().get_queryset(request).prefetch_related("book_authors__author")

    @admin.display(description="Author")
    def lead_author(self, book: Book) -> str:
        names = book.author_names
        return names[0] if names else "—"

    @admin.display(description="Price", ordering="price")
    def price_with_currency(self, book: Book) -> str:
        return f"{book.price} {book.currency}"

    @admin.display(description="Rating", ordering="average_rating")
    def rating(self, book: Book) -> Decimal:
        return book.average_rating

    @admin.display(description="Stock", ordering="inventory__stock_on_hand")
    def stock(self, book: Book) -> int:
        return book.stock_on_hand

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Ratings include imported figures; keep the shown ones true after an edit here.
        services.book_refresh_rating(book_id=form.instance.pk)

    @admin.action(description="Change prices of selected books by a percentage…")
    def adjust_prices(self, request: HttpRequest, queryset: QuerySet[Book]) -> HttpResponse | None:
        outcome = _bulk_action_form(self, request, queryset, AdjustPriceForm, "Change prices", "adjust_prices")
        if isinstance(outcome, TemplateResponse):
            return outcome
        try:
            count = services.books_adjust_price(
                book_ids=queryset.values_list("pk", flat=True), percent=outcome.cleaned_data["percent"]
            )
        except services.CatalogError as error:
            self.message_user(request, str(error), messages.ERROR)
            return None
        self.message_user(request, f"Changed the price of {count} books by {outcome.cleaned_data['percent']}%.")
        return None

    @admin.action(description="Set stock of selected books…")
    def set_stock(self, request: HttpRequest, queryset: QuerySet[Book]) -> HttpResponse | None:
        outcome = _bulk_action_form(self, request, queryset, SetStockForm, "Set stock", "set_stock")
        if isinstance(outcome, TemplateResponse):
            return outcome
        count = services.inventory_set_stock(
            book_ids=queryset.values_list("pk", flat=True), stock_on_hand=outcome.cleaned_data["stock_on_hand"]
        )
        self.message_user(request, f"Set stock to {outcome.cleaned_data['stock_on_hand']} for {count} books.")
        return None


class BookInline(admin.TabularInline):
    model = BookAuthor
    extra = 0
    fields = ["book", "position"]
    raw_id_fields = ["book"]
    verbose_name = "book"


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [BookInline]
    show_full_result_count = False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name_path", "depth", "path"]
    list_select_related = ["parent"]
    list_filter = ["depth"]
    search_fields = ["name", "name_path"]
    readonly_fields = ["path", "name_path", "depth"]
    fields = ["name", "slug", "parent", "description", "path", "name_path", "depth"]
    prepopulated_fields = {"slug": ["name"]}
    ordering = ["path"]

    def save_model(self, request: HttpRequest, obj: Category, form: forms.ModelForm, change: bool) -> None:
        services.category_save(category=obj)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Inventory)
class InventoryAdmin(admin.ModelAdmin):
    list_display = ["book", "stock_on_hand", "updated_at"]
    list_select_related = ["book"]
    list_editable = ["stock_on_hand"]
    search_fields = ["=book__isbn13", "book__title"]
    raw_id_fields = ["book"]
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: Inventory, form: forms.ModelForm, change: bool) -> None:
        services.inventory_set_stock(book_ids=[obj.book_id], stock_on_hand=obj.stock_on_hand)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["title", "book", "user", "rating", "created_at"]
    list_select_related = ["book", "user"]
    list_filter = ["rating", "created_at"]
    search_fields = ["title", "body", "book__title", "user__username"]
    raw_id_fields = ["book", "user"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: Review, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.book_refresh_rating(book_id=obj.book_id)

    def delete_model(self, request: HttpRequest, obj: Review) -> None:
        services.review_delete(review=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        for review in queryset.order_by("pk"):
            services.review_delete(review=review)
