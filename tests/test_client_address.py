"""cloudshelf.client.client_address: the client's IP address behind trusted proxies, never a forged one."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from cloudshelf.client import client_address, normalise_address


def request_from(remote_addr: str | None = "10.0.0.1", forwarded_for: str | None = None):
    request = RequestFactory().get("/")
    if remote_addr is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = remote_addr
    if forwarded_for is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return request


def test_without_trusted_proxies_it_is_the_peer_and_ignores_the_header(settings):
    settings.TRUSTED_PROXY_COUNT = 0

    assert client_address(request_from("203.0.113.9", forwarded_for="198.51.100.1")) == "203.0.113.9"


def test_behind_one_proxy_it_is_the_address_that_proxy_appended(settings):
    settings.TRUSTED_PROXY_COUNT = 1

    # The client forged the first two entries; the load balancer appended the real one.
    request = request_from("10.0.0.1", forwarded_for="1.1.1.1, 2.2.2.2, 198.51.100.7")

    assert client_address(request) == "198.51.100.7"


def test_behind_two_proxies_it_is_the_second_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 2

    request = request_from("10.0.0.1", forwarded_for="6.6.6.6, 198.51.100.7, 10.0.0.200")

    assert client_address(request) == "198.51.100.7"


def test_a_header_exactly_as_long_as_the_proxy_chain_is_read(settings):
    settings.TRUSTED_PROXY_COUNT = 2

    assert client_address(request_from("10.0.0.1", forwarded_for="198.51.100.7,10.0.0.200")) == "198.51.100.7"


@pytest.mark.parametrize(
    "header",
    [
        "",  # a proxy that sent nothing
        "   ",
        "198.51.100.7",  # shorter than the chain: the request skipped a proxy
        "not-an-address, 10.0.0.200",
        "<script>, 10.0.0.200",
        "198.51.100.7 10.0.0.5, 10.0.0.200",
        ", 10.0.0.200",
        "[2001:db8::1, 10.0.0.200",
        "999.1.1.1, 10.0.0.200",
        "\x00\x01, 10.0.0.200",
    ],
)
def test_a_short_or_malformed_header_falls_back_to_the_peer(settings, header):
    settings.TRUSTED_PROXY_COUNT = 2

    assert client_address(request_from("10.0.0.1", forwarded_for=header)) == "10.0.0.1"


def test_a_missing_header_falls_back_to_the_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 1

    assert client_address(request_from("10.0.0.1")) == "10.0.0.1"


def test_a_huge_forged_header_costs_nothing_and_is_not_trusted(settings):
    settings.TRUSTED_PROXY_COUNT = 1

    header = ", ".join(["6.6.6.6"] * 200_000) + ", 198.51.100.7"

    assert client_address(request_from("10.0.0.1", forwarded_for=header)) == "198.51.100.7"


def test_without_any_peer_address_it_is_unknown(settings):
    settings.TRUSTED_PROXY_COUNT = 0

    assert client_address(request_from(None)) == "unknown"
    assert client_address(request_from("garbage")) == "unknown"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("198.51.100.7:51234", "198.51.100.7"),
        ("fe80::1%eth0", "fe80::1"),
        (" 198.51.100.7 ", "198.51.100.7"),
        ("", None),
        ("example.com", None),
        ("1.2.3", None),
    ],
)
def test_addresses_are_normalised_to_one_spelling(raw, expected):
    assert normalise_address(raw) == expected


def test_a_forwarded_ipv6_address_is_normalised(settings):
    settings.TRUSTED_PROXY_COUNT = 1

    assert client_address(request_from("10.0.0.1", forwarded_for="[2001:DB8::0:1]:8443")) == "2001:db8::1"
