"""Synonyms staff edit in the admin, expanded at query time and live within seconds."""

import pytest
from django.core.cache import cache

from search import synonyms
from search.engine import search_books
from search.models import Synonym

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(admin)
    return client


def test_expansion_offers_each_term_of_the_group_in_place():
    Synonym.objects.create(terms="sci-fi, science fiction, sf")

    assert synonyms.expand("Sci-Fi thrillers") == [
        "Sci-Fi thrillers",
        "science fiction thrillers",
        "sf thrillers",
    ]
    assert synonyms.expand("science fiction") == ["science fiction", "sci-fi", "sf"]


def test_the_longest_phrase_wins_and_plain_queries_are_untouched():
    Synonym.objects.create(terms="young adult, ya")
    Synonym.objects.create(terms="adult, grown-up")

    assert synonyms.expand("young adult fantasy") == ["young adult fantasy", "ya fantasy"]
    assert synonyms.expand("dune") == ["dune"]


def test_expansion_is_capped():
    for index in range(6):
        Synonym.objects.create(terms=f"w{index}, v{index}, u{index}")

    assert len(synonyms.expand("w0 w1 w2 w3 w4 w5")) == synonyms.MAX_VARIANTS


def test_a_group_needs_two_different_terms(staff_client):
    response = staff_client.post("/admin/search/synonym/add/", {"terms": "sci-fi, Sci-Fi", "is_active": "on"})

    assert response.status_code == 200
    assert "at least two different terms" in response.content.decode()
    assert not Synonym.objects.exists()


def test_an_edit_in_the_admin_takes_effect_without_a_reindex(
    staff_client, indexed_shelf, django_capture_on_commit_callbacks
):
    assert search_books(query="ya").total == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/admin/search/synonym/add/", {"terms": " YA ,young adult", "is_active": "on"})

    assert response.status_code == 302
    assert Synonym.objects.get().terms == "ya, young adult"
    assert [book.title for book in search_books(query="ya").books] == ["The Hunger Games"]

    synonym = Synonym.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(f"/admin/search/synonym/{synonym.pk}/change/", {"terms": "ya, young adult"})  # unticked

    assert search_books(query="ya").total == 0


def test_other_processes_see_an_edit_within_a_minute(settings):
    """The cached map lives at most SEARCH_SYNONYMS_CACHE_SECONDS plus the in-process memo."""
    assert settings.SEARCH_SYNONYMS_CACHE_SECONDS + synonyms.MEMO_SECONDS <= 60
    synonyms.synonym_map()
    assert cache.ttl(synonyms.CACHE_KEY) <= settings.SEARCH_SYNONYMS_CACHE_SECONDS


def test_a_save_clears_the_shared_cache_at_once():
    synonyms.synonym_map()
    Synonym.objects.create(terms="ya, young adult")

    assert cache.get(synonyms.CACHE_KEY) is None
    assert synonyms.synonym_map()[("ya",)] == ("ya", "young adult")
