from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "cart"
    verbose_name = "Cart and orders"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from cart.receivers import merge_cart_on_login

        user_logged_in.connect(merge_cart_on_login, dispatch_uid="cart.merge_cart_on_login")
