"""The partners' keys as the API machinery sees them: ``settings.API_KEY_STORE`` names this class.

``cloudshelf.api`` (authentication, throttling) imports no domain app: it asks the store
named in the setting who a presented key belongs to, and tells it when a key was used.
This adapter answers from ``partners.selectors`` and ``partners.services``, so the
lookup, its cache and the key's use are implemented once, here in the app that owns them.
"""

from __future__ import annotations

from partners import selectors, services
from partners.models import ApiKey


class ApiKeyStore:
    """Partners' API keys behind the interface ``cloudshelf.api.authentication.KeyStore``."""

    def cached(self, raw_key: str) -> selectors.KnownKey | None:
        """What the cache knows of ``raw_key`` (a live key, or "matches nothing"); ``None`` for a miss."""
        return selectors.cached_api_key(raw_key)

    def lookup(self, raw_key: str) -> ApiKey | None:
        """The live key ``raw_key`` names, from the database (and cached for the next request)."""
        return selectors.api_key_lookup(raw_key)

    def use_marker(self, api_key: ApiKey) -> str:
        """The cache key whose absence means the key's use has not been written this interval."""
        return services.api_key_use_marker(api_key=api_key)

    def record_use(self, api_key: ApiKey) -> None:
        """Note that ``api_key`` was used now (once per ``API_KEY_LAST_USED_INTERVAL``)."""
        services.api_key_record_use(api_key=api_key)
