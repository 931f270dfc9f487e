"""Load shedding: over a limit non-essential features go off everywhere, and come back after the hold."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches
from django.test import RequestFactory

from cloudshelf.features import FEATURE_NAMES, is_enabled, shedding_active
from cloudshelf.features.selectors import ADMIN, SHEDDING, feature_state
from cloudshelf.features.services import feature_flag_set
from cloudshelf.features.shared import SHEDDING_KEY, SharedState
from cloudshelf.features.shedding import LoadMonitor, monitor, queued_seconds

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_features")]


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOAD_SHED_ENABLED = True
    settings.LOAD_SHED_MAX_IN_FLIGHT = 8
    settings.LOAD_SHED_MAX_QUEUE_MS = 250
    settings.LOAD_SHED_HOLD_SECONDS = 30.0
    settings.FEATURE_CHECK_SECONDS = 1.0
    settings.LOAD_SHED_TRUST_REQUEST_START = True


def busy(count: int) -> None:
    for _ in range(count):
        monitor.request_started()


def test_below_the_limits_nothing_is_shed(clock):
    busy(6)
    monitor.request_started(queued=0.25)  # the seventh, which waited exactly the limit

    assert shedding_active() is False
    assert [is_enabled(name) for name in FEATURE_NAMES] == [True, True, True]


def test_all_threads_busy_sheds_every_non_essential_feature(clock):
    busy(8)

    assert shedding_active() is True
    assert [feature_state(name).source for name in FEATURE_NAMES] == [SHEDDING, SHEDDING, SHEDDING]
    assert [is_enabled(name) for name in FEATURE_NAMES] == [False, False, False]


def test_a_long_queueing_time_sheds(clock):
    monitor.request_started(queued=0.251)

    assert shedding_active() is True


def test_features_come_back_only_after_the_hold_without_overload(clock):
    busy(8)
    for _ in range(8):
        monitor.request_finished()
    assert monitor.in_flight == 0

    clock.advance(29.9)
    assert shedding_active() is True  # load is low, but not for long enough yet
    clock.advance(0.2)
    assert shedding_active() is False
    assert is_enabled("recommendations") is True


def test_a_new_overload_during_the_hold_extends_it(clock):
    busy(8)
    clock.advance(20)
    monitor.request_started()  # the ninth: still overloaded
    clock.advance(29)

    assert shedding_active() is True
    clock.advance(1.1)
    assert shedding_active() is False


def test_a_hold_extended_elsewhere_just_before_the_end_does_not_flap_here(clock, caplog):
    other_process = LoadMonitor(clock=clock, shared=SharedState(clock=clock))
    busy(8)  # until +30
    clock.advance(29.2)
    assert other_process.is_shedding() is True  # its copy: until +30, read now
    clock.advance(0.3)
    monitor.request_started()  # overloaded again here: until +59.5, shared
    caplog.set_level(logging.WARNING, logger="cloudshelf.features.shedding")
    caplog.clear()

    clock.advance(0.6)  # past the end in its copy, which is only 0.9 s old

    assert other_process.is_shedding() is True
    assert caplog.records == []


def test_every_process_sheds_when_one_is_overloaded(clock):
    other_process = LoadMonitor(clock=clock, shared=SharedState(clock=clock))
    assert other_process.is_shedding() is False

    busy(8)  # this process

    assert other_process.is_shedding() is False  # its memo of the shared state: up to a second old
    clock.advance(1.0)
    assert other_process.is_shedding() is True
    assert caches["durable"].get(SHEDDING_KEY) == pytest.approx(clock.now - 1.0 + 30.0)
    clock.advance(29.1)
    assert other_process.is_shedding() is False


def test_a_process_sheds_until_the_shared_end_though_redis_stops_answering(clock, settings):
    other_process = LoadMonitor(clock=clock, shared=SharedState(clock=clock))
    busy(8)
    clock.advance(1.0)
    assert other_process.is_shedding() is True
    working = settings.CACHES
    settings.CACHES = {**working, "durable": {**working["durable"], "LOCATION": "redis://127.0.0.1:1/0"}}
    try:
        clock.advance(1.0)  # read again: nothing answers
        during = other_process.is_shedding()
        clock.advance(28.1)  # past the end it read
        after = other_process.is_shedding()
    finally:
        settings.CACHES = working

    assert (during, after) == (True, False)


def test_an_overloaded_process_writes_the_shared_state_once_a_second_at_most(clock):
    busy(8)
    caches["durable"].delete(SHEDDING_KEY)
    monitor.request_started()  # the same second: not written again

    assert caches["durable"].get(SHEDDING_KEY) is None
    clock.advance(1.0)
    monitor.request_started()
    assert caches["durable"].get(SHEDDING_KEY) == clock.now + 30.0


def test_an_admin_off_stays_off_and_says_so_while_shedding(clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        feature_flag_set(name="review_lists", is_enabled=False)
    busy(8)

    assert feature_state("review_lists").source == ADMIN
    assert feature_state("recommendations").source == SHEDDING


def test_an_environment_on_is_never_shed(clock, settings):
    settings.FEATURE_OVERRIDES = {"facet_counts": True}
    busy(8)

    assert is_enabled("facet_counts") is True
    assert is_enabled("recommendations") is False


def test_shedding_switched_off_in_settings_never_sheds(clock, settings, caplog):
    caplog.set_level(logging.WARNING, logger="cloudshelf.features.shedding")
    settings.LOAD_SHED_ENABLED = False
    busy(50)
    clock.advance(1.0)
    monitor.request_started(queued=5.0)

    assert shedding_active() is False
    assert monitor.in_flight == 51  # still counted (readiness shows it)
    assert caches["durable"].get(SHEDDING_KEY) is None  # nothing asks the other processes to shed
    assert caplog.records == []


def test_each_change_of_state_is_logged_once(clock, caplog):
    caplog.set_level(logging.WARNING, logger="cloudshelf.features.shedding")
    busy(8)
    shedding_active()
    shedding_active()
    clock.advance(31)
    shedding_active()
    shedding_active()

    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "load shedding: overloaded, 8 requests in flight (limit 8)",
        "load shedding ON: non-essential features are off (in flight here: 8)",
        "load shedding OFF: load below the limits for 30.0 s",
    ]


# --- Queueing time from nginx's X-Request-Start --------------------------------------------


@pytest.mark.parametrize(
    ("header", "waited"),
    [
        ("t=1780000000.000", 0.5),  # nginx's $msec: seconds
        ("t=1780000000000", 0.5),  # milliseconds
        ("t=1780000000000000", 0.5),  # microseconds
        ("1780000000.25", 0.25),  # without "t="
    ],
)
def test_the_queueing_time_is_read_from_nginx_stamp(header, waited):
    request = RequestFactory().get("/", HTTP_X_REQUEST_START=header)

    assert queued_seconds(request, now=1_780_000_000.5) == pytest.approx(waited)


@pytest.mark.parametrize(
    "header",
    ["", "t=", "t=abc", "t=nan", "t=inf", "t=-5", "t=0", "t=1780000001.0", "t=1000", "t=" + "9" * 40, "t=1e400"],
)
def test_a_missing_malformed_future_or_absurd_stamp_counts_as_no_wait(header):
    request = RequestFactory().get("/", HTTP_X_REQUEST_START=header)

    assert queued_seconds(request, now=1_780_000_000.5) == 0.0


def test_the_stamp_is_ignored_unless_a_trusted_proxy_sets_it(settings):
    settings.LOAD_SHED_TRUST_REQUEST_START = False
    request = RequestFactory().get("/", HTTP_X_REQUEST_START="t=1779999990.0")

    assert queued_seconds(request, now=1_780_000_000.0) == 0.0


def test_the_stamp_is_not_trusted_by_default_even_behind_proxies(monkeypatch):
    from tests.test_settings import settings_for

    behind_a_balancer = settings_for(monkeypatch, TRUSTED_PROXY_COUNT="2", LOAD_SHED_TRUST_REQUEST_START=None)
    behind_our_nginx = settings_for(monkeypatch, TRUSTED_PROXY_COUNT="1", LOAD_SHED_TRUST_REQUEST_START="1")

    assert behind_a_balancer["LOAD_SHED_TRUST_REQUEST_START"] is False
    assert behind_our_nginx["LOAD_SHED_TRUST_REQUEST_START"] is True


def test_a_request_that_queued_too_long_through_the_middleware_sheds(client, clock):
    response = client.get("/health", HTTP_X_REQUEST_START=f"t={clock.now - 0.4:.3f}")

    assert response.status_code == 200
    assert response["X-Load-Shedding"] == "on"
    assert monitor.in_flight == 0  # counted out again


def test_answers_do_not_say_shedding_when_not_shedding(client, clock):
    response = client.get("/health", HTTP_X_REQUEST_START=f"t={clock.now - 0.1:.3f}")

    assert "X-Load-Shedding" not in response


# --- Readiness and metrics ------------------------------------------------------------------


def test_readiness_reports_shedding_as_degraded_not_down(client, clock, settings):
    settings.HEALTH_DETAILS_TOKEN = "resilience-token"
    headers = {"HTTP_X_HEALTH_TOKEN": "resilience-token"}
    calm = client.get("/health/ready", **headers).json()["checks"]["shedding"]
    busy(8)
    shedding = client.get("/health/ready", **headers)

    assert (calm["status"], calm["active"], calm["required"], calm["features_off"]) == ("ok", False, False, {})
    assert shedding.status_code == 200
    check = shedding.json()["checks"]["shedding"]
    assert (check["status"], check["required"]) == ("degraded", False)
    assert check["error"] == "overloaded: shedding facet_counts, recommendations, review_lists"


def test_metrics_show_the_shedding_gauge_and_each_feature(client, clock, settings):
    settings.METRICS_TOKEN = "resilience-metrics"
    busy(8)

    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer resilience-metrics").content.decode()

    assert "cloudshelf_load_shedding 1.0" in body
    assert 'cloudshelf_feature_enabled{feature="recommendations"} 0.0' in body
