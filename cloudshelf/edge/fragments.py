"""Parts of a kept page kept on their own, retired by tags like whole pages.

When a page is rebuilt because one thing on it changed (a book's price), most of it has
not: the book's reviews, the "you may also like" row. Such a part is a *tagged fragment*:
its HTML is kept in the ``fragments`` cache with the change sequence number read before
it was rendered and the tags of what it shows, and reused while none of those tags has
changed since (``page_cache.unchanged_since``: one ``get_many``). The page still
depends on the fragment's tags, so a change to what the fragment shows retires both.

Only while a page is rendered into a shell for the page cache: there every personal
value is a placeholder, so the fragment holds nothing of one visitor's. Anywhere else
the fragment is rendered and not kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from cloudshelf.edge.page_cache import page_depends_on, page_shell, release_digest, unchanged_since


@dataclass(frozen=True)
class _Fragment:
    html: str
    sequence: int
    tags: tuple[str, ...]


Render = Callable[[], tuple[str, Iterable[str]]]


def tagged_fragment(request: HttpRequest, name: str, render: Render) -> SafeString:
    """The fragment ``name`` (unique to what it shows), from the cache when none of its tags changed.

    ``render()`` returns the HTML and the tags of what it shows. ``name`` must name
    everything else the HTML depends on (say the book and the page of reviews).
    """
    shell = page_shell(request)
    if shell is None or not settings.PAGE_CACHE_SECONDS:
        html, _ = render()
        return mark_safe(html)
    store = caches[settings.CARD_CACHE_ALIAS]
    key = f"tagged:{release_digest()}:{name}"
    kept: _Fragment | None = store.get(key)
    if kept is not None and unchanged_since(kept.tags, kept.sequence):
        page_depends_on(request, *kept.tags)
        return mark_safe(kept.html)
    # The page's own number, read before its render began, not the current one: the render
    # may read the replica, which is only known to hold what was committed before its WAL
    # fence (cloudshelf.db_router), so a change since then must leave this fragment stale.
    sequence = shell.sequence
    html, tags = render()
    fragment = _Fragment(html, sequence, tuple(sorted(set(tags))))
    store.set(key, fragment, settings.PAGE_CACHE_SECONDS)
    page_depends_on(request, *fragment.tags)
    return mark_safe(html)
