"""The chart geometry: round axes, bar lengths, funnel rates and service-level bars."""

import pytest

from analytics.admin_reports.charts import (
    bar_list,
    column_chart,
    compact_number,
    conversion_label,
    funnel_chart,
    level_chart,
    nice_ceiling,
    ticks,
)


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0, 1.0),
        (-5, 1.0),
        (float("nan"), 1.0),
        (0.3, 0.5),
        (1, 1.0),
        (7, 10.0),
        (12, 20.0),
        (21, 25.0),
        (35.5, 50.0),
        (900, 1000.0),
    ],
)
def test_nice_ceiling_is_the_next_round_number(value, ceiling):
    assert nice_ceiling(value) == ceiling


def test_ticks_divide_the_round_ceiling_evenly():
    assert ticks(35.5) == [0.0, 12.5, 25.0, 37.5, 50.0]
    assert ticks(0) == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize(
    ("value", "label"), [(0, "0"), (12.5, "12.5"), (950, "950"), (1200, "1.2k"), (2000, "2k"), (3_400_000, "3.4M")]
)
def test_compact_number_shortens_axis_labels(value, label):
    assert compact_number(value) == label


def test_column_chart_scales_columns_to_the_round_top():
    chart = column_chart([("Mon", 20.0), ("Tue", 0.0), ("Wed", 35.5)], height=260, width=720)
    # Plot from y=10 to y=230 (220 high), top of the axis 50: 20 is 88 high, 35.5 is 156.2.
    assert [column.height for column in chart.columns] == [88.0, 0.0, 156.2]
    assert [column.y for column in chart.columns] == [142.0, 230.0, 73.8]
    assert chart.columns[0].x == pytest.approx(56 + 660 / 3 * 0.1, abs=0.01)
    assert chart.columns[0].width == pytest.approx(660 / 3 * 0.8, abs=0.01)
    assert [(tick.position, tick.label) for tick in chart.ticks] == [
        (230.0, "0"),
        (175.0, "12.5"),
        (120.0, "25"),
        (65.0, "37.5"),
        (10.0, "50"),
    ]


def test_column_chart_labels_at_most_eight_columns():
    chart = column_chart([(f"day {index}", 1.0) for index in range(30)])
    labelled = [column.axis_label for column in chart.columns if column.axis_label]
    assert labelled == ["day 0", "day 4", "day 8", "day 12", "day 16", "day 20", "day 24", "day 28"]


def test_column_chart_of_nothing_has_no_columns_and_a_unit_axis():
    chart = column_chart([])
    assert chart.columns == ()
    assert [tick.label for tick in chart.ticks] == ["0", "0.25", "0.5", "0.75", "1"]


def test_bar_list_gives_the_longest_bar_the_whole_room():
    chart = bar_list([("Fiction", 40.0), ("Science", 10.0), ("Nothing", 0.0)], width=720, label_width=240)
    assert [bar.width for bar in chart.bars] == [390.0, 97.5, 0.0]
    assert [bar.y for bar in chart.bars] == [0, 24, 48]
    assert [bar.value_label for bar in chart.bars] == ["40", "10", "0"]
    assert chart.height == 72


def test_funnel_narrows_with_each_stage_and_states_conversion():
    funnel = funnel_chart([("Views", 1000), ("Carts", 200), ("Checkouts", 50), ("Orders", 0)])
    assert [stage.width for stage in funnel.stages] == [460.0, 92.0, 23.0, 0.0]
    assert [stage.rate_label for stage in funnel.stages] == ["", "20.0 %", "25.0 %", "0.0 %"]
    # Every stage is centred on the same line.
    assert {round(stage.x + stage.width / 2, 2) for stage in funnel.stages} == {funnel.centre}


def test_conversion_from_an_empty_stage_is_a_dash_not_a_division_by_zero():
    assert conversion_label(5, 0) == "\N{EN DASH}"
    assert conversion_label(5, None) == ""


def test_level_chart_puts_every_level_at_two_thirds_and_judges_the_p95():
    chart = level_chart([("page", 1000.0, 2000), ("cart", 300.0, 200), ("search", None, 500), ("api", 5000.0, 1000)])
    room = 720 - 150 - 110
    level_x = round(room * 2 / 3, 2)
    assert {bar.level_x for bar in chart.bars} == {level_x}
    assert [bar.width for bar in chart.bars] == [
        round(level_x / 2, 2),
        round(level_x * 1.5, 2),
        0.0,
        round(level_x * 1.5, 2),
    ]
    assert [bar.is_met for bar in chart.bars] == [True, False, None, False]
    assert [bar.value_label for bar in chart.bars] == ["1,000 ms", "300 ms", "no data", "5,000 ms"]
