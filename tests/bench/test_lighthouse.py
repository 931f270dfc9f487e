"""bench/lighthouse.py: reading Lighthouse's reports, and (slow) the whole run against the embedded default."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.lighthouse import LIGHTHOUSE, FailingAudit, PageScore, format_score, parse_report

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


# Three minutes on two cores (twelve Chromium runs), so asked for: RUN_LIGHTHOUSE=1 (`make lighthouse` is the same run).
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RUN_LIGHTHOUSE") != "1", reason="RUN_LIGHTHOUSE=1 runs it (about three minutes)")
@pytest.mark.skipif(
    not (LIGHTHOUSE.exists() and shutil.which("chromium")),
    reason="needs Chromium and Lighthouse (scripts/tools.sh chromium lighthouse)",
)
def test_every_public_page_scores_100_on_accessibility():
    run = subprocess.run(
        [str(ROOT / "scripts" / "lighthouse.sh")], capture_output=True, text=True, timeout=900, check=False
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "lighthouse: accessibility 100 on 12 of 12 pages (phone)" in run.stdout
