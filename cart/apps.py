from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "cart"
    verbose_name = "Cart and orders"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from cart import payments  # noqa: F401  (registers the payment circuit breaker)
        from cart.controls import book_page_add_to_cart, card_add_to_cart
        from cart.http import request_cart_count
        from cart.purchases import customer_bought_books
        from cart.receivers import merge_cart_on_login
        from catalog.cards import register_book_page_action, register_card_action
        from catalog.purchases import register_purchase_lookup
        from cloudshelf.personal import register_cart_counter

        user_logged_in.connect(merge_cart_on_login, dispatch_uid="cart.merge_cart_on_login")
        # Every book card in listings and every book page carry the add-to-cart form.
        register_card_action(card_add_to_cart)
        register_book_page_action(book_page_add_to_cart)
        # Reviews by customers who bought the book here are marked "Verified purchase".
        register_purchase_lookup(customer_bought_books)
        # The account menu's cart count on every page (a page-cache slot of the project).
        register_cart_counter(request_cart_count)
