"""How an address is written out (cart.addresses.address_lines): the destination's layout, the country's name."""

import pytest

from cart.addresses import ShippingAddress, address_lines, country_name


def address(**fields: str) -> ShippingAddress:
    return ShippingAddress(
        **{"name": "Alice Reader", "line1": "1 Library Lane", "city": "", "postal_code": ""} | fields
    )


def test_a_uk_address_has_the_town_county_and_postcode_on_lines_of_their_own():
    london = address(line2="Flat 2", city="London", region="Greater London", postal_code="N1 9GU", country="GB")

    assert address_lines(london) == [
        "Alice Reader",
        "1 Library Lane",
        "Flat 2",
        "London",
        "Greater London",
        "N1 9GU",
        "United Kingdom",
    ]


def test_a_us_address_has_city_state_and_zip_on_one_line():
    springfield = address(city="Springfield", region="IL", postal_code="62704", country="US")

    assert address_lines(springfield) == ["Alice Reader", "1 Library Lane", "Springfield, IL 62704", "United States"]


def test_a_us_address_without_a_state_has_no_stray_space():
    assert address_lines(address(city="Springfield", postal_code="62704", country="US"))[2] == "Springfield, 62704"


@pytest.mark.parametrize(
    ("country", "locality"),
    [
        ("CA", ["Ottawa ON K1A 0B1"]),
        ("AU", ["Ottawa ON K1A 0B1"]),
        ("NZ", ["ON", "Ottawa K1A 0B1"]),
        ("DE", ["K1A 0B1 Ottawa", "ON"]),
        ("FR", ["K1A 0B1 Ottawa", "ON"]),
    ],
)
def test_each_country_orders_town_region_and_postal_code_its_own_way(country, locality):
    lines = address_lines(address(city="Ottawa", region="ON", postal_code="K1A 0B1", country=country))

    assert lines[2:-1] == locality
    assert lines[-1] == country_name(country)


def test_a_country_outside_the_shipping_list_is_shown_by_its_code_in_the_default_layout():
    assert address_lines(address(city="Tokyo", postal_code="100-0001", country="JP"))[2:] == ["100-0001 Tokyo", "JP"]


def test_blank_optional_lines_are_left_out():
    assert "" not in address_lines(address(city="Berlin", postal_code="10115", country="DE"))
