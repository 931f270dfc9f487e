"""Cart, checkout and order pages."""

from __future__ import annotations

from django.urls import path

from cart import views

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
    path("orders/<int:order_id>/", views.order_detail, name="order"),
]
