"""Activity for the report screenshots, against a running embedded server (scripts/screenshot_reports.sh).

    python -m bench.screenshot_reports --base-url http://127.0.0.1:PORT

Run in the same ``DATA_DIR`` as the server (the embedded default's SQLite file). It

* sends the server real requests of each route class (pages, searches, the cart, the partner
  API, health), so the server's own metrics store has timings to show;
* stores a day of real-user beacons with realistic spreads (the beacon endpoint rate-limits
  one client, and a headless browser's timings on loopback say nothing);
* makes a staff member with the reports permission and a session for them, and prints the
  session cookie's name and value: the browser is handed the cookie, never a password or a
  login link. The member has no usable password.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import urllib.error
import urllib.request
from datetime import timedelta
from importlib import import_module

import django

SCREENSHOT_USER = "report-screenshots"


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def send_traffic(base: str, *, api_key: str) -> int:
    """Requests of every class with a service level, plus health checks; returns how many were sent."""
    from catalog.models import Book

    books = list(Book.objects.order_by("id").values_list("isbn13", "slug")[:40])
    words = ["history", "dragon", "garden", "love", "river", "war", "stars", "cooking", "night", "city"]
    paths = ["/", "/books/", *(f"/books/{isbn}/{slug}/" for isbn, slug in books)]
    sent = 0
    for round_number in range(3):
        for path in paths:
            sent += bool(_get(base + path))
        for word in words:
            sent += bool(_get(f"{base}/search/?q={word}"))
        for _ in range(15):
            sent += bool(_get(base + "/cart/"))
        for isbn, _slug in books[:15]:
            sent += bool(_get(f"{base}/api/v1/books/isbn/{isbn}/", {"Authorization": f"Bearer {api_key}"}))
        sent += bool(_get(base + "/health"))
        print(f"traffic: round {round_number + 1} of 3", file=sys.stderr)
    return sent


def store_beacons(*, seed: int = 7) -> int:
    """A day of beacons: home and book pages, search results and the cart, over the last 24 hours."""
    from django.utils import timezone

    from analytics.models import RumBeacon

    generator = random.Random(seed)
    now = timezone.now()
    # route name, route class, median load (ms): the cart page is light, a book page heavier.
    routes = [("catalog:home", "page", 1100), ("catalog:book", "page", 1400), ("search:results", "search", 1300)]
    routes.append(("cart:detail", "cart", 700))
    beacons = []
    for index in range(1200):
        route_name, route_class, median = routes[index % len(routes)]
        load = generator.lognormvariate(0, 0.45) * median
        ttfb = load * generator.uniform(0.08, 0.2)
        beacons.append(
            RumBeacon(
                received_at=now - timedelta(seconds=generator.uniform(0, 86_000)),
                route_name=route_name,
                route_class=route_class,
                ttfb_ms=round(ttfb, 1),
                dom_ready_ms=round(load * 0.7, 1),
                load_ms=round(load, 1),
                lcp_ms=round(load * generator.uniform(0.8, 1.2), 1),
                inp_ms=round(generator.lognormvariate(4, 0.6), 1) if index % 3 else None,
                cls=round(generator.expovariate(25), 4),
                sample_rate=0.1,
            )
        )
    RumBeacon.objects.bulk_create(beacons, batch_size=500)
    return len(beacons)


def staff_session() -> tuple[str, str]:
    """A staff member allowed the reports, signed in: (cookie name, session key)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Permission

    user, _ = get_user_model().objects.get_or_create(username=SCREENSHOT_USER, defaults={"is_staff": True})
    user.set_unusable_password()
    user.save()
    user.user_permissions.add(Permission.objects.get(content_type__app_label="analytics", codename="view_reports"))
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return settings.SESSION_COOKIE_NAME, str(session.session_key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")
    django.setup()
    from partners.models import Partner
    from partners.services import api_key_create

    partner, _ = Partner.objects.get_or_create(name="Screenshot Books", defaults={"contact_email": "shots@example.com"})
    api_key = api_key_create(partner=partner, name="screenshots", can_write=False).raw_key
    print(f"traffic: {send_traffic(options.base_url.rstrip('/'), api_key=api_key)} requests", file=sys.stderr)
    print(f"beacons: {store_beacons()}", file=sys.stderr)
    name, value = staff_session()
    print(f"{name} {value}")


if __name__ == "__main__":
    main()
