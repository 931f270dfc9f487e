"""Factories for partners. Keys are issued through the service, as in production."""

from __future__ import annotations

import factory

from partners.models import Partner
from partners.plans import Plan
from partners.services import IssuedApiKey, api_key_create


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    contact_email = factory.LazyAttribute(lambda partner: f"{partner.name.lower().replace(' ', '.')}@example.com")
    plan = Plan.SCALE


def issue_key(partner: Partner, *, name: str = "test", can_write: bool = True) -> IssuedApiKey:
    return api_key_create(partner=partner, name=name, can_write=can_write)
