"""Asking about a feature while rendering a page that the page cache may keep.

A kept page must not outlive the reason it looks the way it does:

* every page depends on the tag of each feature it asked about, so an admin switching
  the feature retires exactly those pages (``features_publish`` calls ``pages_changed``);
* a page rendered with a feature *shed* is kept for ``LOAD_SHED_PAGE_SECONDS`` only (in
  Redis, in each process and in shared HTTP caches, through ``s-maxage``), and the end
  of shedding retires it at once (``shedding.SHED_TAG``).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from cloudshelf.edge.page_cache import keep_briefly, page_depends_on
from cloudshelf.features.selectors import SHEDDING, feature_state
from cloudshelf.features.shedding import SHED_TAG


def feature_tag(name: str) -> str:
    """The page-cache tag of every page that asked about feature ``name``."""
    return f"feature:{name}"


def page_shows(request: HttpRequest, name: str) -> bool:
    """Whether the page being rendered shows feature ``name`` (see the module docstring)."""
    state = feature_state(name)
    page_depends_on(request, feature_tag(state.feature.name))
    if state.source == SHEDDING:
        page_depends_on(request, SHED_TAG)
        keep_briefly(request, settings.LOAD_SHED_PAGE_SECONDS)
    return state.is_enabled
