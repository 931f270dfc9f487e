"""The monthly cost of one phase, priced from its synthesized CloudFormation templates.

`make cost PHASE=growth [COMPUTE=fargate]` runs this on var/cdk.out/<phase>-<compute>/, so a
stack change shows in the estimate without editing the estimator. Prices and the usage
assumptions live in infra/prices.yml (dated, us-east-1, on-demand); the resources come from the
templates only: what is not in a template costs nothing here, and a resource type this file
cannot price is listed as unpriced rather than dropped (docs/deploy.md, "Costs").

    .venv/bin/python infra/cost.py --phase growth [--compute lambda|fargate] [--assembly DIR] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from cloudshelf_infra.phases import Phase

INFRA_DIR = Path(__file__).resolve().parent
REPO_DIR = INFRA_DIR.parent
PRICES_FILE = INFRA_DIR / "prices.yml"
PHASES_FILE = INFRA_DIR / "cloudshelf_infra" / "phases.py"

COMPUTE_SHAPES = ("lambda", "fargate")
# The document's own budgets ("Cost Constraints"), besides each phase's monthly_budget_usd.
DOCUMENT_BUDGETS = {"Year 1": 800, "Year 3": 2_500}
DAYS_PER_MONTH = 730 / 24
SECONDS_PER_HOUR = 3600
GIB_PER_KB = 1 / (1024 * 1024)
# Target tracking keeps provisioned concurrency this busy (app_stack.py: the 70 % CPU trigger).
DEFAULT_UTILIZATION_TARGET = 0.7
# ALB scale-out trigger for the Fargate web service: requests per minute per task.
DEFAULT_REQUESTS_PER_TASK_MINUTE = 1_000
WEB_KINDS = ("page", "cart", "api")


def _phases_module() -> ModuleType:
    """phases.py alone: importing the cloudshelf_infra package would load aws_cdk (and Node) for nothing."""
    name = "cloudshelf_infra.phases"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PHASES_FILE)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {PHASES_FILE}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules[name]


def phase_named(name: str) -> Phase:
    """The phase called ``name`` (phases.py), or ValueError listing the valid names."""
    found: Phase = _phases_module().phase_named(name)
    return found


class CostError(Exception):
    """Bad input (phase, assembly, price table): the message is the whole story; exit status 2."""


@dataclass(frozen=True)
class Line:
    """One priced item of the estimate, as the table and --json print it."""

    service: str
    item: str
    quantity: float
    unit: str
    monthly_usd: float
    source: str  # "<stack>/<logical id>" the line was priced from
    basis: str  # "fixed" (runs all month) or "usage" (from the assumptions in prices.yml)


@dataclass
class Estimate:
    """A phase's priced lines, what could not be priced, and the budget they are compared with."""

    phase: str
    compute: str
    lines: list[Line]
    unpriced: list[str]
    no_charge_resources: int
    budget_usd: int
    usage: dict[str, float]
    prices_taken: str
    provisioned_concurrency_usd: float = 0.0
    total_usd: float = field(init=False)

    def __post_init__(self) -> None:
        self.total_usd = round(sum(line.monthly_usd for line in self.lines), 2)

    @property
    def difference_usd(self) -> float:
        """Budget minus total: negative when over."""
        return round(self.budget_usd - self.total_usd, 2)

    @property
    def verdict(self) -> str:
        """OVER or WITHIN the phase's budget."""
        return "WITHIN" if self.total_usd <= self.budget_usd else "OVER"

    def as_json(self) -> dict[str, Any]:
        """The estimate as --json prints it (amounts rounded to cents)."""
        return {
            "phase": self.phase,
            "compute": self.compute,
            "prices_taken": self.prices_taken,
            "total_usd": self.total_usd,
            "budget_usd": self.budget_usd,
            "difference_usd": self.difference_usd,
            "verdict": self.verdict,
            "document_budgets_usd": DOCUMENT_BUDGETS,
            "provisioned_concurrency_usd": round(self.provisioned_concurrency_usd, 2),
            "lines": [asdict(line) | {"monthly_usd": round(line.monthly_usd, 2)} for line in self.lines],
            "unpriced": self.unpriced,
            "no_charge_resources": self.no_charge_resources,
            "usage": {key: round(value, 4) for key, value in self.usage.items()},
        }


# --- Input -------------------------------------------------------------------------------------


def load_prices(*, path: Path = PRICES_FILE) -> dict[str, Any]:
    """The price table, checked for the sections the estimator reads, so a typo fails here."""
    try:
        table = yaml.safe_load(path.read_text())
    except OSError as error:
        raise CostError(f"cannot read the price table {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise CostError(f"malformed price table {path}: {error}") from None
    required = (
        "taken",
        "hours_per_month",
        "rds",
        "elasticache",
        "opensearch",
        "vpc",
        "alb",
        "lambda",
        "fargate",
        "dynamodb",
        "cloudfront",
        "s3",
        "secrets_manager",
        "cloudwatch",
        "sqs",
        "kms",
        "no_charge",
        "usage",
    )
    if not isinstance(table, dict):
        raise CostError(f"malformed price table {path}: expected a mapping at the top")
    missing = [key for key in required if key not in table]
    if missing:
        raise CostError(f"malformed price table {path}: missing {', '.join(missing)}")
    curve = table["usage"].get("daily_curve") if isinstance(table["usage"], dict) else None
    if not isinstance(curve, list) or len(curve) != 24 or not all(_is_number(v) and 0 <= v <= 1 for v in curve):
        raise CostError(f"malformed price table {path}: usage.daily_curve must be 24 fractions between 0 and 1")
    table["_path"] = str(path)
    return table


def load_assembly(*, directory: Path) -> dict[str, dict[str, Any]]:
    """Every stack template of a cloud assembly (`cdk synth` output), by stack name."""
    if not directory.is_dir():
        raise CostError(f"missing assembly {directory}: run `make synth PHASE=...` first (or `make cost`, which does)")
    templates: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.template.json")):
        try:
            template = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise CostError(f"unreadable template {path}: {error}") from None
        if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
            raise CostError(f"not a CloudFormation template (no Resources): {path}")
        templates[path.name.removesuffix(".template.json")] = template
    if not templates:
        raise CostError(f"no *.template.json in {directory}: run `make synth PHASE=...` first")
    return templates


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _price(table: dict[str, Any], *keys: str, what: str) -> float:
    """One number from the price table; a missing one names where to add it."""
    node: Any = table
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise CostError(f"no price for {what}: add {'.'.join(keys)} to {table.get('_path', PRICES_FILE)}")
        node = node[key]
    if not _is_number(node) or node < 0:
        raise CostError(f"malformed price {'.'.join(keys)} in {table.get('_path', PRICES_FILE)}: {node!r}")
    return float(node)


# --- Usage: requests per hour of a normal day, from the phase's users -------------------------


def top_of_range(concurrent_users: str) -> int:
    """The upper bound of a phase's user range ("1,000-10,000" -> 10000)."""
    numbers = re.findall(r"\d[\d,]*", concurrent_users)
    if not numbers:
        raise CostError(f"no user count in {concurrent_users!r} (phases.py concurrent_users)")
    return int(numbers[-1].replace(",", ""))


@dataclass(frozen=True)
class Usage:
    """The month's traffic, hour by hour of a normal day (prices.yml `usage`)."""

    assumptions: dict[str, Any]
    phase_assumptions: dict[str, Any]
    dynamic_per_second: tuple[float, ...]  # 24 hours: pages, cart and API requests from shoppers

    def rate(self, kind: str) -> tuple[float, ...]:
        """Requests/s reaching the origin (ALB) for a route kind, each hour."""
        mix = float(self.assumptions["mix"][kind])
        hit = float(self.assumptions["page_cache_hit_rate"]) if kind == "page" else 0.0
        return tuple(rate * mix * (1 - hit) for rate in self.dynamic_per_second)

    def monthly(self, per_second: Sequence[float]) -> float:
        """A per-hour rate (per second) summed over the day and scaled to the month."""
        return sum(per_second) * SECONDS_PER_HOUR * DAYS_PER_MONTH

    @property
    def origin_per_second(self) -> tuple[float, ...]:
        """Requests/s reaching the ALB each hour: every route kind's misses."""
        return tuple(sum(values) for values in zip(*(self.rate(kind) for kind in WEB_KINDS), strict=True))

    @property
    def dynamic_month(self) -> float:
        """Page, cart and API requests shoppers make in a month (hits and misses)."""
        return self.monthly(self.dynamic_per_second)

    @property
    def edge_requests_month(self) -> float:
        """Every request CloudFront answers: dynamic ones and their assets."""
        return self.dynamic_month * (1 + float(self.assumptions["assets_per_dynamic_request"]))

    @property
    def asset_misses_month(self) -> float:
        """Static and media requests CloudFront passes to S3."""
        assets = self.dynamic_month * float(self.assumptions["assets_per_dynamic_request"])
        return assets * (1 - float(self.assumptions["asset_cache_hit_rate"]))

    @property
    def edge_hit_rate(self) -> float:
        """CloudFront's overall hit rate the assumptions imply (the document says 85 %)."""
        hits = self.dynamic_month - self.monthly(self.origin_per_second)
        hits += self.dynamic_month * float(self.assumptions["assets_per_dynamic_request"]) - self.asset_misses_month
        return hits / self.edge_requests_month if self.edge_requests_month else 0.0

    @property
    def edge_gb_month(self) -> float:
        """GB CloudFront sends to viewers."""
        kb = self.assumptions["response_kb"]
        mix = self.assumptions["mix"]
        per_request = sum(float(mix[kind]) * float(kb[kind]) for kind in WEB_KINDS)
        per_request += float(self.assumptions["assets_per_dynamic_request"]) * float(kb["asset"])
        return self.dynamic_month * per_request * GIB_PER_KB

    @property
    def origin_kb_per_request(self) -> float:
        """Average response size the ALB processes (for its LCUs)."""
        kb = self.assumptions["response_kb"]
        origin = [self.monthly(self.rate(kind)) for kind in WEB_KINDS]
        total = sum(origin)
        return sum(n * float(kb[kind]) for n, kind in zip(origin, WEB_KINDS, strict=True)) / total if total else 0.0

    def summary(self) -> dict[str, float]:
        """The derived usage, printed under the table and in --json."""
        return {
            "busiest_hour_shoppers": max(self.dynamic_per_second) * float(self.assumptions["seconds_between_requests"]),
            "busiest_hour_dynamic_requests_per_second": max(self.dynamic_per_second),
            "dynamic_requests_per_month": self.dynamic_month,
            "cloudfront_requests_per_month": self.edge_requests_month,
            "cloudfront_hit_rate": self.edge_hit_rate,
            "cloudfront_gb_out_per_month": self.edge_gb_month,
            **{f"origin_{kind}_requests_per_month": self.monthly(self.rate(kind)) for kind in WEB_KINDS},
        }


def derive_usage(*, prices: dict[str, Any], phase: Phase) -> Usage:
    """Busiest-hour shoppers = top of the phase's range / peak_to_normal; each asks every N seconds."""
    assumptions = prices["usage"]
    try:
        phase_assumptions = assumptions["phases"][phase.name]
        shoppers = top_of_range(phase.concurrent_users) / float(assumptions["peak_to_normal"])
        busiest = shoppers / float(assumptions["seconds_between_requests"])
        curve = tuple(busiest * float(fraction) for fraction in assumptions["daily_curve"])
        for kind in (*WEB_KINDS, "asset"):
            float(assumptions["response_kb"][kind])
        for kind in WEB_KINDS:
            float(assumptions["mix"][kind])
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
        raise CostError(f"malformed usage in {prices.get('_path', PRICES_FILE)} for {phase.name}: {error!r}") from None
    return Usage(assumptions=assumptions, phase_assumptions=phase_assumptions, dynamic_per_second=curve)


# --- Templates ---------------------------------------------------------------------------------


def references(value: Any) -> Iterator[str]:
    """The logical ids a property refers to (Ref, Fn::GetAtt, and inside Fn::Join/Sub)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                yield str(target)
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


@dataclass
class Context:
    """What every pricing rule reads: the templates, the price table, the phase and its usage."""

    prices: dict[str, Any]
    phase: Phase
    usage: Usage
    templates: dict[str, dict[str, Any]]
    hours: float

    def resources(self, type_name: str | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every (stack, logical id, resource), optionally of one type."""
        for stack, template in self.templates.items():
            for logical_id, resource in template["Resources"].items():
                if type_name is None or resource.get("Type") == type_name:
                    yield stack, logical_id, resource

    def resource(self, stack: str, logical_id: str) -> dict[str, Any] | None:
        """One resource of a stack by logical id, or None."""
        found = self.templates[stack]["Resources"].get(logical_id)
        return found if isinstance(found, dict) else None

    def referring(self, stack: str, type_name: str, logical_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Resources of a type in the same stack whose properties refer to ``logical_id``."""
        for other_id, resource in self.templates[stack]["Resources"].items():
            if resource.get("Type") == type_name and logical_id in set(references(resource.get("Properties", {}))):
                yield other_id, resource


def props(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's Properties (an empty mapping when it has none)."""
    found = resource.get("Properties", {})
    return found if isinstance(found, dict) else {}


def number(value: Any, *, default: float = 0.0) -> float:
    """A CloudFormation number (often a string: "50"); an unresolved token counts as ``default``."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


# --- Pricing rules, one per resource type ------------------------------------------------------

Rule = Callable[[Context, str, str, dict[str, Any]], list[Line]]


def price_db_instance(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """An instance (x2 Multi-AZ), its storage (x2 Multi-AZ) and backups beyond the free amount."""
    p, source = props(resource), f"{stack}/{logical_id}"
    klass = str(p.get("DBInstanceClass", ""))
    hourly = _price(ctx.prices, "rds", "instance_hour", klass, what=f"RDS instance class {klass!r} ({source})")
    multi_az = str(p.get("MultiAZ", "false")).lower() == "true"
    copies = 2 if multi_az else 1
    replica_of = p.get("SourceDBInstanceIdentifier")
    storage_props = p
    if replica_of is not None:  # a replica's storage is its source's size
        for ref in references(replica_of):
            found = ctx.resource(stack, ref)
            if found is not None and found.get("Type") == "AWS::RDS::DBInstance":
                storage_props = {**props(found), **{k: v for k, v in p.items() if k == "AllocatedStorage"}}
    storage_gb = number(storage_props.get("AllocatedStorage"), default=20)
    volume = str(p.get("StorageType", storage_props.get("StorageType", "gp2")))
    per_gb = _price(ctx.prices, "rds", "storage_gb_month", volume, what=f"RDS storage type {volume!r} ({source})")
    role = "read replica" if replica_of is not None else "primary"
    label = f"{klass} {'Multi-AZ' if multi_az else 'single-AZ'} {role}"
    lines = [
        Line("RDS", label, copies, "instances", copies * hourly * ctx.hours, source, "fixed"),
        Line(
            "RDS",
            f"{label}: {volume} storage",
            copies * storage_gb,
            "GB-month",
            copies * storage_gb * per_gb,
            source,
            "fixed",
        ),
    ]
    retention = number(p.get("BackupRetentionPeriod"), default=1)
    if replica_of is None and retention > 0:
        used = float(ctx.usage.phase_assumptions.get("db_used_gb", 0))
        change = float(ctx.usage.phase_assumptions.get("db_daily_change", 0))
        beyond = max(0.0, used * (1 + retention * change) - storage_gb)
        backup = _price(ctx.prices, "rds", "backup_gb_month", what="RDS backup storage")
        lines.append(
            Line(
                "RDS",
                f"backups beyond free ({retention:.0f} days)",
                beyond,
                "GB-month",
                beyond * backup,
                source,
                "usage",
            )
        )
    return lines


def price_db_proxy(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """RDS Proxy bills the vCPUs of the instances it fronts, at least two."""
    source = f"{stack}/{logical_id}"
    vcpus = 0.0
    for _, group in ctx.referring(stack, "AWS::RDS::DBProxyTargetGroup", logical_id):
        for ref in references(props(group).get("DBInstanceIdentifiers", [])):
            target = ctx.resource(stack, ref)
            if target is not None:
                klass = str(props(target).get("DBInstanceClass", ""))
                vcpus += _price(ctx.prices, "rds", "vcpus", klass, what=f"vCPUs of RDS class {klass!r} ({source})")
    billed = max(vcpus, _price(ctx.prices, "rds", "proxy", "minimum_vcpus", what="RDS Proxy minimum vCPUs"))
    rate = _price(ctx.prices, "rds", "proxy", "vcpu_hour", what="RDS Proxy vCPU-hour")
    return [Line("RDS", "RDS Proxy", billed, "vCPUs", billed * rate * ctx.hours, source, "fixed")]


def price_cache_group(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Nodes: NumCacheClusters, or shards x (replicas + 1) in cluster mode."""
    p, source = props(resource), f"{stack}/{logical_id}"
    node_type = str(p.get("CacheNodeType", ""))
    hourly = _price(
        ctx.prices, "elasticache", "node_hour", node_type, what=f"ElastiCache node type {node_type!r} ({source})"
    )
    if str(p.get("Engine", "redis")).lower() == "valkey":
        hourly *= _price(ctx.prices, "elasticache", "valkey_factor", what="Valkey discount")
    if "NumCacheClusters" in p:
        nodes = int(number(p["NumCacheClusters"], default=1))
        shape = f"{nodes} nodes"
    else:
        shards = int(number(p.get("NumNodeGroups"), default=1))
        replicas = int(number(p.get("ReplicasPerNodeGroup"), default=0))
        nodes = shards * (replicas + 1)
        shape = f"{shards} shards x {replicas + 1}"
    item = f"{node_type} x{nodes} ({shape}) {logical_id}"
    return [Line("ElastiCache", item, nodes, "nodes", nodes * hourly * ctx.hours, source, "fixed")]


def price_cache_cluster(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """A single-group CacheCluster: NumCacheNodes nodes of its type."""
    p = props(resource)
    group = {"Properties": {"CacheNodeType": p.get("CacheNodeType"), "Engine": p.get("Engine", "redis"),
                            "NumCacheClusters": p.get("NumCacheNodes", 1)}}  # fmt: skip
    return price_cache_group(ctx, stack, logical_id, group)


def price_search_domain(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Data nodes (and dedicated masters, if any) plus their EBS volumes."""
    p, source = props(resource), f"{stack}/{logical_id}"
    cluster = p.get("ClusterConfig", {})
    instance = str(cluster.get("InstanceType", "r5.large.search"))
    count = int(number(cluster.get("InstanceCount"), default=1))
    hourly = _price(
        ctx.prices, "opensearch", "instance_hour", instance, what=f"OpenSearch type {instance!r} ({source})"
    )
    lines = [
        Line(
            "OpenSearch", f"{instance} x{count} data nodes", count, "nodes", count * hourly * ctx.hours, source, "fixed"
        )
    ]
    if str(cluster.get("DedicatedMasterEnabled", "false")).lower() == "true":
        master = str(cluster.get("DedicatedMasterType", instance))
        masters = int(number(cluster.get("DedicatedMasterCount"), default=3))
        rate = _price(ctx.prices, "opensearch", "instance_hour", master, what=f"OpenSearch type {master!r} ({source})")
        lines.append(
            Line(
                "OpenSearch",
                f"{master} x{masters} masters",
                masters,
                "nodes",
                masters * rate * ctx.hours,
                source,
                "fixed",
            )
        )
    ebs = p.get("EBSOptions", {})
    if str(ebs.get("EBSEnabled", "false")).lower() == "true":
        volume = str(ebs.get("VolumeType", "gp2"))
        gb = count * number(ebs.get("VolumeSize"), default=10)
        per_gb = _price(ctx.prices, "opensearch", "storage_gb_month", volume, what=f"OpenSearch volume {volume!r}")
        lines.append(Line("OpenSearch", f"{volume} storage", gb, "GB-month", gb * per_gb, source, "fixed"))
    return lines


def price_nat_gateway(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Hours of each gateway, and its share of the GB it processes (prices.yml usage nat_gb)."""
    source = f"{stack}/{logical_id}"
    hourly = _price(ctx.prices, "vpc", "nat_gateway_hour", what="NAT gateway hour")
    lines = [Line("VPC", "NAT gateway", 1, "gateways", hourly * ctx.hours, source, "fixed")]
    gateways = sum(1 for _ in ctx.resources("AWS::EC2::NatGateway"))
    gb = float(ctx.usage.phase_assumptions.get("nat_gb", 0)) / max(gateways, 1)
    per_gb = _price(ctx.prices, "vpc", "nat_gateway_gb", what="NAT gateway GB processed")
    lines.append(Line("VPC", "NAT gateway data processed", gb, "GB", gb * per_gb, source, "usage"))
    return lines


def price_eip(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """An Elastic IP is a public IPv4 address, billed by the hour since February 2024."""
    hourly = _price(ctx.prices, "vpc", "public_ipv4_hour", what="public IPv4 hour")
    return [
        Line("VPC", "public IPv4 (Elastic IP)", 1, "addresses", hourly * ctx.hours, f"{stack}/{logical_id}", "fixed")
    ]


def price_vpc_endpoint(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Gateway endpoints (S3, DynamoDB) are free; interface endpoints bill per AZ-hour."""
    p, source = props(resource), f"{stack}/{logical_id}"
    if str(p.get("VpcEndpointType", "Gateway")) == "Gateway":
        return [Line("VPC", "gateway endpoints (free)", 1, "endpoints", 0.0, source, "fixed")]
    zones = max(len(p.get("SubnetIds", [])), 1)
    hourly = _price(ctx.prices, "vpc", "interface_endpoint_hour", what="interface endpoint hour")
    return [
        Line(
            "VPC",
            f"interface endpoint {logical_id}",
            zones,
            "endpoint-AZs",
            zones * hourly * ctx.hours,
            source,
            "fixed",
        )
    ]


def price_flow_log(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Flow logs into CloudWatch Logs are vended logs, billed per GB ingested."""
    gb = float(ctx.usage.phase_assumptions.get("flow_log_gb", 0))
    per_gb = _price(ctx.prices, "cloudwatch", "vended_logs_ingested_gb", what="vended logs GB")
    return [Line("CloudWatch", "VPC flow logs ingestion", gb, "GB", gb * per_gb, f"{stack}/{logical_id}", "usage")]


def price_load_balancer(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Hours, its public addresses (one per zone when internet-facing) and LCUs from the origin traffic."""
    p, source = props(resource), f"{stack}/{logical_id}"
    prices = ctx.prices["alb"]
    lines = [
        Line(
            "ALB",
            "Application Load Balancer",
            1,
            "load balancers",
            _price(ctx.prices, "alb", "hour", what="ALB hour") * ctx.hours,
            source,
            "fixed",
        )
    ]
    if str(p.get("Scheme", "internet-facing")) == "internet-facing":
        zones = max(len(p.get("Subnets", [])), 2)
        hourly = _price(ctx.prices, "vpc", "public_ipv4_hour", what="public IPv4 hour")
        lines.append(
            Line("ALB", "public IPv4 (one per zone)", zones, "addresses", zones * hourly * ctx.hours, source, "fixed")
        )
    rules = sum(1 for _ in ctx.resources("AWS::ElasticLoadBalancingV2::ListenerRule")) + 1
    lambda_targets = any(
        str(props(group).get("TargetType", "")).lower() == "lambda"
        for _, _, group in ctx.resources("AWS::ElasticLoadBalancingV2::TargetGroup")
    )
    gb_per_lcu = float(prices["lcu_gb_per_hour_lambda"] if lambda_targets else prices["lcu_gb_per_hour"])
    kb = ctx.usage.origin_kb_per_request
    lcu_hours = 0.0
    for rate in ctx.usage.origin_per_second:
        dimensions = (
            rate
            * float(ctx.usage.assumptions["alb_new_connection_fraction"])
            / float(prices["lcu_new_connections_per_second"]),
            rate * SECONDS_PER_HOUR * kb * GIB_PER_KB / gb_per_lcu,
            rate * max(0, rules - int(prices["free_rules"])) / float(prices["lcu_rule_evaluations_per_second"]),
        )
        lcu_hours += max(dimensions) * DAYS_PER_MONTH
    rate_per_lcu = _price(ctx.prices, "alb", "lcu_hour", what="ALB LCU-hour")
    lines.append(
        Line("ALB", "load balancer capacity units", lcu_hours, "LCU-hours", lcu_hours * rate_per_lcu, source, "usage")
    )
    return lines


def function_kind(logical_id: str, resource: dict[str, Any]) -> str | None:
    """page/cart/api/tasks/manage from the App stack's description ("CloudShelf page (...)"), else None."""
    description = str(props(resource).get("Description", ""))
    match = re.match(r"CloudShelf (\w+) \(", description)
    if match:
        return match.group(1).lower()
    match = re.match(r"(Page|Cart|Api|Tasks|Manage)Function", logical_id)
    return match.group(1).lower() if match else None


def schedule_per_month(expression: str) -> float:
    """How many times an EventBridge schedule fires in a month: rate(...) or cron(...)."""
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if rate:
        unit = {"minute": 60, "hour": 3600, "day": 86400}[rate.group(2).rstrip("s")]
        return ctx_seconds_per_month() / (int(rate.group(1)) * unit)
    cron = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)", expression.strip())
    if not cron:
        raise CostError(f"unreadable schedule expression {expression!r}")
    minute, hour, day_of_month, _month, day_of_week, _year = cron.groups()
    per_day = _cron_count(minute, 0, 59) * _cron_count(hour, 0, 23)
    if day_of_week not in ("*", "?"):
        days = DAYS_PER_MONTH * _cron_count(day_of_week, 1, 7) / 7
    elif day_of_month not in ("*", "?"):
        days = float(_cron_count(day_of_month, 1, 31)) * DAYS_PER_MONTH / 31
    else:
        days = DAYS_PER_MONTH
    return per_day * days


def ctx_seconds_per_month() -> float:
    """Seconds in AWS's 730-hour month."""
    return SECONDS_PER_HOUR * 24 * DAYS_PER_MONTH


CRON_NAMES = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}


def _cron_value(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text.upper() in CRON_NAMES:
        return CRON_NAMES[text.upper()]
    raise CostError(f"unreadable cron field value {text!r}")


def _cron_count(field_text: str, low: int, high: int) -> int:
    """How many values a cron field matches ("*/15" -> 4 of 0-59, "MON-FRI" -> 5)."""
    values: set[int] = set()
    for part in field_text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else 1
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first, last = _cron_value(first_text), _cron_value(last_text)
        else:
            first = _cron_value(base)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return max(len(values), 1)


def _scaling(ctx: Context, stack: str, logical_ids: set[str], dimension: str) -> tuple[int, int] | None:
    """(min, max) of the scalable target that refers to any of ``logical_ids`` on ``dimension``."""
    for _, _, target in ctx.resources("AWS::ApplicationAutoScaling::ScalableTarget"):
        p = props(target)
        if p.get("ScalableDimension") == dimension and logical_ids & set(references(p.get("ResourceId"))):
            return int(number(p.get("MinCapacity"))), int(number(p.get("MaxCapacity")))
    return None


def _invocations_per_hour(ctx: Context, stack: str, logical_id: str, kind: str | None) -> tuple[float, ...]:
    """Requests/s each hour reaching this function: its routes, ALB health checks, its schedules."""
    rates = list(ctx.usage.rate(kind)) if kind in WEB_KINDS else [0.0] * 24
    targets = {logical_id} | {alias_id for alias_id, _ in ctx.referring(stack, "AWS::Lambda::Alias", logical_id)}
    for _, _, group in ctx.resources("AWS::ElasticLoadBalancingV2::TargetGroup"):
        p = props(group)
        if (
            targets & set(references(p.get("Targets", [])))
            and str(p.get("HealthCheckEnabled", "true")).lower() == "true"
        ):
            interval = number(p.get("HealthCheckIntervalSeconds"), default=35)
            zones = max(
                (
                    len(props(lb).get("Subnets", []))
                    for _, _, lb in ctx.resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
                ),
                default=2,
            )
            rates = [rate + zones / interval for rate in rates]
    for _, _, rule in ctx.resources("AWS::Events::Rule"):
        p = props(rule)
        if "ScheduleExpression" in p and targets & set(references(p.get("Targets", []))):
            per_second = schedule_per_month(str(p["ScheduleExpression"])) / ctx_seconds_per_month()
            rates = [rate + per_second for rate in rates]
    return tuple(rates)


def price_function(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Requests + duration (at the provisioned rate while provisioned instances serve them), plus
    provisioned concurrency: the scalable target's min always on, scaled above it by utilization."""
    p, source = props(resource), f"{stack}/{logical_id}"
    kind = function_kind(logical_id, resource)
    lam = ctx.prices["lambda"]
    architecture = str((p.get("Architectures") or ["x86_64"])[0])
    memory_gb = number(p.get("MemorySize"), default=128) / 1024
    per_hour = _invocations_per_hour(ctx, stack, logical_id, kind)
    if kind is None and not any(per_hour):
        return [Line("Lambda", "CDK deploy-time helper functions", 1, "functions", 0.0, source, "usage")]
    durations = ctx.usage.assumptions["lambda_duration_ms"]
    web_seconds = float(durations.get(kind or "", durations["health"])) / 1000
    health_seconds = float(durations["health"]) / 1000
    routed = ctx.usage.rate(kind) if kind in WEB_KINDS else (0.0,) * 24
    aliases = {alias_id for alias_id, _ in ctx.referring(stack, "AWS::Lambda::Alias", logical_id)}
    scaling = _scaling(ctx, stack, aliases | {logical_id}, "lambda:function:ProvisionedConcurrency")
    configured = 0
    for alias_id in aliases:
        config = props(ctx.resource(stack, alias_id) or {}).get("ProvisionedConcurrencyConfig") or {}
        configured += int(number(config.get("ProvisionedConcurrentExecutions")))
    minimum, maximum = scaling if scaling else (configured, configured)
    on_demand = _price(ctx.prices, "lambda", "gb_second", architecture, what=f"Lambda {architecture} GB-second")
    provisioned_duration = _price(
        ctx.prices, "lambda", "provisioned_duration_gb_second", architecture, what="Lambda provisioned duration"
    )
    provisioned_rate = _price(
        ctx.prices, "lambda", "provisioned_gb_second", architecture, what="Lambda provisioned concurrency"
    )
    invocations = duration_usd = baseline_units = scaled_units = 0.0
    for hour, rate in enumerate(per_hour):
        seconds = SECONDS_PER_HOUR * DAYS_PER_MONTH
        busy = routed[hour] * web_seconds + (rate - routed[hour]) * (
            health_seconds if kind in WEB_KINDS else web_seconds
        )
        units = min(maximum, max(minimum, math.ceil(busy / DEFAULT_UTILIZATION_TARGET))) if maximum else 0
        served = min(busy, units)
        invocations += rate * seconds
        duration_usd += (served * provisioned_duration + (busy - served) * on_demand) * memory_gb * seconds
        baseline_units += minimum * seconds
        scaled_units += (units - minimum) * seconds
    requests_usd = invocations / 1e6 * float(lam["request_million"])
    name = kind or logical_id
    lines = [
        Line(
            "Lambda",
            f"{name}: requests + duration ({memory_gb * 1024:.0f} MB)",
            invocations,
            "invocations",
            requests_usd + duration_usd,
            source,
            "usage",
        )
    ]
    if minimum:
        cost = baseline_units * memory_gb * provisioned_rate
        lines.append(
            Line("Lambda", f"{name}: provisioned concurrency (min, always on)", minimum, "units", cost, source, "fixed")
        )
    if scaled_units:
        average = scaled_units / (SECONDS_PER_HOUR * 24 * DAYS_PER_MONTH)
        cost = scaled_units * memory_gb * provisioned_rate
        lines.append(
            Line(
                "Lambda",
                f"{name}: provisioned concurrency scaled above min (up to {maximum})",
                average,
                "units (average)",
                cost,
                source,
                "usage",
            )
        )
    log_gb = invocations * float(ctx.usage.assumptions["log_kb_per_invocation"]) * GIB_PER_KB
    lines.append(_log_line(ctx, f"{name}: logs", log_gb, source))
    return lines


def _log_line(ctx: Context, item: str, gb: float, source: str) -> Line:
    ingest = _price(ctx.prices, "cloudwatch", "logs_ingested_gb", what="CloudWatch Logs ingestion")
    stored = _price(ctx.prices, "cloudwatch", "logs_stored_gb_month", what="CloudWatch Logs storage")
    months = float(ctx.usage.phase_assumptions.get("log_retention_months", 1))
    return Line("CloudWatch", item, gb, "GB ingested", gb * (ingest + stored * months), source, "usage")


def price_ecs_service(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Tasks x (vCPU, GB): the scalable target's min always, more at busy hours (1,000 requests/min per task)."""
    p, source = props(resource), f"{stack}/{logical_id}"
    definition: dict[str, Any] = {}
    for ref in references(p.get("TaskDefinition")):
        definition = props(ctx.resource(stack, ref) or {})
    vcpu = number(definition.get("Cpu"), default=256) / 1024
    memory_gb = number(definition.get("Memory"), default=512) / 1024
    architecture = str((definition.get("RuntimePlatform") or {}).get("CpuArchitecture", "X86_64"))
    vcpu_rate = _price(ctx.prices, "fargate", "vcpu_hour", architecture, what=f"Fargate {architecture} vCPU-hour")
    gb_rate = _price(ctx.prices, "fargate", "gb_hour", architecture, what=f"Fargate {architecture} GB-hour")
    scaling = _scaling(ctx, stack, {logical_id}, "ecs:service:DesiredCount")
    desired = int(number(p.get("DesiredCount"), default=1))
    minimum, maximum = scaling if scaling else (desired, desired)
    serves_web = bool(p.get("LoadBalancers"))
    name = re.sub(r"Service[0-9A-F]*$", "", logical_id).lower() or logical_id
    task_hour = vcpu * vcpu_rate + memory_gb * gb_rate
    shape = f"{vcpu:g} vCPU / {memory_gb:g} GB"
    lines = [
        Line(
            "Fargate",
            f"{name}: {minimum} tasks ({shape})",
            minimum,
            "tasks",
            minimum * task_hour * ctx.hours,
            source,
            "fixed",
        )
    ]
    if serves_web:
        extra_hours = 0.0
        for rate in ctx.usage.origin_per_second:
            needed = math.ceil(rate * 60 / DEFAULT_REQUESTS_PER_TASK_MINUTE)
            extra_hours += (min(maximum, max(minimum, needed)) - minimum) * DAYS_PER_MONTH
        if extra_hours:
            lines.append(
                Line(
                    "Fargate",
                    f"{name}: tasks scaled above {minimum} (up to {maximum})",
                    extra_hours,
                    "task-hours",
                    extra_hours * task_hour,
                    source,
                    "usage",
                )
            )
        gb = (
            ctx.usage.monthly(ctx.usage.origin_per_second)
            * float(ctx.usage.assumptions["log_kb_per_invocation"])
            * GIB_PER_KB
        )
        lines.append(_log_line(ctx, f"{name}: logs", gb, source))
    return lines


def price_table(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """On demand: reads from the partner API and the drift check, writes after orders; storage, PITR."""
    p, source = props(resource), f"{stack}/{logical_id}"
    if str(p.get("BillingMode", "PROVISIONED")) != "PAY_PER_REQUEST":
        raise CostError(
            f"{source}: provisioned DynamoDB capacity is not in {ctx.prices['_path']}; the stacks use on demand"
        )
    a = ctx.usage.assumptions
    reads = ctx.usage.monthly(ctx.usage.rate("api")) * float(a["dynamodb_reads_per_api_request"])
    reads += float(a["dynamodb_drift_reads_per_hour"]) * ctx.hours
    writes = ctx.usage.monthly(ctx.usage.rate("cart")) * float(a["dynamodb_writes_per_cart_request"])
    replicas = max(len(p.get("Replicas", [])), 1)
    gb = float(ctx.usage.phase_assumptions.get("catalog_gb", 0)) * replicas
    d = "dynamodb"
    lines = [
        Line(
            "DynamoDB",
            "on-demand reads",
            reads,
            "read units",
            reads / 1e6 * _price(ctx.prices, d, "read_request_million", what="DynamoDB reads"),
            source,
            "usage",
        ),
        Line(
            "DynamoDB",
            "on-demand writes",
            writes * replicas,
            "write units",
            writes * replicas / 1e6 * _price(ctx.prices, d, "write_request_million", what="DynamoDB writes"),
            source,
            "usage",
        ),
        Line(
            "DynamoDB",
            "storage",
            gb,
            "GB-month",
            gb * _price(ctx.prices, d, "storage_gb_month", what="DynamoDB storage"),
            source,
            "usage",
        ),
    ]
    pitr = p.get("PointInTimeRecoverySpecification") or {}
    replica_pitr = any(
        (r.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
        for r in p.get("Replicas", [])
    )
    if str(pitr.get("PointInTimeRecoveryEnabled", "false")).lower() == "true" or replica_pitr:
        rate = _price(ctx.prices, d, "point_in_time_recovery_gb_month", what="DynamoDB PITR")
        lines.append(Line("DynamoDB", "point-in-time recovery", gb, "GB-month", gb * rate, source, "usage"))
    return lines


def price_distribution(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Requests and GB to viewers, at the distribution's price class."""
    source = f"{stack}/{logical_id}"
    price_class = str(props(resource).get("DistributionConfig", {}).get("PriceClass", "PriceClass_All"))
    requests, gb = ctx.usage.edge_requests_month, ctx.usage.edge_gb_month
    per_10k = _price(
        ctx.prices, "cloudfront", "https_requests_10k", price_class, what=f"CloudFront {price_class} requests"
    )
    per_gb = _price(ctx.prices, "cloudfront", "gb_out", price_class, what=f"CloudFront {price_class} data out")
    return [
        Line(
            "CloudFront",
            f"HTTPS requests ({price_class})",
            requests,
            "requests",
            requests / 10_000 * per_10k,
            source,
            "usage",
        ),
        Line("CloudFront", f"data out ({price_class})", gb, "GB", gb * per_gb, source, "usage"),
    ]


def price_bucket(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Media holds the covers and answers the edge's misses; static is small; others hold 1 GB."""
    source = f"{stack}/{logical_id}"
    lowered = logical_id.lower()
    gb = (
        float(ctx.usage.phase_assumptions.get("media_gb", 0))
        if "media" in lowered
        else 0.1
        if "static" in lowered
        else 1.0
    )
    storage = gb * _price(ctx.prices, "s3", "storage_gb_month", what="S3 storage")
    gets = ctx.usage.asset_misses_month * (0.8 if "media" in lowered else 0.2 if "static" in lowered else 0.0)
    requests = gets / 1000 * _price(ctx.prices, "s3", "get_thousand", what="S3 GET")
    return [Line("S3", f"bucket {logical_id}: storage + GETs", gb, "GB-month", storage + requests, source, "usage")]


def price_secret(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """A flat monthly price per secret; API calls are a fraction of a cent here."""
    rate = _price(ctx.prices, "secrets_manager", "secret_month", what="Secrets Manager secret")
    return [
        Line(
            "Secrets Manager",
            "secrets",
            1,
            "secrets",
            rate * ctx.hours / float(ctx.prices["hours_per_month"]),
            f"{stack}/{logical_id}",
            "fixed",
        )
    ]


def price_alarm(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Per metric the alarm watches (a metric-math alarm bills each metric it reads)."""
    p = props(resource)
    metrics = [m for m in p.get("Metrics", []) if "MetricStat" in m] or [p]
    cost = 0.0
    for metric in metrics:
        period = number((metric.get("MetricStat") or {}).get("Period", metric.get("Period")), default=60)
        key = "high_resolution_alarm_metric_month" if period < 60 else "alarm_metric_month"
        cost += _price(ctx.prices, "cloudwatch", key, what="CloudWatch alarm")
    return [Line("CloudWatch", "alarms", len(metrics), "alarm metrics", cost, f"{stack}/{logical_id}", "fixed")]


def price_queue(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """Our queues are dead-letter queues: a few messages a month, priced at zero requests."""
    return [Line("SQS", "dead-letter queues (a few messages)", 1, "queues", 0.0, f"{stack}/{logical_id}", "usage")]


def price_key(ctx: Context, stack: str, logical_id: str, resource: dict[str, Any]) -> list[Line]:
    """A customer managed KMS key costs the same every month."""
    rate = _price(ctx.prices, "kms", "key_month", what="KMS key")
    return [Line("KMS", "customer managed keys", 1, "keys", rate, f"{stack}/{logical_id}", "fixed")]


RULES: dict[str, Rule] = {
    "AWS::RDS::DBInstance": price_db_instance,
    "AWS::RDS::DBProxy": price_db_proxy,
    "AWS::ElastiCache::ReplicationGroup": price_cache_group,
    "AWS::ElastiCache::CacheCluster": price_cache_cluster,
    "AWS::OpenSearchService::Domain": price_search_domain,
    "AWS::EC2::NatGateway": price_nat_gateway,
    "AWS::EC2::EIP": price_eip,
    "AWS::EC2::VPCEndpoint": price_vpc_endpoint,
    "AWS::EC2::FlowLog": price_flow_log,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": price_load_balancer,
    "AWS::Lambda::Function": price_function,
    "AWS::ECS::Service": price_ecs_service,
    "AWS::DynamoDB::Table": price_table,
    "AWS::DynamoDB::GlobalTable": price_table,
    "AWS::CloudFront::Distribution": price_distribution,
    "AWS::S3::Bucket": price_bucket,
    "AWS::SecretsManager::Secret": price_secret,
    "AWS::CloudWatch::Alarm": price_alarm,
    "AWS::SQS::Queue": price_queue,
    "AWS::KMS::Key": price_key,
}


# --- The estimate ------------------------------------------------------------------------------


def estimate(*, templates: dict[str, dict[str, Any]], prices: dict[str, Any], phase: Phase, compute: str) -> Estimate:
    """Price every resource of the templates; unknown types are reported, never dropped."""
    usage = derive_usage(prices=prices, phase=phase)
    ctx = Context(prices=prices, phase=phase, usage=usage, templates=templates, hours=float(prices["hours_per_month"]))
    no_charge = set(prices["no_charge"])
    lines: list[Line] = []
    unpriced: list[str] = []
    free = 0
    for stack, logical_id, resource in ctx.resources():
        type_name = str(resource.get("Type", ""))
        rule = RULES.get(type_name)
        if rule is not None:
            lines.extend(rule(ctx, stack, logical_id, resource))
        elif type_name in no_charge or type_name.startswith("Custom::"):
            free += 1
        else:
            unpriced.append(f"{type_name} ({stack}/{logical_id})")
    lines = merge_lines(lines)
    provisioned = sum(line.monthly_usd for line in lines if "provisioned concurrency" in line.item)
    return Estimate(
        phase=phase.name,
        compute=compute,
        lines=lines,
        unpriced=unpriced,
        no_charge_resources=free,
        budget_usd=phase.monthly_budget_usd,
        usage=usage.summary(),
        prices_taken=str(prices["taken"]),
        provisioned_concurrency_usd=provisioned,
    )


def merge_lines(lines: list[Line]) -> list[Line]:
    """One line per (service, item): thirty alarms read better as one line with quantity 30."""
    merged: dict[tuple[str, str], Line] = {}
    counts: dict[tuple[str, str], int] = {}
    for line in lines:
        key = (line.service, line.item)
        counts[key] = counts.get(key, 0) + 1
        seen = merged.get(key)
        if seen is None:
            merged[key] = line
        else:
            quantity, usd = seen.quantity + line.quantity, seen.monthly_usd + line.monthly_usd
            source = f"({counts[key]} resources)"
            merged[key] = Line(line.service, line.item, quantity, line.unit, usd, source, line.basis)
    return list(merged.values())


def _quantity(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:,.1f}M"
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def render(result: Estimate) -> str:
    """The table `make cost` prints: one line per priced item, the total, the budget and the verdict."""
    width = max([len(f"{line.service}: {line.item}") for line in result.lines] + [40])
    rows = [
        f"CloudShelf {result.phase} ({result.compute}) - monthly estimate, us-east-1 on-demand,"
        f" prices as known on {result.prices_taken} (verify before budgeting)",
        "",
        f"{'line item':<{width}}  {'quantity':>22}  {'USD/month':>10}",
        f"{'-' * width}  {'-' * 22}  {'-' * 10}",
    ]
    for line in sorted(result.lines, key=lambda each: (each.service, -each.monthly_usd)):
        quantity = f"{_quantity(line.quantity)} {line.unit}"
        rows.append(f"{line.service + ': ' + line.item:<{width}}  {quantity:>22}  {line.monthly_usd:>10,.2f}")
    rows += [
        f"{'-' * width}  {'-' * 22}  {'-' * 10}",
        f"{'total':<{width}}  {'':>22}  {result.total_usd:>10,.2f}",
        f"{'budget (phases.py monthly_budget_usd)':<{width}}  {'':>22}  {result.budget_usd:>10,.2f}",
        f"{'difference':<{width}}  {'':>22}  {result.difference_usd:>10,.2f}  {result.verdict}",
        "",
        f"provisioned concurrency (page + cart, included above): ${result.provisioned_concurrency_usd:,.2f}/month",
        "document's budgets: " + ", ".join(f"{name} ${usd:,}/month" for name, usd in DOCUMENT_BUDGETS.items()),
        f"usage assumed (infra/prices.yml): busiest hour {result.usage['busiest_hour_shoppers']:,.0f} shoppers,"
        f" {result.usage['dynamic_requests_per_month'] / 1e6:,.1f}M dynamic requests/month,"
        f" {result.usage['cloudfront_requests_per_month'] / 1e6:,.1f}M CloudFront requests"
        f" ({result.usage['cloudfront_hit_rate']:.1%} hits), {result.usage['cloudfront_gb_out_per_month']:,.0f} GB out",
        f"resources with no charge of their own: {result.no_charge_resources}",
    ]
    if result.unpriced:
        rows.append(f"UNPRICED ({len(result.unpriced)}), not in the total: " + "; ".join(result.unpriced))
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """`make cost`: print the estimate, or one clear line on stderr and exit 2 on bad input."""
    parser = argparse.ArgumentParser(description="Monthly cost of a phase from its synthesized templates.")
    parser.add_argument("--phase", required=True, help="mvp, growth or scale")
    parser.add_argument("--compute", default="lambda", help="lambda (default) or fargate")
    parser.add_argument(
        "--assembly", type=Path, help="cloud assembly directory (default var/cdk.out/<phase>-<compute>)"
    )
    parser.add_argument("--prices", type=Path, default=PRICES_FILE, help="price table (default infra/prices.yml)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--check", action="store_true", help="only validate --phase and --compute, then exit")
    options = parser.parse_args(argv)
    try:
        try:
            phase = phase_named(options.phase)
        except ValueError as error:
            raise CostError(str(error)) from None
        compute = (options.compute or "").strip().lower()
        if compute not in COMPUTE_SHAPES:
            raise CostError(f"unknown compute {options.compute!r}: choose one of {', '.join(COMPUTE_SHAPES)}")
        if options.check:
            return 0
        prices = load_prices(path=options.prices)
        assembly = options.assembly or REPO_DIR / "var" / "cdk.out" / f"{phase.name}-{compute}"
        result = estimate(templates=load_assembly(directory=assembly), prices=prices, phase=phase, compute=compute)
    except CostError as error:
        print(f"cost: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_json(), indent=2) if options.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
