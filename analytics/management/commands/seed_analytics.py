"""``manage.py seed_analytics``: synthetic orders, views, adds to cart and searches (``analytics.seeding``)."""

from __future__ import annotations

import time
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analytics.seeding import (
    DEFAULT_ORDERS_PER_DAY,
    MAX_DAYS,
    MAX_ORDERS_PER_DAY,
    MIN_DAYS,
    MIN_ORDERS_PER_DAY,
    AnalyticsSeedError,
    analytics_seed,
    has_analytics_data,
)
from cloudshelf.database import long_running_statements


def _bounded(low: int, high: int) -> Any:
    def parse(raw: str) -> int:
        try:
            value = int(raw.replace(",", "").replace("_", ""))
        except ValueError:
            raise ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise ArgumentTypeError(f"{value:,} is not from {low:,} to {high:,}")
        return value

    return parse


class Command(BaseCommand):
    help = (
        "Fill the reports with a synthetic stretch of shop activity ending today: orders with lines (valid for the "
        "cart admin, placed by seeded customers who cannot log in), product views, adds to cart, checkouts and "
        "searches, with weekly and yearly seasonality and a popularity skew, and the daily roll-ups the reports read. "
        "Needs a catalog (seed_catalog). The same --seed on the same catalog gives the same activity. Refused when "
        "the reports already have data, unless --if-empty (then nothing is done)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--days",
            type=_bounded(MIN_DAYS, MAX_DAYS),
            default=365,
            help=f"days of activity ({MIN_DAYS} to {MAX_DAYS})",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same activity")
        parser.add_argument(
            "--orders-per-day",
            type=_bounded(MIN_ORDERS_PER_DAY, MAX_ORDERS_PER_DAY),
            default=DEFAULT_ORDERS_PER_DAY,
            help=f"paid orders on an average day ({MIN_ORDERS_PER_DAY} to {MAX_ORDERS_PER_DAY:,})",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing (successfully) when the reports already have data"
        )

    # Minutes-long COPYs in one transaction are the job here.
    @long_running_statements()
    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and has_analytics_data():
            self.stdout.write("The reports already have data; not seeding (--if-empty).")
            return
        days: int = options["days"]
        started = time.monotonic()
        with tqdm(total=days, desc="days", unit=" days", file=self.stderr, disable=options["verbosity"] < 1) as bar:
            try:
                summary = analytics_seed(
                    days=days, seed=options["seed"], orders_per_day=options["orders_per_day"], progress=bar.update
                )
            except AnalyticsSeedError as error:
                raise CommandError(str(error)) from None
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Seeded {summary.days:,} days: {summary.orders:,} orders ({summary.lines:,} lines), "
                    f"{summary.views:,} product views, {summary.adds:,} adds to cart, {summary.searches:,} searches "
                    f"({summary.search_logs:,} kept in the search log) in {time.monotonic() - started:.1f} s."
                )
            )
