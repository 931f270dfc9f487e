"""Partner API endpoints for carts and orders placed on behalf of a partner's customers.

Thin DRF views over the ``partners`` app's services and selectors (ownership, idempotency) and the cart app's
own services and selectors (lines in Redis, orders in Postgres). Every cart or order is
fetched through an ownership helper that filters on the calling partner, so another
partner's cart or order is a 404 however its id was obtained. Answers are private to
the partner (``Cache-Control: private``).

Refusals of the cart services keep their ``code`` and message, with the status the shop's
pages give them too (``cart.errors``): 400 when the input is at fault, 404 for a line
that is not in the cart (or a book in the URL that does not exist), 409 when the cart's
state or the stock is, 503 when the cart store is down (there is no fallback for a cart).
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from cart.errors import cart_error_status
from cart.selectors import CartContents, cart_contents
from cart.serializers import (
    CartCreateSerializer,
    CartLineAddSerializer,
    CartLineSetSerializer,
    CartSerializer,
    OrderCreateSerializer,
    OrderSerializer,
)
from cart.services import CartError, ShippingAddress, cart_add_item, cart_remove_item, cart_set_quantity
from cart.store import CartStoreUnavailable
from partners.models import Partner, PartnerCart
from partners.selectors import partner_cart, partner_order, partner_orders
from partners.services import (
    PartnerCartError,
    partner_cart_check_open,
    partner_cart_create,
    partner_cart_ref,
    partner_order_place,
)

TAG_CARTS, TAG_ORDERS = "Carts", "Orders"
IDEMPOTENCY_HEADER = "Idempotency-Key"

# The input field a 400 ``CartError`` blames (see ``cart.errors.CART_ERROR_STATUS``).
_FIELD_ERRORS = {"unknown_book": "book_id", "invalid_quantity": "quantity"}


class CartConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class CartUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The cart service is unavailable; retry shortly."
    default_code = "service_unavailable"


def _raise_for_cart_error(error: CartError, *, book_in_path: bool = False) -> None:
    """The DRF exception for ``error``, with the status of ``cart.errors``; a book named in the URL is a 404."""
    status_code = cart_error_status(error)
    if status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        raise CartUnavailable() from error
    if status_code == status.HTTP_404_NOT_FOUND or (error.code == "unknown_book" and book_in_path):
        raise NotFound(error.message, code=error.code) from error
    if status_code == status.HTTP_400_BAD_REQUEST:
        raise ValidationError({_FIELD_ERRORS.get(error.code, "non_field_errors"): [error.message]}) from error
    raise CartConflict(error.message, code=error.code) from error


def _partner(request: Request) -> Partner:
    partner: Partner = request.auth.partner
    return partner


def _owned_cart(request: Request, cart_id: uuid.UUID) -> PartnerCart:
    cart = partner_cart(partner=_partner(request), cart_id=cart_id)
    if cart is None:
        raise NotFound("There is no cart with this id.")
    return cart


def _private(response: Response) -> Response:
    response["Cache-Control"] = "private, no-cache"
    return response


def _cart_body(cart: PartnerCart) -> dict[str, Any]:
    try:
        contents: CartContents = cart_contents(cart=partner_cart_ref(cart))
    except CartStoreUnavailable as error:
        raise CartUnavailable() from error
    return CartSerializer({"cart": cart, "contents": contents}).data


# --- Examples ----------------------------------------------------------------------------------

_CART_EXAMPLE = {
    "id": "6f1c3a52-1d8e-4a3b-9d7e-0c2b5e8f4a61",
    "customer_reference": "customer-8812",
    "created_at": "2026-11-26T10:15:00Z",
    "order_id": None,
    "lines": [
        {
            "book_id": 4711,
            "isbn13": "9780306406157",
            "title": "The Glass Orchard",
            "quantity": 2,
            "unit_price": "14.99",
            "price_seen": "14.99",
            "line_total": "29.98",
            "stock_on_hand": 42,
            "is_out_of_stock": False,
            "is_short": False,
        }
    ],
    "item_count": 2,
    "currency": "USD",
    "total": "29.98",
    "can_order": True,
}
_ORDER_EXAMPLE = {
    "id": 1024,
    "status": "paid",
    "cart_id": "6f1c3a52-1d8e-4a3b-9d7e-0c2b5e8f4a61",
    "customer_reference": "customer-8812",
    "currency": "USD",
    "total": "29.98",
    "lines": [
        {
            "book_id": 4711,
            "isbn13": "9780306406157",
            "title": "The Glass Orchard",
            "unit_price": "14.99",
            "quantity": 2,
            "line_total": "29.98",
        }
    ],
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "line2": "",
        "city": "London",
        "region": "",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    },
    "created_at": "2026-11-26T10:16:00Z",
    "paid_at": "2026-11-26T10:16:00Z",
    "shipped_at": None,
    "cancelled_at": None,
}
_EMPTY_CART_EXAMPLE = _CART_EXAMPLE | {"lines": [], "item_count": 0, "total": "0.00", "can_order": False}
_CART_ID = OpenApiParameter("cart_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
_BOOK_ID = OpenApiParameter("book_id", OpenApiTypes.INT, OpenApiParameter.PATH)
_CONFLICT = OpenApiResponse(
    description="The cart's state or the stock does not allow it (`code` says why: `not_enough_stock`, "
    "`line_limit`, `cart_ordered`, `insufficient_stock`, `price_changed`, `idempotency_key_reused`…).",
    response={"$ref": "#/components/schemas/Error"},
)


# --- Views -------------------------------------------------------------------------------------


class CartCreateView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        tags=[TAG_CARTS],
        operation_id="carts_create",
        summary="Open a cart for one of your customers",
        request=CartCreateSerializer,
        responses={201: CartSerializer},
        examples=[
            OpenApiExample("New cart", value={"customer_reference": "customer-8812"}, request_only=True),
            OpenApiExample(
                "Created",
                value=_EMPTY_CART_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        body = CartCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cart = partner_cart_create(partner=_partner(request), **body.validated_data)
        return _private(Response(_cart_body(cart), status=status.HTTP_201_CREATED))


class CartDetailView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        tags=[TAG_CARTS],
        operation_id="carts_retrieve",
        summary="A cart with today's prices and stock",
        parameters=[_CART_ID],
        responses=CartSerializer,
        examples=[OpenApiExample("A cart", value=_CART_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, cart_id: uuid.UUID) -> Response:
        return _private(Response(_cart_body(_owned_cart(request, cart_id))))


class CartLineAddView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        tags=[TAG_CARTS],
        operation_id="carts_lines_add",
        summary="Add copies of a book to a cart",
        description="Adds to the line's quantity (creating the line). Answers the whole cart.",
        parameters=[_CART_ID],
        request=CartLineAddSerializer,
        responses={200: CartSerializer, 409: _CONFLICT},
        examples=[
            OpenApiExample("Two copies", value={"book_id": 4711, "quantity": 2}, request_only=True),
            OpenApiExample("The cart after", value=_CART_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request, cart_id: uuid.UUID) -> Response:
        cart = _owned_cart(request, cart_id)
        body = CartLineAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _check_open(cart)
        try:
            cart_add_item(cart=partner_cart_ref(cart), **body.validated_data)
        except CartError as error:
            _raise_for_cart_error(error)
        return _private(Response(_cart_body(cart)))


class CartLineView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        tags=[TAG_CARTS],
        operation_id="carts_lines_set",
        summary="Set the quantity of a line",
        parameters=[_CART_ID, _BOOK_ID],
        request=CartLineSetSerializer,
        responses={200: CartSerializer, 409: _CONFLICT},
        examples=[
            OpenApiExample("Three copies", value={"quantity": 3}, request_only=True),
            OpenApiExample("The cart after", value=_CART_EXAMPLE, response_only=True),
        ],
    )
    def put(self, request: Request, cart_id: uuid.UUID, book_id: int) -> Response:
        cart = _owned_cart(request, cart_id)
        body = CartLineSetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _check_open(cart)
        try:
            cart_set_quantity(cart=partner_cart_ref(cart), book_id=book_id, **body.validated_data)
        except CartError as error:
            _raise_for_cart_error(error, book_in_path=True)
        return _private(Response(_cart_body(cart)))

    @extend_schema(
        tags=[TAG_CARTS],
        operation_id="carts_lines_remove",
        summary="Remove a line",
        description="Removing a line that is not there succeeds, so a retried remove is harmless.",
        parameters=[_CART_ID, _BOOK_ID],
        responses={200: CartSerializer, 409: _CONFLICT},
        examples=[OpenApiExample("The cart after", value=_EMPTY_CART_EXAMPLE, response_only=True)],
    )
    def delete(self, request: Request, cart_id: uuid.UUID, book_id: int) -> Response:
        cart = _owned_cart(request, cart_id)
        _check_open(cart)
        try:
            cart_remove_item(cart=partner_cart_ref(cart), book_id=book_id)
        except CartError as error:
            _raise_for_cart_error(error, book_in_path=True)
        return _private(Response(_cart_body(cart)))


def _check_open(cart: PartnerCart) -> None:
    try:
        partner_cart_check_open(cart=cart)
    except PartnerCartError as error:
        raise CartConflict(error.message, code=error.code) from error


def _idempotency_key(request: Request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise ValidationError(
            {IDEMPOTENCY_HEADER: ["Required: 1 to 255 printable ASCII characters, unique per order (a UUID is ideal)."]}
        )
    return key


class CartOrderView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        tags=[TAG_ORDERS],
        operation_id="carts_order_place",
        summary="Place the cart's order (idempotent)",
        description=(
            "Turns the cart into a paid order, invoiced to you. Send a unique `Idempotency-Key` per order: "
            "a retry with the same key returns the same order (200) instead of a second one (201)."
        ),
        parameters=[
            _CART_ID,
            OpenApiParameter(IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
        ],
        request=OrderCreateSerializer,
        responses={
            201: OrderSerializer,
            200: OpenApiResponse(OrderSerializer, description="A replay: this key already placed this order."),
            409: _CONFLICT,
        },
        examples=[
            OpenApiExample(
                "Ship to the customer",
                value={
                    "shipping_address": _ORDER_EXAMPLE["shipping_address"],
                    "expected_total": "29.98",
                },
                request_only=True,
            ),
            OpenApiExample("Placed", value=_ORDER_EXAMPLE, response_only=True, status_codes=["201", "200"]),
        ],
    )
    def post(self, request: Request, cart_id: uuid.UUID) -> Response:
        cart = _owned_cart(request, cart_id)
        key = _idempotency_key(request)
        body = OrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            placed = partner_order_place(
                cart=cart,
                address=ShippingAddress(**body.validated_data["shipping_address"]),
                idempotency_key=key,
                expected_total=body.validated_data.get("expected_total"),
            )
        except PartnerCartError as error:
            raise CartConflict(error.message, code=error.code) from error
        except CartError as error:
            _raise_for_cart_error(error)
        # The cart's partner: the one whose account the placement may just have created.
        order = partner_order(partner=cart.partner, order_id=placed.order.pk)
        status_code = status.HTTP_200_OK if placed.is_replay else status.HTTP_201_CREATED
        return _private(Response(OrderSerializer(order).data, status=status_code))


class OrderListView(GenericAPIView):
    @extend_schema(
        tags=[TAG_ORDERS],
        operation_id="orders_list",
        summary="Your orders, newest first",
        responses=OrderSerializer(many=True),
        examples=[OpenApiExample("A page of orders", value=_ORDER_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        orders = self.paginate_queryset(partner_orders(partner=_partner(request)))
        return _private(self.get_paginated_response(OrderSerializer(orders, many=True).data))


class OrderDetailView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        tags=[TAG_ORDERS],
        operation_id="orders_retrieve",
        summary="One of your orders",
        responses=OrderSerializer,
        examples=[OpenApiExample("An order", value=_ORDER_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, order_id: int) -> Response:
        order = partner_order(partner=_partner(request), order_id=order_id)
        if order is None:
            raise NotFound("There is no order with this id.")
        return _private(Response(OrderSerializer(order).data))


# --- Schema links: how one answer feeds the next call (docs, and schemathesis' stateful phase) ---

_LINKS = {
    ("carts_create", "201"): {
        "GetCart": {"operationId": "carts_retrieve", "parameters": {"cart_id": "$response.body#/id"}},
        "AddLine": {"operationId": "carts_lines_add", "parameters": {"cart_id": "$response.body#/id"}},
        "PlaceOrder": {"operationId": "carts_order_place", "parameters": {"cart_id": "$response.body#/id"}},
    },
    ("carts_lines_add", "200"): {
        "SetLine": {
            "operationId": "carts_lines_set",
            "parameters": {"cart_id": "$response.body#/id", "book_id": "$response.body#/lines/0/book_id"},
        },
        "RemoveLine": {
            "operationId": "carts_lines_remove",
            "parameters": {"cart_id": "$response.body#/id", "book_id": "$response.body#/lines/0/book_id"},
        },
        "PlaceOrder": {"operationId": "carts_order_place", "parameters": {"cart_id": "$response.body#/id"}},
    },
    ("carts_order_place", "201"): {
        "GetOrder": {"operationId": "orders_retrieve", "parameters": {"order_id": "$response.body#/id"}},
    },
}


def add_cart_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: OpenAPI links between the cart operations."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for (operation_id, status_code), links in _LINKS.items():
                if operation.get("operationId") == operation_id and status_code in operation.get("responses", {}):
                    operation["responses"][status_code]["links"] = links
    return result
