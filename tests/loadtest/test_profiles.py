"""bench/loadtest.py: the profiles are the document's, one factor scales them, bad input is refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from bench import loadtest
from bench.loadtest import LoadtestError, Phase, Profile

DOCUMENT_MIX = {"browse_books": 40, "search_books": 30, "view_book_details": 20, "cart_operations": 10}


def test_the_profiles_are_the_architecture_documents_durations_rates_and_mixes():
    profiles = loadtest.load_profiles()

    assert sorted(profiles) == ["endurance", "normal", "peak", "smoke", "stress"]
    normal, peak = profiles["normal"], profiles["peak"]
    assert normal.phases == (Phase(name="ramp", duration_s=600, arrival_rate=50, ramp_to=100),)
    assert {name: normal.weights[name] for name in DOCUMENT_MIX} == DOCUMENT_MIX
    assert peak.phases == (Phase(name="ramp", duration_s=900, arrival_rate=200, ramp_to=500),)
    assert {name: weight for name, weight in peak.weights.items() if name not in ("partner_api", "checkout")} == {
        "browse_books": 50,
        "search_books": 35,
        "cart_operations": 15,
    }
    assert peak.rate_factor == 1.5
    assert profiles["stress"].phases == (Phase(name="ramp", duration_s=1200, arrival_rate=500, ramp_to=1000),)
    assert profiles["endurance"].phases == (Phase(name="steady", duration_s=14400, arrival_rate=100),)
    assert profiles["smoke"].duration_s == 60


def test_every_profile_weighs_only_scenarios_the_scenario_file_defines():
    scenarios = {scenario["name"] for scenario in yaml.safe_load(loadtest.SCENARIOS_FILE.read_text())["scenarios"]}

    for profile in loadtest.load_profiles().values():
        assert set(profile.weights) <= scenarios, profile.name
        assert all(weight > 0 for weight in profile.weights.values())


def test_every_request_is_named_for_a_group_with_a_criterion():
    from bench.loadtest_report import CRITERIA, group_of

    script = yaml.safe_load(loadtest.SCENARIOS_FILE.read_text())
    names = {
        step[method]["name"]
        for scenario in script["scenarios"]
        for step in scenario["flow"]
        for method in ("get", "post")
        if method in step
    }

    assert {group_of(name) for name in names} == set(CRITERIA)


def test_scale_multiplies_durations_and_rates_and_peak_runs_at_one_and_a_half_times():
    profiles = loadtest.load_profiles()

    assert loadtest.scaled_phases(profiles["normal"], 0.05) == [
        {"name": "ramp", "duration": 30, "arrivalRate": 2, "rampTo": 5}
    ]
    assert loadtest.scaled_phases(profiles["peak"], 0.1) == [
        {"name": "ramp", "duration": 90, "arrivalRate": 30, "rampTo": 75}
    ]
    assert loadtest.scaled_phases(profiles["endurance"], 1) == [
        {"name": "steady", "duration": 14400, "arrivalRate": 100}
    ]


def test_a_tiny_scale_keeps_at_least_one_second_and_one_arrival_per_second():
    profile = Profile(name="p", description="", phases=(Phase("a", 10, 3, 6),), weights={"browse_books": 1})

    assert loadtest.scaled_phases(profile, 0.001) == [{"name": "a", "duration": 1, "arrivalRate": 1, "rampTo": 1}]


@pytest.mark.parametrize("text", ["0", "-1", "abc", "", "nan", "inf", "4.01", "1e9", " "])
def test_a_scale_that_is_not_a_positive_number_up_to_the_limit_is_refused(text):
    with pytest.raises(LoadtestError) as raised:
        loadtest.parse_scale(text)

    assert f"SCALE={text!r}" in str(raised.value)


def test_a_scale_in_range_is_read_as_a_number():
    assert loadtest.parse_scale("0.05") == 0.05
    assert loadtest.parse_scale("4") == 4.0


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5:8080",
        "http://192.168.1.1",
        "http://example.com",
        "https://8.8.8.8",
        "ftp://127.0.0.1",
        "127.0.0.1:8080",
        "http://127.0.0.1:8080/admin/",
        "http://127.0.0.1.example.com",
        "",
    ],
)
def test_a_target_off_this_machine_or_not_a_bare_http_origin_is_refused(url):
    with pytest.raises(LoadtestError):
        loadtest.require_loopback_target(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8100/", "http://127.0.0.1:8100"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://127.5.6.7", "http://127.5.6.7"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_a_loopback_target_is_accepted(url, expected):
    assert loadtest.require_loopback_target(url) == expected


def test_an_unknown_profile_exits_2_and_names_the_known_ones(capsys):
    assert loadtest.main(["--profile", "huge"]) == 2

    assert "PROFILE='huge' is not a profile; known: smoke, normal, peak, stress, endurance" in capsys.readouterr().err


def test_bad_scale_and_remote_target_exit_2_before_anything_runs(capsys, tmp_path):
    assert loadtest.main(["--profile", "smoke", "--scale", "0", "--out-dir", str(tmp_path / "run")]) == 2
    assert loadtest.main(["--profile", "smoke", "--target", "http://10.1.2.3", "--out-dir", str(tmp_path / "r")]) == 2

    assert list(tmp_path.iterdir()) == []
    assert "refused: load tests only target loopback" in capsys.readouterr().err


def test_the_built_script_carries_the_target_phases_weights_and_only_weighed_scenarios(tmp_path):
    script = loadtest.build_script(
        phases=[{"name": "a", "duration": 5, "arrivalRate": 1}],
        weights={"browse_books": 3, "cart_operations": 1},
        target="http://127.0.0.1:8080",
        payload_dir=tmp_path,
    )

    assert script["config"]["target"] == "http://127.0.0.1:8080"
    assert script["config"]["phases"] == [{"name": "a", "duration": 5, "arrivalRate": 1}]
    assert [entry["path"] for entry in script["config"]["payload"]] == [
        str(tmp_path / "queries.csv"),
        str(tmp_path / "customers.csv"),
    ]
    assert Path(script["config"]["processor"]).is_file()
    assert [(s["name"], s["weight"]) for s in script["scenarios"]] == [("browse_books", 3), ("cart_operations", 1)]


def test_a_profile_naming_an_unknown_scenario_is_refused(tmp_path):
    with pytest.raises(LoadtestError, match=r"unknown scenario\(s\) \['checkout_everything'\]"):
        loadtest.build_script(
            phases=[], weights={"checkout_everything": 1}, target="http://127.0.0.1", payload_dir=tmp_path
        )


def test_a_malformed_profile_file_is_an_error_not_a_default(tmp_path):
    path = tmp_path / "profiles.yml"
    path.write_text("profiles:\n  bad:\n    phases: [{duration: 10}]\n    weights: {browse_books: 1}\n")

    with pytest.raises(LoadtestError, match="profile 'bad' is malformed"):
        loadtest.load_profiles(path)


def test_queries_mix_whole_titles_authors_and_title_words_and_are_reproducible():
    titles = ["The Hollow Map", "A Keeper in Tangier"]
    authors = ["Anna V. Hadley"]

    queries = loadtest.catalog_queries(titles=titles, authors=authors, count=10)

    assert len(queries) == 10
    assert queries == loadtest.catalog_queries(titles=titles, authors=authors, count=10)
    assert set(queries) <= {*titles, *authors, "Hollow", "Keeper", "Tangier"}
    assert {"Anna V. Hadley"} < set(queries)


def test_an_empty_catalog_gives_no_queries_but_a_clear_error():
    with pytest.raises(LoadtestError, match="make seed"):
        loadtest.catalog_queries(titles=[], authors=[], count=10)


def test_the_payload_csv_quotes_commas_and_flattens_line_breaks(tmp_path):
    path = tmp_path / "queries.csv"

    rows = loadtest.write_queries(path, ['Salt, Fat "Acid"', "two\nlines"])

    assert rows == 2
    assert list(csv.reader(path.read_text().splitlines())) == [["query"], ['Salt, Fat "Acid"'], ["two lines"]]


def test_check_only_accepts_good_arguments_without_running_anything(tmp_path):
    assert loadtest.main(["--check", "--profile", "smoke", "--scale", "0.5", "--out-dir", str(tmp_path / "r")]) == 0

    assert list(tmp_path.iterdir()) == []
