"""The personal part of a book page: the visitor's own review, the form to write one, or a log-in link.

A page-cache slot (``cloudshelf.edge.slots``): the kept book page holds the anonymous
version ("Log in to review"); a signed-in visitor gets theirs, at the cost of one query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import get_template

from catalog.forms import ReviewForm
from catalog.selectors import pages


def review_compose(request: HttpRequest, isbn13: str, personal: bool, values: Mapping[str, Any]) -> str:
    """The "your review" card, the review form, or the log-in link, for the book ``isbn13``."""
    context: dict[str, Any] = {"request": request, "isbn13": isbn13}
    if personal and request.user.is_authenticated:
        own_review = pages.review_by_isbn_and_customer(isbn13=isbn13, user=request.user)
        context |= {
            "own_review": own_review,
            "review_form": ReviewForm() if own_review is None else None,
            "csrf_token": get_token(request),
        }
    return get_template("catalog/includes/review_compose.html").render(context)
