"""The cost estimate (infra/cost.py): against each phase's real synthesized templates, and its
pricing rules on small hand-written CloudFormation templates (AWS's format, not a fake of ours)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cost
import pytest
from cloudshelf_infra.phases import PHASES, phase_named

HOURS = 730
SECONDS = HOURS * 3600
STACKS = ("network", "data", "edge", "app")


@pytest.fixture(scope="module")
def prices() -> dict[str, Any]:
    return cost.load_prices()


@pytest.fixture(scope="module")
def phase_estimate(cdk_template: Callable[..., Any], prices: dict[str, Any]) -> Callable[..., cost.Estimate]:
    """``phase_estimate(phase, compute="lambda")``: the estimate of the phase's synthesized stacks."""
    made: dict[tuple[str, str], cost.Estimate] = {}

    def get(phase: str, compute: str = "lambda") -> cost.Estimate:
        if (phase, compute) not in made:
            templates = {
                f"CloudShelf-{phase}-{name.title()}": cdk_template(phase, name, compute).to_json() for name in STACKS
            }
            made[phase, compute] = cost.estimate(
                templates=templates, prices=prices, phase=phase_named(phase), compute=compute
            )
        return made[phase, compute]

    return get


def lines(result: cost.Estimate, service: str, contains: str) -> list[cost.Line]:
    return [line for line in result.lines if line.service == service and contains in line.item]


def estimate_of(resources: dict[str, Any], prices: dict[str, Any], phase: str = "growth") -> cost.Estimate:
    return cost.estimate(
        templates={"Stack": {"Resources": resources}}, prices=prices, phase=phase_named(phase), compute="lambda"
    )


# --- The real stacks, every phase ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(PHASES))
def test_each_phase_is_priced_against_its_budget_with_nothing_unpriced(
    phase_estimate: Callable[..., cost.Estimate], name: str
) -> None:
    result = phase_estimate(name)
    assert result.total_usd > 0
    assert result.budget_usd == PHASES[name].monthly_budget_usd
    assert result.verdict == ("WITHIN" if result.total_usd <= result.budget_usd else "OVER")
    assert result.difference_usd == pytest.approx(result.budget_usd - result.total_usd)
    assert result.unpriced == []


@pytest.mark.parametrize("name", list(PHASES))
def test_database_lines_follow_the_phase(phase_estimate: Callable[..., cost.Estimate], name: str) -> None:
    phase, result = PHASES[name], phase_estimate(name)
    klass = f"db.{phase.db_instance_type}"
    primary = lines(result, "RDS", f"{klass} {'Multi-AZ' if phase.db_multi_az else 'single-AZ'} primary")
    assert [(line.quantity, line.unit) for line in primary[:1]] == [(2 if phase.db_multi_az else 1, "instances")]
    multi_az = [line for line in lines(result, "RDS", "Multi-AZ primary") if line.unit == "instances"]
    assert len(multi_az) == (1 if phase.db_multi_az else 0)
    replicas = [line for line in lines(result, "RDS", "read replica") if line.unit == "instances"]
    assert sum(line.quantity for line in replicas) == phase.db_read_replicas
    assert [line.quantity for line in lines(result, "RDS", "RDS Proxy")] == [2]


@pytest.mark.parametrize("name", list(PHASES))
def test_cache_search_and_nat_quantities_match_the_phase(
    phase_estimate: Callable[..., cost.Estimate], name: str
) -> None:
    phase, result = PHASES[name], phase_estimate(name)
    cache_nodes = phase.cache_shards * (phase.cache_replicas_per_shard + 1)
    assert [line.quantity for line in lines(result, "ElastiCache", f"{phase.cache_node_type} x")][:1] == [cache_nodes]
    durable = [line for line in lines(result, "ElastiCache", phase.durable_node_type) if "Durable" in line.item]
    assert [line.quantity for line in durable] == [phase.durable_replicas + 1]
    assert [line.quantity for line in lines(result, "OpenSearch", "data nodes")] == [phase.search_instance_count]
    storage = lines(result, "OpenSearch", "storage")
    assert [line.quantity for line in storage] == [phase.search_instance_count * phase.search_volume_gb]
    assert [line.quantity for line in lines(result, "VPC", "NAT gateway") if line.unit == "gateways"] == [
        phase.nat_gateways
    ]


@pytest.mark.parametrize("name", list(PHASES))
def test_provisioned_concurrency_units_are_the_phase_minimum(
    phase_estimate: Callable[..., cost.Estimate], prices: dict[str, Any], name: str
) -> None:
    phase, result = PHASES[name], phase_estimate(name)
    rate = prices["lambda"]["provisioned_gb_second"]["x86_64"]
    always_on = {
        line.item.split(":")[0]: (line.quantity, line.monthly_usd)
        for line in lines(result, "Lambda", "provisioned concurrency (min, always on)")
    }
    assert always_on == {
        "page": (phase.page_provisioned_min, pytest.approx(phase.page_provisioned_min * 0.5 * SECONDS * rate)),
        "cart": (phase.cart_provisioned_min, pytest.approx(phase.cart_provisioned_min * 0.5 * SECONDS * rate)),
    }
    scaled = sum(line.monthly_usd for line in lines(result, "Lambda", "provisioned concurrency scaled above"))
    assert result.provisioned_concurrency_usd == pytest.approx(sum(usd for _, usd in always_on.values()) + scaled)


def test_fargate_shape_prices_web_tasks_instead_of_web_functions(
    phase_estimate: Callable[..., cost.Estimate],
) -> None:
    phase, result = PHASES["growth"], phase_estimate("growth", "fargate")
    web = lines(result, "Fargate", "web: ")
    assert [line.quantity for line in web if line.unit == "tasks"] == [phase.web_tasks_min]
    assert lines(result, "Lambda", "page:") == []
    assert result.provisioned_concurrency_usd == 0
    assert result.unpriced == []


# --- Pricing rules on hand-written templates ---------------------------------------------------


def test_multi_az_doubles_the_instance_and_its_storage(prices: dict[str, Any]) -> None:
    resources = {
        "Db": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {
                "DBInstanceClass": "db.t3.micro",
                "MultiAZ": True,
                "AllocatedStorage": "20",
                "StorageType": "gp3",
            },
        }
    }
    result = estimate_of(resources, prices)
    hourly = prices["rds"]["instance_hour"]["db.t3.micro"]
    assert lines(result, "RDS", "db.t3.micro Multi-AZ primary")[0].monthly_usd == pytest.approx(2 * hourly * HOURS)
    storage = lines(result, "RDS", "gp3 storage")[0]
    assert (storage.quantity, storage.monthly_usd) == (40, pytest.approx(40 * prices["rds"]["storage_gb_month"]["gp3"]))


def test_a_read_replica_is_its_own_instance_with_its_sources_storage(prices: dict[str, Any]) -> None:
    resources = {
        "Db": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {"DBInstanceClass": "db.t3.medium", "AllocatedStorage": "50"},
        },
        "Replica": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {"DBInstanceClass": "db.t3.medium", "SourceDBInstanceIdentifier": {"Ref": "Db"}},
        },
    }
    result = estimate_of(resources, prices)
    replica = [line for line in lines(result, "RDS", "read replica") if line.source == "Stack/Replica"]
    assert [(line.quantity, line.unit) for line in replica] == [(1, "instances"), (50, "GB-month")]
    assert len(lines(result, "RDS", "backups")) == 1  # the primary's only


def test_rds_proxy_bills_the_target_vcpus_and_at_least_two(prices: dict[str, Any]) -> None:
    def proxy_over(klass: str) -> float:
        resources = {
            "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"DBInstanceClass": klass}},
            "Proxy": {"Type": "AWS::RDS::DBProxy", "Properties": {}},
            "Targets": {
                "Type": "AWS::RDS::DBProxyTargetGroup",
                "Properties": {"DBProxyName": {"Ref": "Proxy"}, "DBInstanceIdentifiers": [{"Ref": "Db"}]},
            },
        }
        return lines(estimate_of(resources, prices), "RDS", "RDS Proxy")[0].quantity

    assert proxy_over("db.t3.micro") == 2
    assert proxy_over("db.r6g.xlarge") == 4


def test_cache_nodes_count_shards_times_replicas_plus_one(prices: dict[str, Any]) -> None:
    resources = {
        "Cluster": {
            "Type": "AWS::ElastiCache::ReplicationGroup",
            "Properties": {"CacheNodeType": "cache.r6g.large", "NumNodeGroups": 2, "ReplicasPerNodeGroup": 1},
        },
        "Pair": {
            "Type": "AWS::ElastiCache::ReplicationGroup",
            "Properties": {"CacheNodeType": "cache.t4g.small", "NumCacheClusters": 2, "Engine": "valkey"},
        },
    }
    result = estimate_of(resources, prices)
    cluster, pair = lines(result, "ElastiCache", "Cluster")[0], lines(result, "ElastiCache", "Pair")[0]
    assert (cluster.quantity, cluster.monthly_usd) == (4, pytest.approx(4 * 0.206 * HOURS))
    assert (pair.quantity, pair.monthly_usd) == (2, pytest.approx(2 * 0.032 * 0.8 * HOURS))


def test_search_domain_prices_nodes_masters_and_volumes(prices: dict[str, Any]) -> None:
    resources = {
        "Search": {
            "Type": "AWS::OpenSearchService::Domain",
            "Properties": {
                "ClusterConfig": {
                    "InstanceType": "m6g.large.search",
                    "InstanceCount": 2,
                    "DedicatedMasterEnabled": True,
                    "DedicatedMasterType": "t3.small.search",
                    "DedicatedMasterCount": 3,
                },
                "EBSOptions": {"EBSEnabled": True, "VolumeSize": 50, "VolumeType": "gp3"},
            },
        }
    }
    result = estimate_of(resources, prices)
    assert [(line.item, line.quantity) for line in result.lines] == [
        ("m6g.large.search x2 data nodes", 2),
        ("t3.small.search x3 masters", 3),
        ("gp3 storage", 100),
    ]


def test_provisioned_concurrency_comes_from_the_scalable_targets_minimum(prices: dict[str, Any]) -> None:
    resources = {
        "PageFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Description": "CloudShelf page (x)", "MemorySize": 512},
        },
        "PageAlias": {
            "Type": "AWS::Lambda::Alias",
            "Properties": {
                "FunctionName": {"Ref": "PageFunction"},
                "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 3},
            },
        },
        "PageScaling": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "ScalableDimension": "lambda:function:ProvisionedConcurrency",
                "ResourceId": {"Fn::Join": ["", ["function:", {"Ref": "PageFunction"}, ":live"]]},
                "MinCapacity": 3,
                "MaxCapacity": 30,
            },
        },
    }
    result = estimate_of(resources, prices, phase="mvp")
    always_on = lines(result, "Lambda", "page: provisioned concurrency (min")
    rate = prices["lambda"]["provisioned_gb_second"]["x86_64"]
    assert [(line.quantity, line.monthly_usd) for line in always_on] == [(3, pytest.approx(3 * 0.5 * SECONDS * rate))]
    assert result.provisioned_concurrency_usd == pytest.approx(3 * 0.5 * SECONDS * rate)


def test_fargate_service_costs_tasks_times_cpu_and_memory(prices: dict[str, Any]) -> None:
    resources = {
        "Worker": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"Cpu": "512", "Memory": "1024"}},
        "WorkerService": {
            "Type": "AWS::ECS::Service",
            "Properties": {"DesiredCount": 2, "TaskDefinition": {"Ref": "Worker"}},
        },
    }
    task_hour = 0.5 * prices["fargate"]["vcpu_hour"]["X86_64"] + 1 * prices["fargate"]["gb_hour"]["X86_64"]
    [line] = estimate_of(resources, prices).lines
    assert (line.item, line.quantity, line.monthly_usd) == (
        "worker: 2 tasks (0.5 vCPU / 1 GB)",
        2,
        pytest.approx(2 * task_hour * HOURS),
    )


@pytest.mark.parametrize(
    ("expression", "per_month"),
    [
        ("rate(15 minutes)", HOURS * 4),
        ("rate(1 hour)", HOURS),
        ("cron(41 * * * ? *)", HOURS),
        ("cron(0 3 * * ? *)", HOURS / 24),
        ("cron(0 4 ? * MON *)", HOURS / 24 / 7),
        ("cron(*/10 8-17 ? * MON-FRI *)", 6 * 10 * HOURS / 24 * 5 / 7),
    ],
)
def test_schedules_fire_as_often_as_their_expression_says(expression: str, per_month: float) -> None:
    assert cost.schedule_per_month(expression) == pytest.approx(per_month)


def test_alarms_are_one_line_per_metric_watched(prices: dict[str, Any]) -> None:
    resources = {
        "Plain": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Period": 60}},
        "Math": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Metrics": [
                    {"Id": "a", "MetricStat": {"Period": 60}},
                    {"Id": "b", "MetricStat": {"Period": 60}},
                    {"Id": "e", "Expression": "a+b"},
                ]
            },
        },
    }
    [line] = estimate_of(resources, prices).lines
    assert (line.item, line.quantity, line.monthly_usd) == ("alarms", 3, pytest.approx(0.30))


def test_an_unknown_resource_type_is_listed_as_unpriced_not_dropped(prices: dict[str, Any]) -> None:
    resources = {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Gadget": {"Type": "AWS::Made::Up", "Properties": {}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
    }
    result = estimate_of(resources, prices)
    assert result.unpriced == ["AWS::Made::Up (Stack/Gadget)"]
    assert (result.total_usd, result.no_charge_resources) == (1.0, 1)
    assert "UNPRICED (1), not in the total: AWS::Made::Up (Stack/Gadget)" in cost.render(result)


def test_an_unknown_instance_class_names_the_class_and_the_price_file(prices: dict[str, Any]) -> None:
    resources = {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"DBInstanceClass": "db.x9.huge"}}}
    with pytest.raises(
        cost.CostError, match=r"'db\.x9\.huge' \(Stack/Db\): add rds\.instance_hour\.db\.x9\.huge to .*prices\.yml"
    ):
        estimate_of(resources, prices)


def test_the_derived_edge_hit_rate_is_the_documents_85_percent(prices: dict[str, Any]) -> None:
    usage = cost.derive_usage(prices=prices, phase=phase_named("growth"))
    assert usage.edge_hit_rate == pytest.approx(0.85, abs=0.01)
    assert usage.summary()["busiest_hour_shoppers"] == pytest.approx(1_000)


# --- The command -------------------------------------------------------------------------------


def write_assembly(directory: Path, resources: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "CloudShelf-growth-Data.template.json").write_text(json.dumps({"Resources": resources}))
    return directory


def test_the_command_prints_the_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assembly = write_assembly(tmp_path / "asm", {"Key": {"Type": "AWS::KMS::Key"}})
    assert cost.main(["--phase", "growth", "--assembly", str(assembly)]) == 0
    table = capsys.readouterr().out
    assert "KMS: customer managed keys" in table
    assert "budget (phases.py monthly_budget_usd)" in table
    assert "WITHIN" in table
    assert cost.main(["--phase", "GROWTH", "--assembly", str(assembly), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["total_usd"], printed["budget_usd"], printed["verdict"]) == (1.0, 800, "WITHIN")
    assert printed["unpriced"] == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--phase", "huge"], "unknown phase 'huge': choose one of mvp, growth, scale"),
        (["--phase", ""], "unknown phase ''"),
        (["--phase", "growth", "--compute", "ec2"], "unknown compute 'ec2': choose one of lambda, fargate"),
        (["--phase", "growth", "--assembly", "/nonexistent/asm"], "missing assembly /nonexistent/asm: run `make synth"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cost.main(arguments) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_an_empty_or_broken_assembly_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cost.main(["--phase", "mvp", "--assembly", str(empty)]) == 2
    assert "no *.template.json in" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "X.template.json").write_text("{not json")
    assert cost.main(["--phase", "mvp", "--assembly", str(broken)]) == 2
    assert "unreadable template" in capsys.readouterr().err
    (broken / "X.template.json").write_text('{"Outputs": {}}')
    assert cost.main(["--phase", "mvp", "--assembly", str(broken)]) == 2
    assert "not a CloudFormation template (no Resources)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rds: [unclosed", "malformed price table"),
        ("- a list", "expected a mapping at the top"),
        ("taken: 2026-12-03\n", "missing hours_per_month, rds"),
    ],
)
def test_a_malformed_price_table_is_refused(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "prices.yml"
    table.write_text(text)
    assembly = write_assembly(tmp_path / "asm", {})
    assert cost.main(["--phase", "mvp", "--assembly", str(assembly), "--prices", str(table)]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_daily_curve_or_price_is_refused(tmp_path: Path, prices: dict[str, Any]) -> None:
    source = Path(cost.PRICES_FILE).read_text()
    table = tmp_path / "prices.yml"
    table.write_text(source.replace("daily_curve: [0.30,", "daily_curve: [1.30,"))
    with pytest.raises(cost.CostError, match=r"usage\.daily_curve must be 24 fractions between 0 and 1"):
        cost.load_prices(path=table)
    table.write_text(source.replace("    db.t3.micro: 0.018", "    db.t3.micro: cheap"))
    resources = {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"DBInstanceClass": "db.t3.micro"}}}
    with pytest.raises(cost.CostError, match=r"malformed price rds\.instance_hour\.db\.t3\.micro .*: 'cheap'"):
        estimate_of(resources, cost.load_prices(path=table))
