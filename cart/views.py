"""Cart, checkout and order pages.

Cart writes answer two ways from the same view: a redirect with a message for a plain
form POST (works without JavaScript), or JSON when the request asks for it with
``Accept: application/json`` (``static/js/site.js`` does, to add to the cart without a
reload). A refused write changes nothing and says why: 400 in JSON, a message on the page.
When the cart store is down the answer is 503 in JSON and a message on pages, never a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import InvalidPage
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from cart import selectors, services
from cart.addresses import ShippingAddress, address_lines
from cart.errors import cart_error_status
from cart.forms import PlaceOrderForm, ShippingAddressForm
from cart.http import cart_page_key, creates_anonymous_cart, request_cart
from cart.markup import cart_lines_html
from cart.models import Order
from cart.services import CartChange, CartError
from cart.store import CartRef, CartStoreUnavailable, customer_cart
from catalog.page_tags import book_tag
from cloudshelf.edge.http import csrf_token_optional_without_session
from cloudshelf.edge.page_cache import cached_page, page_csrf_token, page_depends_on
from cloudshelf.http import safe_next_url
from cloudshelf.ratelimit import SiteLimit, customer_of, limit_requests

if TYPE_CHECKING:
    from django.contrib.auth.models import User

CHECKOUT_ADDRESS_SESSION_KEY = "checkout_address"
_PRIVATE = {"robots": "noindex"}


class CustomerRequest(HttpRequest):
    """The request a ``login_required`` view receives: ``user`` is a signed-in customer."""

    user: User


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").split(",")[0].strip() == "application/json"


# Abuse limits (settings "Abuse limits"): new anonymous carts per client address, orders per customer.
CART_CREATION = SiteLimit(name="cart-create", setting="CARTS_PER_ADDRESS_HOUR", window_seconds=60 * 60)
ORDER_PLACING = SiteLimit(name="order", setting="ORDERS_PER_CUSTOMER_HOUR", window_seconds=60 * 60)


def _cart_error_json(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


# Outermost on every write that may create a cart: a refused request makes no session and no cart.
_limit_cart_creation = limit_requests(
    CART_CREATION, applies=creates_anonymous_cart, as_json=_wants_json, json_body=_cart_error_json
)


def _cart_write_response(request: HttpRequest, write: Callable[[CartRef], CartChange], success: str) -> HttpResponse:
    """Run ``write(cart)`` (one service call) and answer in JSON or with a redirect and a message."""
    cart = request_cart(request, create=True)
    assert cart is not None  # create=True always gives the visitor a cart
    try:
        change = write(cart)
    except CartError as error:
        if _wants_json(request):
            return JsonResponse(_cart_error_json(error.code, error.message), status=cart_error_status(error))
        messages.error(request, error.message)
        return redirect(safe_next_url(request) or "cart:detail")
    message = success.format(title=change.title)
    if _wants_json(request):
        return JsonResponse({"ok": True, "quantity": change.quantity, "count": change.count, "message": message})
    messages.success(request, message)
    return redirect(safe_next_url(request) or "cart:detail")


@csrf_token_optional_without_session
@_limit_cart_creation
@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    """Add a book (``book_id``, ``quantity`` default 1) to the visitor's cart."""
    book_id, quantity = request.POST.get("book_id"), request.POST.get("quantity", "1")
    return _cart_write_response(
        request,
        lambda cart: services.cart_add_item(cart=cart, book_id=book_id, quantity=quantity),
        "Added “{title}” to your cart.",
    )


@_limit_cart_creation
@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    """Change the quantity of a line (``book_id``, ``quantity``)."""
    book_id, quantity = request.POST.get("book_id"), request.POST.get("quantity")
    return _cart_write_response(
        request,
        lambda cart: services.cart_set_quantity(cart=cart, book_id=book_id, quantity=quantity),
        "Updated the quantity of “{title}”.",
    )


@_limit_cart_creation
@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    """Remove a line (``book_id``)."""
    book_id = request.POST.get("book_id")
    return _cart_write_response(
        request, lambda cart: services.cart_remove_item(cart=cart, book_id=book_id), "Removed the book from your cart."
    )


@require_POST
def cart_clear(request: HttpRequest) -> HttpResponse:
    """Empty the cart."""
    cart = request_cart(request)
    try:
        if cart is not None:
            services.cart_clear(cart=cart)
    except CartError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Your cart is empty.")
    return redirect("cart:detail")


def _contents_or_message(request: HttpRequest) -> selectors.CartContents | None:
    """The visitor's cart with fresh book data; ``None`` (and a message) when the store is down.

    Lines of books the catalog has dropped are removed on the way.
    """
    cart = request_cart(request)
    try:
        contents = selectors.cart_contents(cart=cart)
        if cart is not None and contents.missing_book_ids:
            services.cart_remove_items(cart=cart, book_ids=contents.missing_book_ids)
            messages.warning(request, "A book in your cart is no longer sold; we removed it.")
    except (CartStoreUnavailable, CartError):
        messages.error(request, services.ERROR_MESSAGES["unavailable"])
        return None
    return contents


@require_safe
@cached_page(key_extra=cart_page_key, private=True)
def cart_detail(request: HttpRequest) -> HttpResponse:
    """The cart page: lines with today's prices and stock, and what changed since they were added.

    Kept whole by the page cache under its lines (``cart_page_key``) and retired when any of
    its books changes, so a repeated view costs no query and no rendering; always private.
    The lines come ready-made from ``cart.markup`` (kept per version of what each shows).
    """
    contents = _contents_or_message(request)
    context: dict[str, Any] = {"contents": contents, "page_title": "Your cart", **_PRIVATE}
    if contents is not None:
        context["cart_count"] = contents.count  # the header's count, without a second Redis call
        page_depends_on(request, *(book_tag(item.book.pk) for item in contents.items))
        if contents.items:
            context["cart_lines"] = cart_lines_html(contents.items, csrf_token=page_csrf_token(request))
    response = render(request, "cart/cart_detail.html", context, status=200 if contents is not None else 503)
    patch_cache_control(response, private=True, no_store=True)
    return response


# --- Checkout --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def checkout_address(request: CustomerRequest) -> HttpResponse:
    """Step 1: where to send the books (pre-filled from the customer's last order)."""
    initial = request.session.get(CHECKOUT_ADDRESS_SESSION_KEY) or selectors.latest_shipping_address(user=request.user)
    form = ShippingAddressForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_valid():
        request.session[CHECKOUT_ADDRESS_SESSION_KEY] = form.cleaned_data
        return redirect("cart:checkout-review")
    context = {"form": form, "step": "address", "page_title": "Checkout: shipping address", **_PRIVATE}
    return render(request, "cart/checkout_address.html", context)


def _session_address(request: CustomerRequest) -> ShippingAddress | None:
    """The address chosen at step 1, checked again; ``None`` when there is none or it no longer passes."""
    form = ShippingAddressForm(request.session.get(CHECKOUT_ADDRESS_SESSION_KEY) or None)
    return form.address() if form.is_valid() else None


def _review_page(
    request: CustomerRequest,
    contents: selectors.CartContents,
    address: ShippingAddress,
    form: PlaceOrderForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The review step; a fresh idempotency key whenever the form is not a re-display of a bad submit."""
    if form is None:
        form = PlaceOrderForm(initial={"idempotency_key": uuid.uuid4(), "expected_total": contents.total})
    context = {
        "contents": contents,
        "cart_count": contents.count,
        "shipping_lines": address_lines(address),
        "form": form,
        "step": "review",
        "page_title": "Checkout: review and pay",
        **_PRIVATE,
    }
    return render(request, "cart/checkout_review.html", context, status=status)


def _checkout_contents_or_redirect(request: CustomerRequest) -> selectors.CartContents | HttpResponse:
    """The cart to check out, or where to send the customer instead (an empty cart, a store outage)."""
    contents = _contents_or_message(request)
    if contents is None or contents.is_empty:
        return redirect("cart:detail")
    return contents


@login_required
@require_safe
def checkout_review(request: CustomerRequest) -> HttpResponse:
    """Step 2: the lines, the total and the address, with the card form and "Place order"."""
    address = _session_address(request)
    if address is None:
        return redirect("cart:checkout")
    contents = _checkout_contents_or_redirect(request)
    if isinstance(contents, HttpResponse):
        return contents
    return _review_page(request, contents, address)


@sensitive_post_parameters("card_number", "card_expiry", "card_cvc")
@login_required
@limit_requests(ORDER_PLACING, subject=customer_of)  # before any work: a refused order charges nothing
@require_POST
def checkout_place(request: CustomerRequest) -> HttpResponse:
    """Step 3: place the order. A retried or double-clicked submit carries the same key and
    lands on the same order (the service answers it before looking at the cart, which the
    first submit has emptied); a refusal shows the reason where the customer can act on it."""
    form = PlaceOrderForm(request.POST)
    address = _session_address(request)
    if address is None:
        return redirect("cart:checkout")
    if not form.is_valid():
        contents = _checkout_contents_or_redirect(request)
        if isinstance(contents, HttpResponse):
            return contents
        return _review_page(request, contents, address, form, status=400)
    try:
        order = services.order_place(
            user=request.user,
            cart=customer_cart(request.user.pk),
            address=address,
            card=form.card(),
            idempotency_key=form.cleaned_data["idempotency_key"],
            expected_total=form.cleaned_data["expected_total"],
        )
    except CartError as error:
        messages.error(request, error.message)
        back_to_review = error.code in ("payment_declined", "price_changed", "payments_unavailable")
        return redirect("cart:checkout-review" if back_to_review else "cart:detail")
    if order.is_payment_pending:  # no answer from the provider: neither paid nor declined yet
        messages.warning(request, services.PAYMENT_PENDING_MESSAGE.format(reference=order.reference))
    else:
        messages.success(request, f"Thank you! Your order {order.reference} is placed.")
    return redirect(order)


# --- Orders ----------------------------------------------------------------------------------


@login_required
@require_safe
def order_list(request: CustomerRequest) -> HttpResponse:
    """The customer's orders, newest first."""
    raw = request.GET.get("page", "1")
    try:
        page = selectors.customer_orders_page(user=request.user, number=int(raw) if raw.isdigit() else 0)
    except (InvalidPage, ValueError):
        raise Http404("No such page.") from None
    return render(request, "cart/order_list.html", {"page": page, "page_title": "Your orders", **_PRIVATE})


def _own_order_or_404(request: CustomerRequest, reference: str) -> Order:
    """The order ``reference`` if the signed-in customer placed it; 404 for anyone else's.

    404 rather than 403 so nobody can probe which order references exist.
    """
    order = selectors.customer_order(user=request.user, reference=reference)
    if order is None:
        raise Http404("No such order.")
    return order


@login_required
@require_safe
def order_detail(request: CustomerRequest, reference: str) -> HttpResponse:
    """One of the customer's orders: lines, total, address, payment and status."""
    order = _own_order_or_404(request, reference)
    context = {"order": order, "page_title": f"Order {order.reference}", **_PRIVATE}
    return render(request, "cart/order_detail.html", context)


@login_required
@require_safe
def order_detail_by_id(request: CustomerRequest, order_id: int) -> HttpResponse:
    """An order page's address from before orders had references (``/orders/<id>/``): moved for good.

    Only for the customer who placed it, like the page itself; 404 for anyone else.
    """
    reference = selectors.customer_order_reference(user=request.user, order_id=order_id)
    if reference is None:
        raise Http404("No such order.")
    return redirect("cart:order", reference=reference, permanent=True)
