"""``{% load personal %}``: ``{% personal_slot "name" argument %}`` marks a visitor's part of a page.

See ``cloudshelf.edge.slots``: inside a page being kept it renders the anonymous version
between markers; anywhere else, this visitor's version.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from cloudshelf.edge.slots import render_slot

register = template.Library()


@register.simple_tag(takes_context=True)
def personal_slot(context: template.Context, name: str, argument: object = "") -> SafeString:
    in_shell = bool(context.get("page_shell"))
    values: dict[str, Any] = {} if in_shell else {str(name): value for name, value in context.flatten().items()}
    return render_slot(context["request"], name, argument, in_shell=in_shell, values=values)
