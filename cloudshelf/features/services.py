"""Writes: switching a feature flag, and publishing the flags for every process to read."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import caches
from django.db import DatabaseError, transaction

from cloudshelf.edge.page_cache import pages_changed
from cloudshelf.features.models import FeatureFlag
from cloudshelf.features.pages import feature_tag
from cloudshelf.features.registry import FEATURES, feature_named
from cloudshelf.features.shared import CACHE_ALIAS, FLAGS_KEY, shared_state

logger = logging.getLogger(__name__)

MAX_NOTE_LENGTH = FeatureFlag._meta.get_field("note").max_length or 200


class FeatureFlagError(ValueError):
    """A flag change refused (unknown feature, bad note); nothing was changed."""


def feature_flag_set(*, name: str, is_enabled: bool, note: str = "", user: User | None = None) -> FeatureFlag:
    """Switch feature ``name`` on or off, with a note saying why; every process sees it within a second.

    On commit the flags are published to Redis and, if the feature was switched, every kept
    page that asked about it is retired, so no restart and no stale page shows the old state for long.
    """
    feature = feature_named(name)
    if not isinstance(is_enabled, bool):
        raise FeatureFlagError("is_enabled must be True or False.")
    note = note.strip() if isinstance(note, str) else ""
    if len(note) > MAX_NOTE_LENGTH:
        raise FeatureFlagError(f"The note is longer than {MAX_NOTE_LENGTH} characters.")
    with transaction.atomic():
        row = FeatureFlag.objects.select_for_update().filter(name=feature.name)
        was_enabled = row.values_list("is_enabled", flat=True).first()
        flag, _ = FeatureFlag.objects.update_or_create(
            name=feature.name,
            defaults={"is_enabled": is_enabled, "note": note, "changed_by": user},
        )
        # Published on every save (saving again repairs a Redis that lost the flags); but a new
        # note alone changes no page, and every book page asks about these features: retiring
        # them all for nothing would send a wave of re-renders to the database.
        is_switched = (was_enabled is not False) is not is_enabled  # no row: on
        transaction.on_commit(lambda: _flag_changed(feature.name, is_switched=is_switched))
    return flag


def feature_flags_ensure() -> None:
    """One row per registered feature (on), so the admin lists them all; existing rows are left alone.

    The migration makes them too; this covers a feature added later and a flushed table.
    """
    missing = set(FEATURES) - set(FeatureFlag.objects.values_list("name", flat=True))
    for name in sorted(missing):
        FeatureFlag.objects.get_or_create(name=name)


def _flag_changed(name: str, *, is_switched: bool) -> None:
    features_publish()
    if is_switched:
        pages_changed([feature_tag(name)])


def features_publish() -> dict[str, bool]:
    """Copy every admin flag from Postgres to the durable Redis, where requests read them.

    Runs after each change and after every ``migrate``; a failure is logged, and requests
    keep the previous copy (or the defaults) until the next publish.
    """
    flags = dict(FeatureFlag.objects.values_list("name", "is_enabled"))
    try:
        caches[CACHE_ALIAS].set(FLAGS_KEY, flags, timeout=None)
    except Exception:
        logger.warning("features: could not publish the flags %s", flags, exc_info=True)
    shared_state.expire(flags=flags)  # this process reads again (and has these should Redis not answer)
    return flags


def feature_flags_publish_after_migrate(**kwargs: Any) -> None:
    """``post_migrate`` receiver: publish again, so a Redis that lost its data learns the flags back."""
    try:
        features_publish()
    except DatabaseError:  # a migrate that stops short of this app's table
        logger.info("features: flags not published after migrate (no table yet)")
