"""Feature flags: each source (environment, admin, default), the published copy, refusals."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.cache import caches
from django.db import IntegrityError, transaction

from cloudshelf.features import FEATURE_NAMES, UnknownFeature, is_enabled
from cloudshelf.features.models import FeatureFlag
from cloudshelf.features.selectors import ADMIN, DEFAULT, ENVIRONMENT, feature_state
from cloudshelf.features.services import FeatureFlagError, feature_flag_set, feature_flags_ensure, features_publish
from cloudshelf.features.shared import FLAGS_KEY, SharedState, shared_state
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_features", "flag_rows")]


@pytest.fixture
def flag_rows():
    """The rows the migration makes (a transactional test elsewhere may have flushed them)."""
    feature_flags_ensure()


def switch(name: str, on: bool, capture, **extra) -> FeatureFlag:
    """Switch a flag as the admin does, running what waits for the commit."""
    with capture(execute=True):
        return feature_flag_set(name=name, is_enabled=on, **extra)


def test_the_registry_names_the_three_non_essential_features():
    assert FEATURE_NAMES == ("recommendations", "review_lists", "facet_counts")


def test_every_feature_is_on_when_nobody_switched_it():
    assert [feature_state(name).source for name in FEATURE_NAMES] == [DEFAULT, DEFAULT, DEFAULT]
    assert [is_enabled(name) for name in FEATURE_NAMES] == [True, True, True]


def test_the_admin_list_has_a_row_per_feature_even_after_the_table_was_emptied(staff_client):
    FeatureFlag.objects.all().delete()

    assert staff_client.get("/admin/features/featureflag/").status_code == 200
    assert list(FeatureFlag.objects.order_by("name").values_list("name", "is_enabled")) == [
        ("facet_counts", True),
        ("recommendations", True),
        ("review_lists", True),
    ]


def test_an_admin_flag_switches_a_feature_off_at_once_in_this_process(django_capture_on_commit_callbacks):
    assert is_enabled("recommendations") is True  # read, and remembered by this process

    staff = UserFactory(is_staff=True, password=None)
    switch("recommendations", False, django_capture_on_commit_callbacks, note="Slow query", user=staff)

    assert is_enabled("recommendations") is False
    assert feature_state("recommendations").source == ADMIN
    assert is_enabled("review_lists") is True
    flag = FeatureFlag.objects.get(name="recommendations")
    assert (flag.is_enabled, flag.note, flag.changed_by) == (False, "Slow query", staff)
    assert caches["durable"].get(FLAGS_KEY) == {"facet_counts": True, "recommendations": False, "review_lists": True}


def test_another_process_sees_the_change_within_the_check_interval(settings, clock, django_capture_on_commit_callbacks):
    settings.FEATURE_CHECK_SECONDS = 1.0
    other_process = SharedState(clock=clock)
    assert other_process.current().flags == {}  # read before the change: remembered

    switch("review_lists", False, django_capture_on_commit_callbacks)
    clock.advance(0.9)
    assert other_process.current().flags == {}
    clock.advance(0.2)
    assert other_process.current().flags["review_lists"] is False


def test_switching_back_on_needs_no_restart(django_capture_on_commit_callbacks):
    switch("facet_counts", False, django_capture_on_commit_callbacks)
    assert is_enabled("facet_counts") is False

    switch("facet_counts", True, django_capture_on_commit_callbacks)

    assert is_enabled("facet_counts") is True
    assert feature_state("facet_counts").source == ADMIN


def test_nothing_is_published_before_the_commit():
    with transaction.atomic():
        feature_flag_set(name="recommendations", is_enabled=False)
        assert caches["durable"].get(FLAGS_KEY) is None
        assert is_enabled("recommendations") is True


def test_the_environment_wins_over_the_admin(settings, django_capture_on_commit_callbacks):
    switch("recommendations", False, django_capture_on_commit_callbacks)
    settings.FEATURE_OVERRIDES = {"recommendations": True, "review_lists": False}

    assert (is_enabled("recommendations"), feature_state("recommendations").source) == (True, ENVIRONMENT)
    assert (is_enabled("review_lists"), feature_state("review_lists").source) == (False, ENVIRONMENT)
    assert feature_state("review_lists").is_locked is True
    assert (is_enabled("facet_counts"), feature_state("facet_counts").source) == (True, ADMIN)  # its row: on


def test_settings_read_each_feature_from_its_environment_variable(monkeypatch):
    from tests.test_settings import settings_for

    values = settings_for(
        monkeypatch, FEATURE_RECOMMENDATIONS="0", FEATURE_FACET_COUNTS="yes", FEATURE_REVIEW_LISTS=None
    )

    assert values["FEATURE_OVERRIDES"] == {"recommendations": False, "facet_counts": True}


def test_settings_treat_an_empty_feature_variable_as_unset(monkeypatch):
    from tests.test_settings import settings_for

    values = settings_for(monkeypatch, FEATURE_RECOMMENDATIONS="", FEATURE_REVIEW_LISTS="  ", FEATURE_FACET_COUNTS="0")

    assert values["FEATURE_OVERRIDES"] == {"facet_counts": False}


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("FEATURE_CHECK_SECONDS", "nan", "FEATURE_CHECK_SECONDS=nan is not at most 60 seconds"),
        ("FEATURE_CHECK_SECONDS", "inf", "FEATURE_CHECK_SECONDS=inf is not at most 60 seconds"),
        ("LOAD_SHED_HOLD_SECONDS", "nan", "LOAD_SHED_HOLD_SECONDS=nan is not at most 3600 seconds"),
        ("LOAD_SHED_HOLD_SECONDS", "1e9", "LOAD_SHED_HOLD_SECONDS=1000000000.0 is not at most 3600 seconds"),
    ],
)
def test_settings_refuse_an_interval_that_would_never_read_again_or_never_stop_shedding(
    monkeypatch, variable, raw, message
):
    from cloudshelf.env import ImproperlyConfiguredEnv
    from tests.test_settings import settings_for

    with pytest.raises(ImproperlyConfiguredEnv) as refused:
        settings_for(monkeypatch, **{variable: raw})

    assert str(refused.value) == message


def test_settings_refuse_a_feature_variable_that_is_not_a_boolean(monkeypatch):
    from cloudshelf.env import ImproperlyConfiguredEnv
    from tests.test_settings import settings_for

    with pytest.raises(ImproperlyConfiguredEnv, match="FEATURE_REVIEW_LISTS"):
        settings_for(monkeypatch, FEATURE_REVIEW_LISTS="sometimes")


@pytest.mark.parametrize(
    "name", ["", "related", "RECOMMENDATIONS", " recommendations", "recommendations; DROP TABLE", "x" * 10_000, None, 3]
)
def test_unknown_or_hostile_names_are_refused_everywhere(name, django_capture_on_commit_callbacks):
    with pytest.raises(UnknownFeature, match="No feature is called"):
        is_enabled(name)
    with pytest.raises(UnknownFeature), django_capture_on_commit_callbacks(execute=True):
        feature_flag_set(name=name, is_enabled=False)

    assert FeatureFlag.objects.count() == 3
    assert caches["durable"].get(FLAGS_KEY) is None


def test_the_database_refuses_a_flag_of_no_known_feature():
    with pytest.raises(IntegrityError), transaction.atomic():
        FeatureFlag.objects.create(name="dark_mode")


@pytest.mark.parametrize(("is_enabled_value", "note"), [("no", ""), (0, ""), (False, "n" * 201)])
def test_a_bad_value_or_a_long_note_is_refused_and_nothing_changes(
    is_enabled_value, note, django_capture_on_commit_callbacks
):
    with pytest.raises(FeatureFlagError), django_capture_on_commit_callbacks(execute=True):
        feature_flag_set(name="recommendations", is_enabled=is_enabled_value, note=note)

    assert FeatureFlag.objects.get(name="recommendations").is_enabled is True
    assert caches["durable"].get(FLAGS_KEY) is None


def test_with_redis_unreachable_a_process_that_never_read_the_flags_shows_every_feature(
    settings, django_capture_on_commit_callbacks
):
    switch("recommendations", False, django_capture_on_commit_callbacks)
    working = settings.CACHES
    settings.CACHES = {**working, "durable": {**working["durable"], "LOCATION": "redis://127.0.0.1:1/0"}}
    shared_state.forget()  # a process started during the outage
    try:
        states = [is_enabled(name) for name in FEATURE_NAMES]
    finally:
        settings.CACHES = working  # before the fixtures empty the (working) cache again

    assert states == [True, True, True]


def unreachable_durable_redis(settings) -> dict:
    """Point the durable cache at a closed port; returns the working caches to put back."""
    working = settings.CACHES
    settings.CACHES = {**working, "durable": {**working["durable"], "LOCATION": "redis://127.0.0.1:1/0"}}
    return working


def test_a_process_keeps_the_flags_it_read_while_redis_cannot_answer(
    settings, clock, django_capture_on_commit_callbacks
):
    switch("recommendations", False, django_capture_on_commit_callbacks)
    assert is_enabled("recommendations") is False  # read from Redis
    working = unreachable_durable_redis(settings)
    try:
        clock.advance(1.1)  # read again: nothing answers
        during = [is_enabled(name) for name in FEATURE_NAMES]
    finally:
        settings.CACHES = working

    assert during == [False, True, True]


def test_a_process_keeps_the_flags_it_read_when_redis_lost_them(clock, django_capture_on_commit_callbacks):
    switch("review_lists", False, django_capture_on_commit_callbacks)
    assert is_enabled("review_lists") is False
    caches["durable"].delete(FLAGS_KEY)

    clock.advance(1.1)

    assert is_enabled("review_lists") is False


def test_the_process_that_switched_a_flag_keeps_it_though_redis_cannot_answer(
    settings, django_capture_on_commit_callbacks
):
    working = unreachable_durable_redis(settings)
    try:
        switch("facet_counts", False, django_capture_on_commit_callbacks)
        shown = is_enabled("facet_counts")
    finally:
        settings.CACHES = working

    assert shown is False


def test_publishing_again_restores_flags_a_redis_lost(django_capture_on_commit_callbacks):
    switch("review_lists", False, django_capture_on_commit_callbacks)
    caches["durable"].delete(FLAGS_KEY)
    shared_state.forget()
    assert is_enabled("review_lists") is True  # Redis lost them: the defaults

    assert features_publish() == {"facet_counts": True, "recommendations": True, "review_lists": False}
    assert is_enabled("review_lists") is False


# --- The admin -----------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, password=None))
    return client


def test_the_admin_lists_each_flag_with_its_state_and_what_decided_it(staff_client, settings):
    settings.FEATURE_OVERRIDES = {"facet_counts": False}

    html = staff_client.get("/admin/features/featureflag/").content.decode()

    assert html.count('<td class="field-effective_state">on</td>') == 2
    assert html.count('<td class="field-effective_state">off</td>') == 1
    assert '<td class="field-decided_by">environment (locked)</td>' in html
    assert html.count('<td class="field-decided_by">default</td>') == 2


def test_an_admin_edit_switches_the_feature_and_is_logged(staff_client, django_capture_on_commit_callbacks):
    flag = FeatureFlag.objects.get(name="review_lists")

    with django_capture_on_commit_callbacks(execute=True):
        # No "is_enabled" in the form: an unticked checkbox, so off.
        response = staff_client.post(
            f"/admin/features/featureflag/{flag.pk}/change/", {"note": "Reviews query slow tonight"}
        )

    assert response.status_code == 302
    assert is_enabled("review_lists") is False
    flag.refresh_from_db()
    assert (flag.is_enabled, flag.note, flag.changed_by.is_staff) == (False, "Reviews query slow tonight", True)
    entry = LogEntry.objects.get(object_id=str(flag.pk))
    assert (entry.action_flag, entry.get_change_message()) == (CHANGE, "Changed Enabled and Note.")


def test_an_environment_forced_flag_is_locked_in_the_admin(staff_client, settings):
    settings.FEATURE_OVERRIDES = {"review_lists": True}
    flag = FeatureFlag.objects.get(name="review_lists")

    html = staff_client.get(f"/admin/features/featureflag/{flag.pk}/change/").content.decode()
    staff_client.post(f"/admin/features/featureflag/{flag.pk}/change/", {"note": "try"})

    assert 'name="is_enabled"' not in html
    assert 'name="note"' not in html
    flag.refresh_from_db()
    assert (flag.is_enabled, flag.note) == (True, "")


def test_flags_cannot_be_added_or_deleted_in_the_admin(staff_client):
    flag = FeatureFlag.objects.get(name="review_lists")

    assert staff_client.get("/admin/features/featureflag/add/").status_code == 403
    assert staff_client.post(f"/admin/features/featureflag/{flag.pk}/delete/", {"post": "yes"}).status_code == 403
    assert FeatureFlag.objects.count() == 3


def test_staff_without_the_permission_are_refused_and_change_nothing(client):
    FeatureFlag.objects.all().delete()
    client.force_login(UserFactory(is_staff=True, password=None))

    response = client.get("/admin/features/featureflag/")

    assert response.status_code == 403
    assert FeatureFlag.objects.count() == 0


def test_customers_cannot_reach_the_flags(client):
    client.force_login(UserFactory(password=None))

    response = client.get("/admin/features/featureflag/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
