"""Personal slots: the few parts of a shared page that belong to one visitor.

A cached page is rendered once, as an anonymous visitor without a session would see it
(the *shell*). The parts that differ per visitor (the account menu and cart count, flash
messages, "your review" on a book page) are *slots*: the template writes
``{% personal_slot "account_nav" %}``, which in the shell renders the anonymous version
between two HTML comments::

    <!--personal:account_nav:-->…anonymous markup…<!--/personal:account_nav:-->

Serving the shell to a visitor with a session replaces each marked part with that
visitor's rendering (a few small templates, no page render). Outside the page cache
(the cart page, forms) the tag renders the visitor's version directly, so one template
serves both.

Apps register their slots with ``register_slot`` from ``AppConfig.ready``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)

# (request, argument, personal, values) -> HTML. ``personal=False`` is the anonymous shell:
# the renderer must not read the session or the user then (a shared page must not depend on
# them). ``values`` is the template context where the slot is rendered inline (a view may
# have passed what the slot needs, such as the cart count), empty when filling a kept shell.
SlotRenderer = Callable[[HttpRequest, str, bool, Mapping[str, Any]], str]

# Arguments end up inside an HTML comment: keep them to characters that cannot close it.
_ARGUMENT = re.compile(r"[A-Za-z0-9_.-]{0,64}")
_SLOT_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")
_MARKED = re.compile(r"<!--personal:([a-z][a-z0-9_]*):([A-Za-z0-9_.-]*)-->(.*?)<!--/personal:\1:\2-->", re.DOTALL)


@dataclass(frozen=True)
class Slot:
    name: str
    render: SlotRenderer


_slots: dict[str, Slot] = {}


def register_slot(name: str, render: SlotRenderer) -> None:
    """Make ``{% personal_slot name %}`` available (call from an ``AppConfig.ready``)."""
    if not _SLOT_NAME.fullmatch(name):
        raise ValueError(f"slot names are lower-case identifiers, not {name!r}")
    _slots[name] = Slot(name, render)


def _argument(value: object) -> str:
    text = "" if value is None else str(value)
    if not _ARGUMENT.fullmatch(text):
        raise ValueError(f"a personal slot's argument must match {_ARGUMENT.pattern}, not {text!r}")
    return text


def render_slot(
    request: HttpRequest, name: str, argument: object = "", *, in_shell: bool, values: Mapping[str, Any] | None = None
) -> SafeString:
    """The slot's HTML: in a shell, the anonymous version with markers; else this visitor's."""
    slot = _slots.get(name)
    if slot is None:
        raise KeyError(f"no personal slot named {name!r} (registered: {sorted(_slots)})")
    text = _argument(argument)
    if not in_shell:
        return mark_safe(slot.render(request, text, True, values or {}))
    anonymous = slot.render(request, text, False, values or {})
    return mark_safe(f"<!--personal:{name}:{text}-->{anonymous}<!--/personal:{name}:{text}-->")


def fill_personal_slots(request: HttpRequest, html: str) -> str:
    """``html`` (a shell) with every slot rendered for this visitor.

    A slot that fails (say the database is down while a cached page is served stale)
    keeps its anonymous version: the page still answers.
    """

    def personal(match: re.Match[str]) -> str:
        slot = _slots.get(match.group(1))
        if slot is None:
            return match.group(3)
        try:
            return slot.render(request, match.group(2), True, {})
        except Exception:  # a broken slot must not break a page that is otherwise ready
            logger.warning("personal slot %s failed; serving its anonymous version", slot.name, exc_info=True)
            return match.group(3)

    return _MARKED.sub(personal, html)
