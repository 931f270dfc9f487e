"""Series and title keys read from a book's title (catalog.titles)."""

import pytest

from catalog.titles import TitleParts, title_key, title_keys, title_parts


@pytest.mark.parametrize(
    ("title", "parts"),
    [
        ("Catching Fire (The Hunger Games, #2)", TitleParts("Catching Fire", "The Hunger Games", 2.0)),
        ("Men at Arms (Discworld, #15; City Watch #2)", TitleParts("Men at Arms", "Discworld", 15.0)),
        ("God Emperor of Dune (Dune Chronicles #4)", TitleParts("God Emperor of Dune", "Dune Chronicles", 4.0)),
        ("Shadow Kiss (Vampire Academy, #3.5)", TitleParts("Shadow Kiss", "Vampire Academy", 3.5)),
        # An omnibus has no one volume.
        ("The Twilight Collection (Twilight, #1-3)", TitleParts("The Twilight Collection", "Twilight", None)),
        ("Fables (Fables, #1\u20133)", TitleParts("Fables", "Fables", None)),
        # A parenthesis without a volume is not a series.
        ("Ender's Game (Ender's Saga)", TitleParts("Ender's Game (Ender's Saga)")),
        ("Dune", TitleParts("Dune")),
        ("", TitleParts("")),
        ("(#1)", TitleParts("(#1)")),
        ("Odd (Title) (Series, #x)", TitleParts("Odd (Title)")),
    ],
)
def test_title_parts_reads_the_series_and_volume(title, parts):
    assert title_parts(title) == parts


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("The Hunger Games", "hunger games"),
        ("  THE   hunger-games!  ", "hunger games"),
        ("Ender's Game", "enders game"),
        ("Ender\u2019s Game", "enders game"),
        ("A Game of Thrones", "game of thrones"),
        ("An Abundance of Katherines", "abundance of katherines"),
        ("Theory of Everything", "theory of everything"),  # "the" only as a whole word
        ("Les Misérables", "les misérables"),
        ("1984", "1984"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_title_key_ignores_case_punctuation_and_a_leading_article(text, key):
    assert title_key(text) == key


def test_title_keys_are_the_whole_title_and_the_title_without_its_parenthesis():
    assert title_keys("The Hunger Games (The Hunger Games, #1)") == ["hunger games the hunger games 1", "hunger games"]
    # Not the main title alone: "harry potter" does not mean the film book.
    assert title_keys("Harry Potter: Film Wizardry") == ["harry potter film wizardry"]
    assert title_keys("Dune") == ["dune"]
    assert title_keys("") == []
