import pytest
from django.core.exceptions import ValidationError

from catalog.isbn import is_valid_isbn13, isbn13_check_digit, normalize_isbn13, validate_isbn13


@pytest.mark.parametrize("isbn", ["9780306406157", "9781861972712", "9798886450002"])
def test_valid_isbns_pass(isbn):
    assert is_valid_isbn13(isbn)
    validate_isbn13(isbn)


def test_check_digit_of_known_isbn():
    assert isbn13_check_digit("978030640615") == 7


def test_check_digit_is_zero_when_the_weighted_sum_is_a_multiple_of_ten():
    assert isbn13_check_digit("978000000004") == 0


def test_it_rejects_a_wrong_check_digit():
    with pytest.raises(ValidationError) as error:
        validate_isbn13("9780306406158")
    assert error.value.code == "isbn_check_digit"


@pytest.mark.parametrize(
    "isbn", ["", "978030640615", "97803064061570", "97803064O6157", "978030640615x", "٩٧٨٠٣٠٦٤٠٦١٥٧"]
)
def test_it_rejects_anything_but_thirteen_ascii_digits(isbn):
    assert not is_valid_isbn13(isbn)
    with pytest.raises(ValidationError) as error:
        validate_isbn13(isbn)
    assert error.value.code == "isbn_format"


def test_it_rejects_prefixes_other_than_978_and_979():
    first_twelve = "977030640615"
    isbn = first_twelve + str(isbn13_check_digit(first_twelve))
    assert not is_valid_isbn13(isbn)
    with pytest.raises(ValidationError) as error:
        validate_isbn13(isbn)
    assert error.value.code == "isbn_prefix"


def test_normalize_strips_hyphens_and_spaces():
    assert normalize_isbn13(" 978-0-306 40615-7 ") == "9780306406157"
