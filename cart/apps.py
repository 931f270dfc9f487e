from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "cart"
    verbose_name = "Cart and orders"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from cart.controls import book_page_add_to_cart, card_add_to_cart
        from cart.receivers import merge_cart_on_login
        from catalog.cards import register_book_page_action, register_card_action

        user_logged_in.connect(merge_cart_on_login, dispatch_uid="cart.merge_cart_on_login")
        # Every book card in listings and every book page carry the add-to-cart form.
        register_card_action(card_add_to_cart)
        register_book_page_action(book_page_add_to_cart)
