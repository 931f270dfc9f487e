"""The partner REST API's HTTP machinery, which every endpoint shares.

The endpoints themselves live in the app that owns each concept (``catalog/api.py``,
``cart/api.py``, ``search/api.py``) and are plain DRF views. Everything partner-wide is
wired in here and through ``settings.REST_FRAMEWORK``, so those modules never import this
package: key authentication, plan throttling in Redis, the one error shape, orjson,
keyset pagination, conditional GET and the OpenAPI schema.

Partners, their keys and their carts are the ``partners`` app's. This package imports no
domain app except in ``urls.py`` (which mounts the apps' endpoints); it reaches the keys
through ``settings.API_KEY_STORE`` (see ``cloudshelf.api.authentication.KeyStore``).
"""
