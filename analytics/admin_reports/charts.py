"""Chart geometry for the report pages: scales, ticks and bar positions, as plain numbers.

The pages draw their charts as inline SVG on the server (no chart library, no script, and
nothing the Content-Security-Policy forbids: shapes carry classes, colours come from the
stylesheet). Every position is computed here, so the templates only place what they are
given and the maths is tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Width of the drawing in SVG user units; the CSS scales it to the page.
CHART_WIDTH = 720
# Column charts with more points than this label only every n-th column.
MAX_AXIS_LABELS = 8


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at or above ``value`` (1 for nothing).

    An axis that ends on such a number gets round ticks (0, 250, 500, 750, 1,000).
    """
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * power
        # The tolerance keeps 0.3 from becoming 0.5 through 0.30000000000000004.
        if candidate >= value * (1 - 1e-12):
            return float(candidate)
    return float(10 * power)  # pragma: no cover  (the loop always returns)


def ticks(max_value: float, *, count: int = 4) -> list[float]:
    """``count + 1`` evenly spaced tick values from 0 to ``nice_ceiling(max_value)``."""
    top = nice_ceiling(max_value)
    return [top * index / count for index in range(count + 1)]


def compact_number(value: float) -> str:
    """A short axis label: 950, 1.2k, 3.4M (no trailing .0)."""
    for threshold, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.1f}".removesuffix(".0") + suffix
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Tick:
    position: float  # y for a vertical axis, x for a horizontal one
    label: str


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float
    value_label: str
    axis_label: str  # shown under the column, or "" when this column is not labelled

    @property
    def centre(self) -> float:
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    plot_left: float
    plot_bottom: float
    columns: tuple[Column, ...]
    ticks: tuple[Tick, ...]

    @property
    def tick_label_x(self) -> float:
        return self.plot_left - 6

    @property
    def axis_label_y(self) -> float:
        return self.plot_bottom + 18


def column_chart(
    points: Sequence[tuple[str, float]],
    *,
    value_format: str = "{:,.0f}",
    height: int = 260,
    width: int = CHART_WIDTH,
) -> ColumnChart:
    """Vertical columns, one per point (sales per day or week), on a 0-based axis with round ticks."""
    plot_left, plot_top, plot_bottom = 56.0, 10.0, height - 30.0
    plot_height = plot_bottom - plot_top
    slot = (width - plot_left - 4) / max(len(points), 1)
    top = nice_ceiling(max((value for _, value in points), default=0))
    every = math.ceil(len(points) / MAX_AXIS_LABELS) if points else 1
    columns = []
    for index, (label, value) in enumerate(points):
        bar_height = plot_height * max(value, 0) / top
        columns.append(
            Column(
                x=round(plot_left + index * slot + slot * 0.1, 2),
                y=round(plot_bottom - bar_height, 2),
                width=round(slot * 0.8, 2),
                height=round(bar_height, 2),
                label=label,
                value=value,
                value_label=value_format.format(value),
                axis_label=label if index % every == 0 else "",
            )
        )
    axis = tuple(
        Tick(position=round(plot_bottom - plot_height * value / top, 2), label=compact_number(value))
        for value in ticks(top)
    )
    return ColumnChart(
        width=width, height=height, plot_left=plot_left, plot_bottom=plot_bottom, columns=tuple(columns), ticks=axis
    )


@dataclass(frozen=True)
class Bar:
    y: float
    width: float
    label: str
    value: float
    value_label: str

    @property
    def value_x(self) -> float:
        """Where the value is written: just after the bar (``BarList.label_width`` is added by the template's group)."""
        return round(self.width + 6, 2)


@dataclass(frozen=True)
class BarList:
    width: int
    height: int
    label_width: float
    row_height: float
    bar_height: float
    bars: tuple[Bar, ...]

    @property
    def label_x(self) -> float:
        return self.label_width - 8


def bar_list(
    items: Sequence[tuple[str, float]],
    *,
    value_format: str = "{:,.0f}",
    width: int = CHART_WIDTH,
    label_width: float = 240,
    row_height: float = 24,
) -> BarList:
    """Horizontal bars (categories, top sellers), the longest filling the space after the labels."""
    room = width - label_width - 90  # the value is written after the bar
    top = max((value for _, value in items), default=0) or 1
    bars = tuple(
        Bar(
            y=index * row_height,
            width=round(room * max(value, 0) / top, 2),
            label=label,
            value=value,
            value_label=value_format.format(value),
        )
        for index, (label, value) in enumerate(items)
    )
    return BarList(
        width=width,
        height=int(len(items) * row_height),
        label_width=label_width,
        row_height=row_height,
        bar_height=row_height - 6,
        bars=bars,
    )


@dataclass(frozen=True)
class FunnelStage:
    x: float
    y: float
    width: float
    label: str
    count: int
    rate_label: str  # conversion from the stage above ("" for the first)

    @property
    def right(self) -> float:
        return round(self.x + self.width, 2)


@dataclass(frozen=True)
class Funnel:
    width: int
    height: int
    row_height: float
    bar_height: float
    centre: float
    stages: tuple[FunnelStage, ...]

    @property
    def label_x(self) -> float:
        return 150.0  # labels end just left of the widest bar (which starts at 160)


def conversion_label(count: int, previous: int | None) -> str:
    """``"42.5 %"`` of the stage above; a dash when the stage above counted nobody."""
    if previous is None:
        return ""
    if previous <= 0:
        return "\N{EN DASH}"
    return f"{100 * count / previous:.1f} %"


def funnel_chart(stages: Sequence[tuple[str, int]], *, width: int = CHART_WIDTH, row_height: float = 44) -> Funnel:
    """Centred bars narrowing from the first stage, each with its conversion from the stage above."""
    room = width - 260  # labels on the left, rates on the right
    centre = 160 + room / 2
    top = max((count for _, count in stages), default=0) or 1
    drawn = []
    previous: int | None = None
    for index, (label, count) in enumerate(stages):
        bar_width = round(room * max(count, 0) / top, 2)
        drawn.append(
            FunnelStage(
                x=round(centre - bar_width / 2, 2),
                y=index * row_height,
                width=bar_width,
                label=label,
                count=count,
                rate_label=conversion_label(count, previous),
            )
        )
        previous = count
    return Funnel(
        width=width,
        height=int(len(stages) * row_height),
        row_height=row_height,
        bar_height=row_height - 10,
        centre=centre,
        stages=tuple(drawn),
    )


@dataclass(frozen=True)
class LevelBar:
    y: float
    width: float  # the p95's bar; 0 without data
    level_x: float  # where the service level's line is drawn, from the bars' left edge
    label: str
    value_label: str
    is_met: bool | None  # None: no data

    @property
    def value_x(self) -> float:
        return round(max(self.width, self.level_x) + 8, 2)


@dataclass(frozen=True)
class LevelChart:
    width: int
    height: int
    label_width: float
    row_height: float
    bar_height: float
    bars: tuple[LevelBar, ...]

    @property
    def label_x(self) -> float:
        return self.label_width - 8


def level_chart(
    rows: Sequence[tuple[str, float | None, float]],
    *,
    width: int = CHART_WIDTH,
    label_width: float = 150,
    row_height: float = 30,
) -> LevelChart:
    """One bar per (label, p95 in ms, service level in ms), each with its level as a line.

    Levels differ (200 ms for the cart, 2 s for a page), so each row has its own scale: the
    line sits at the same place in every row (two thirds across) and a p95 half again over
    its level reaches the end. Further over is clipped there; the number beside it says how far.
    """
    room = width - label_width - 110
    level_x = round(room * 2 / 3, 2)
    bars = []
    for index, (label, p95, level) in enumerate(rows):
        if p95 is None:
            bar_width, value_label, is_met = 0.0, "no data", None
        else:
            bar_width = round(min(p95 / level, 1.5) * level_x, 2)
            value_label, is_met = f"{p95:,.0f} ms", p95 <= level
        bars.append(
            LevelBar(
                y=index * row_height,
                width=bar_width,
                level_x=level_x,
                label=label,
                value_label=value_label,
                is_met=is_met,
            )
        )
    return LevelChart(
        width=width,
        height=int(len(rows) * row_height),
        label_width=label_width,
        row_height=row_height,
        bar_height=row_height - 10,
        bars=tuple(bars),
    )
