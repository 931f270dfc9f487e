"""bench/lighthouse.py: reading Lighthouse's reports, and (slow) the whole run against the embedded default."""

from __future__ import annotations

from pathlib import Path

from bench.lighthouse import FailingAudit, PageScore, format_score, parse_report

ROOT = Path(__file__).resolve().parents[2]


def report(score: float | None, audits: dict[str, dict]) -> dict:
    refs = [{"id": audit_id, "weight": 7} for audit_id in audits]
    return {
        "categories": {"accessibility": {"score": score, "auditRefs": refs}},
        "audits": {audit_id: {"id": audit_id, **audit} for audit_id, audit in audits.items()},
    }


def test_a_report_gives_the_score_and_only_the_audits_that_failed():
    found = report(
        0.96,
        {
            "color-contrast": {
                "title": "Background and foreground colors do not have a sufficient contrast ratio.",
                "score": 0,
                "scoreDisplayMode": "binary",
                "details": {
                    "items": [
                        {
                            "node": {
                                "selector": "li.pagination__step > span.pagination__disabled",
                                "explanation": (
                                    "Fix any of the following:\n  Element has insufficient color contrast of 1.52"
                                ),
                            }
                        }
                    ]
                },
            },
            "image-alt": {"title": "Image elements have [alt] attributes", "score": 1, "scoreDisplayMode": "binary"},
            "video-caption": {"title": "Videos have captions", "score": None, "scoreDisplayMode": "notApplicable"},
            "tabindex": {
                "title": "No element has a [tabindex] value greater than 0",
                "score": 0,
                "scoreDisplayMode": "manual",
            },
        },
    )

    score, failing = parse_report(found)

    assert score == 96
    assert failing == [
        FailingAudit(
            id="color-contrast",
            title="Background and foreground colors do not have a sufficient contrast ratio.",
            elements=[
                "li.pagination__step > span.pagination__disabled — Element has insufficient color contrast of 1.52"
            ],
        )
    ]


def test_a_report_without_a_score_says_so():
    assert parse_report({"categories": {}, "audits": {}, "runtimeError": {"message": "NO_FCP"}}) == (None, [])


def test_a_page_passes_at_100_only_and_its_failures_are_listed_under_it():
    failing = PageScore(
        "book list",
        "http://127.0.0.1:8000/books/",
        96,
        [FailingAudit("color-contrast", "Contrast is too low.", ["span.pagination__disabled"])],
    )

    assert PageScore("home", "http://127.0.0.1:8000/", 100).is_passing
    assert not failing.is_passing
    assert not PageScore("404", "http://127.0.0.1:8000/x/", None, error="NO_FCP").is_passing
    assert format_score(failing) == (
        "FAIL  96  book list                http://127.0.0.1:8000/books/\n"
        "          color-contrast: Contrast is too low.\n"
        "            span.pagination__disabled"
    )


# The whole audit is not a test here: `make test` runs it as its own step (`make lighthouse`).
