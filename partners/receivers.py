"""Keep cached API keys true: any save or delete of a key or a partner forgets its cached keys.

The services forget keys themselves (``api_key_revoke``); these receivers cover the other
writers — the admin's change forms, a shell — so a suspended partner or a key made
read-only is refused on its next request, not a minute later.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from partners.key_cache import forget_api_keys
from partners.models import ApiKey, Partner


@receiver([post_save, post_delete], sender=ApiKey)
def forget_changed_key(sender: type[ApiKey], instance: ApiKey, **kwargs: Any) -> None:
    if instance.key_hash:
        forget_api_keys(key_hashes=[instance.key_hash])


@receiver([post_save, post_delete], sender=Partner)
def forget_changed_partners_keys(sender: type[Partner], instance: Partner, **kwargs: Any) -> None:
    if kwargs.get("created"):
        return
    forget_api_keys(key_hashes=list(ApiKey.objects.filter(partner_id=instance.pk).values_list("key_hash", flat=True)))
