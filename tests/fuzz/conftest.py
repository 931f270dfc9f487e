"""Fuzz-test settings and the run's tally of bad inputs sent."""

from __future__ import annotations

import pytest

from tests.fuzz.inputs import TALLY


@pytest.fixture(autouse=True)
def _views_not_rate_limits(settings):
    """The fuzzer sends thousands of requests from one address: rate limits would answer most
    of them with a 429 before the views run. A 429 is not a 5xx, but the views are the target."""
    settings.RATE_LIMITS_ENABLED = False


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line the README quotes: how many bad inputs were sent, and how many got a 5xx."""
    if TALLY.total:
        terminalreporter.write_sep("-", "fuzz")
        terminalreporter.write_line(TALLY.summary())
