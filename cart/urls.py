"""Cart, checkout and order pages."""

from __future__ import annotations

from django.urls import path, register_converter

from cart import views
from cart.models import ORDER_REFERENCE_PATTERN


class OrderReferenceConverter:
    """An order reference in a URL (``CS-7K4Q-M2XD``); anything else is not an order page."""

    regex = ORDER_REFERENCE_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(OrderReferenceConverter, "order_reference")

app_name = "cart"
urlpatterns = [
    path("cart/", views.cart_detail, name="detail"),
    path("cart/add/", views.cart_add, name="add"),
    path("cart/update/", views.cart_update, name="update"),
    path("cart/remove/", views.cart_remove, name="remove"),
    path("cart/clear/", views.cart_clear, name="clear"),
    path("checkout/", views.checkout_address, name="checkout"),
    path("checkout/review/", views.checkout_review, name="checkout-review"),
    path("checkout/place/", views.checkout_place, name="checkout-place"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<order_reference:reference>/", views.order_detail, name="order"),
    # Order pages were addressed by id until references came; old links and bookmarks redirect.
    path("orders/<int:order_id>/", views.order_detail_by_id, name="order-by-id"),
]
