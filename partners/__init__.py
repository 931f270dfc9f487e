"""Partners: the third parties that integrate through the API, their keys, carts and orders.

The business side of the partner API. ``cloudshelf.api`` is only the HTTP machinery: it
reaches the keys kept here through ``settings.API_KEY_STORE`` (``partners.keys``), never by
import, and each app's ``api.py`` calls the services and selectors of this app.
"""
