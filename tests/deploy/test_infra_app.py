"""The App stack's synthesized template: IAM, routing, health checks, scaling, schedules, alarms.

Every phase in the Lambda shape (the document's), the Growth phase in the Fargate shape too. The
stacks come from conftest's session cache, so each (phase, compute) is built once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from cloudshelf_infra import build_from_context, phases
from cloudshelf_infra.app_stack import AppStack, reserved_concurrency
from cloudshelf_infra.phases import PHASES

from cloudshelf.schedule import beat_schedule, eventbridge_schedules

# cdk.json's feature flags, as `make synth` and conftest's builds use them.
CDK_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "infra" / "cdk.json").read_text())["context"]
PHASE_NAMES = tuple(PHASES)
SHAPES = [(name, "lambda") for name in PHASE_NAMES] + [("growth", "fargate")]
LAMBDA_VPC_POLICY = "service-role/AWSLambdaVPCAccessExecutionRole"
# The one action AWS only grants on "*": an ECS execution role's registry login token.
WILDCARD_RESOURCE_ACTIONS = {"ecr:GetAuthorizationToken"}
# How a template names a resource of its own stack or of the other CloudShelf stacks.
REFERENCES = ('"Ref"', '"Fn::GetAtt"', '"Fn::ImportValue"', '"Fn::GetStackOutput"')


def _resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {key: value["Properties"] for key, value in template.find_resources(kind).items()}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_statements(template: Template) -> dict[str, list[dict[str, Any]]]:
    """Each role's logical id -> every statement of the inline policies attached to it."""
    statements: dict[str, list[dict[str, Any]]] = {key: [] for key in template.find_resources("AWS::IAM::Role")}
    for policy in _resources(template, "AWS::IAM::Policy").values():
        for role in policy["Roles"]:
            statements[role["Ref"]].extend(policy["PolicyDocument"]["Statement"])
    return statements


def _role_of(template: Template, name: str) -> str:
    """The logical id of the role the App stack made for ``name`` (PageRole..., WorkerRole...)."""
    prefix = f"{name.title()}Role"
    (key,) = [key for key in template.find_resources("AWS::IAM::Role") if key.startswith(prefix)]
    return key


def _actions_of(template: Template, name: str) -> set[str]:
    return {
        action
        for statement in _role_statements(template)[_role_of(template, name)]
        for action in _as_list(statement["Action"])
    }


def _function(template: Template, name: str) -> dict[str, Any]:
    (properties,) = [
        properties
        for key, properties in _resources(template, "AWS::Lambda::Function").items()
        if key.startswith(f"{name.title()}Function")
    ]
    return properties


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


@pytest.fixture(params=SHAPES, ids=[f"{phase}-{compute}" for phase, compute in SHAPES])
def app_template(request: pytest.FixtureRequest, cdk_template: Callable[..., Template]) -> Template:
    phase, compute = request.param
    return cdk_template(phase, "app", compute)


@pytest.fixture(params=PHASE_NAMES)
def lambda_phase(request: pytest.FixtureRequest, cdk_template: Callable[..., Template]) -> tuple[str, Template]:
    return request.param, cdk_template(request.param, "app", "lambda")


# --- IAM --------------------------------------------------------------------------------------


def test_no_policy_grants_a_wildcard_action(app_template: Template) -> None:
    for role, statements in _role_statements(app_template).items():
        for statement in statements:
            for action in _as_list(statement["Action"]):
                assert "*" not in action, (role, action)


def test_only_the_registry_login_has_a_wildcard_resource(app_template: Template) -> None:
    for role, statements in _role_statements(app_template).items():
        for statement in statements:
            if "*" in _as_list(statement["Resource"]):
                assert set(_as_list(statement["Action"])) <= WILDCARD_RESOURCE_ACTIONS, (role, statement)


def test_every_resource_is_one_of_the_stacks_own(app_template: Template) -> None:
    """Resources are references (Ref, GetAtt, outputs of our other stacks) or built from them, never typed-in ARNs."""
    for role, statements in _role_statements(app_template).items():
        for statement in statements:
            for resource in _as_list(statement["Resource"]):
                if resource == "*":
                    continue
                text = json.dumps(resource)
                assert any(marker in text for marker in REFERENCES), (role, text)


def test_lambda_roles_get_vpc_access_from_the_managed_policy_only(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    for name in ("page", "cart", "api", "tasks", "manage"):
        role = _resources(template, "AWS::IAM::Role")[_role_of(template, name)]
        (managed,) = role["ManagedPolicyArns"]
        assert LAMBDA_VPC_POLICY in json.dumps(managed)
        assert not any(action.startswith("ec2:") for action in _actions_of(template, name))


def test_each_function_has_a_role_of_its_own(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    roles = {json.dumps(properties["Role"]) for properties in _resources(template, "AWS::Lambda::Function").values()}
    assert len(roles) == 5


def test_web_functions_cannot_write_the_hot_data_table(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    writes = {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem"}
    for name in ("page", "cart", "api"):
        assert not (_actions_of(template, name) & writes), name
    assert {"dynamodb:GetItem", "dynamodb:BatchGetItem"} <= _actions_of(template, "api")
    assert {"dynamodb:PutItem", "dynamodb:BatchWriteItem"} <= _actions_of(template, "worker")
    assert {"dynamodb:PutItem", "dynamodb:Scan"} <= _actions_of(template, "tasks")
    assert {"dynamodb:PutItem", "dynamodb:BatchWriteItem"} <= _actions_of(template, "manage")  # dynamo_sync --backfill


def test_cart_reads_only_its_secrets_and_the_static_manifest(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    assert _actions_of(template, "cart") == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "s3:GetObject",  # static/staticfiles.json: every template links hashed static names
        "s3:ListBucket",
    }


def _static_actions(template: Template, name: str) -> set[str]:
    return {
        action
        for statement in _role_statements(template)[_role_of(template, name)]
        if "StaticBucket" in json.dumps(statement["Resource"])
        for action in _as_list(statement["Action"])
    }


def test_every_role_reads_static_files_only_manage_writes_them_only_the_worker_invalidates(
    lambda_phase: tuple[str, Template],
) -> None:
    """Rendering any template reads the static manifest from S3 (a 403 there is a 500 on every page)."""
    _, template = lambda_phase
    statements = _role_statements(template)
    for name in ("page", "cart", "api", "tasks", "manage", "worker"):
        text = json.dumps(statements[_role_of(template, name)])
        writes_static = name == "manage"
        assert {"s3:GetObject", "s3:ListBucket"} <= _static_actions(template, name), name
        assert ("s3:PutObject" in _static_actions(template, name)) == writes_static, name
        assert ("cloudfront:" in text) == (name == "worker"), name
        assert ("MediaBucket" in text) == (name in {"page", "worker"}), name


def test_bucket_access_is_limited_to_its_prefix(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    for name in ("page", "cart", "api", "tasks", "manage", "worker"):
        for statement in _role_statements(template)[_role_of(template, name)]:
            actions = set(_as_list(statement["Action"]))
            prefix = "static" if "StaticBucket" in json.dumps(statement["Resource"]) else "media"
            if actions == {"s3:ListBucket"}:
                assert statement["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}/*"]}}
            elif any(action.startswith("s3:") for action in actions):
                assert json.dumps(statement["Resource"]).endswith(f'"/{prefix}/*"]]}}'), (name, statement)


def test_web_roles_only_read_the_search_domain(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    for name in ("page", "api"):
        assert {action for action in _actions_of(template, name) if action.startswith("es:")} == {
            "es:ESHttpGet",
            "es:ESHttpHead",
            "es:ESHttpPost",
        }
    assert "es:ESHttpPut" in _actions_of(template, "worker")


def test_every_role_reads_exactly_the_app_secrets(app_template: Template) -> None:
    for role, statements in _role_statements(app_template).items():
        if "ExecutionRole" in role:  # ECS's own role: pulls the image and writes logs
            continue
        secrets = [
            json.dumps(resource)
            for statement in statements
            if "secretsmanager:GetSecretValue" in _as_list(statement["Action"])
            for resource in _as_list(statement["Resource"])
        ]
        joined = " ".join(secrets)
        for secret in ("DatabaseSecret", "DjangoSecretKey", "CacheAuthToken", "DurableAuthToken"):
            assert secret in joined, (role, secret)
        # The first staff user's password: only the deploy's commands (create_staff_user) read it.
        is_manage = role.startswith("ManageRole")
        assert ("StaffPassword" in joined) == is_manage, role
        assert len(secrets) == (5 if is_manage else 4), role


def test_only_the_manage_function_or_task_is_told_where_the_staff_password_is(app_template: Template) -> None:
    containers = [
        (key, definition["ContainerDefinitions"][0])
        for key, definition in _resources(app_template, "AWS::ECS::TaskDefinition").items()
    ]
    environments = {
        key: {variable["Name"] for variable in container["Environment"]} for key, container in containers
    } | {
        key: set(function["Environment"]["Variables"])
        for key, function in _resources(app_template, "AWS::Lambda::Function").items()
        if "Environment" in function
    }
    told = {key for key, names in environments.items() if "STAFF_PASSWORD_SECRET_ARN" in names}
    assert len(told) == 1
    assert next(iter(told)).startswith(("ManageFunction", "ManageTask"))
    assert "StaffPasswordSecretArn" in app_template.to_json()["Outputs"]


def test_the_fargate_shape_runs_the_deploys_commands_in_a_manage_task_of_their_own(
    cdk_template: Callable[..., Template],
) -> None:
    """scripts/deploy.sh runs migrate, collectstatic and create_staff_user there, not in a web task."""
    template = cdk_template("growth", "app", "fargate")
    assert "ManageTaskDefinition" in template.to_json()["Outputs"]
    assert "s3:PutObject" in _static_actions(template, "manage")
    assert "s3:PutObject" not in _static_actions(template, "web")
    (manage,) = [
        definition
        for key, definition in _resources(template, "AWS::ECS::TaskDefinition").items()
        if key.startswith("ManageTask")
    ]
    assert manage["ContainerDefinitions"][0]["Name"] == "manage"
    assert manage["TaskRoleArn"]["Fn::GetAtt"][0].startswith("ManageRole")
    # A definition only: nothing runs it but a deploy.
    services = _resources(template, "AWS::ECS::Service").values()
    assert not any("ManageTask" in json.dumps(service["TaskDefinition"]) for service in services)


# --- functions, routing, health checks -----------------------------------------------------------


def test_functions_run_the_documented_size_in_the_private_subnets(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    for name in ("page", "cart", "api"):
        function = _function(template, name)
        assert function["MemorySize"] == phases.LAMBDA_MEMORY_MB
        assert function["Timeout"] == phases.LAMBDA_TIMEOUT_SECONDS
        assert function["Architectures"] == ["x86_64"]
        assert function["PackageType"] == "Image"
        assert function["ImageConfig"]["Command"] == ["cloudshelf.aws_lambda.handler"]
        assert len(function["VpcConfig"]["SecurityGroupIds"]) == 1
    assert _function(template, "tasks")["ImageConfig"]["Command"] == ["cloudshelf.aws_lambda.scheduled_task_handler"]
    assert _function(template, "manage")["ImageConfig"]["Command"] == ["cloudshelf.aws_lambda.manage_handler"]


def test_logs_are_kept_a_month_not_forever(app_template: Template) -> None:
    groups = _resources(app_template, "AWS::Logs::LogGroup")
    assert groups
    assert {group["RetentionInDays"] for group in groups.values()} == {30}


def test_the_environment_carries_no_secret_values(app_template: Template) -> None:
    text = json.dumps(_resources(app_template, "AWS::Lambda::Function")) + json.dumps(
        _resources(app_template, "AWS::ECS::TaskDefinition")
    )
    assert "{{resolve:" not in text
    assert "DATABASE_SECRET_ARN" in text
    assert "SECRET_KEY_SECRET_ARN" in text


def test_the_environment_points_at_the_stores_over_tls(lambda_phase: tuple[str, Template]) -> None:
    phase, template = lambda_phase
    variables = _function(template, "page")["Environment"]["Variables"]
    assert json.dumps(variables["REDIS_URL"]).startswith('{"Fn::Join": ["", ["rediss://"')
    assert json.dumps(variables["REDIS_DURABLE_URL"]).startswith('{"Fn::Join": ["", ["rediss://"')
    assert json.dumps(variables["CELERY_BROKER_URL"]).endswith('"/2?ssl_cert_reqs=required"]]}')
    broker = "Broker" if PHASES[phase].cache_shards > 1 else "Durable"  # a cluster cannot be a broker
    assert broker in json.dumps(variables["CELERY_BROKER_URL"])
    assert json.dumps(variables["OPENSEARCH_URL"]).startswith('{"Fn::Join": ["", ["https://"')
    assert variables["TRUSTED_PROXY_COUNT"] == "2"
    # HTTPS even without a certificate on the ALB: visitors only reach CloudFront over HTTPS, and
    # CloudFront's own header tells the app so (the ALB's X-Forwarded-Proto would say "http").
    assert variables["HTTPS"] == "1"
    assert variables["PROXY_SSL_HEADER"] == "CloudFront-Forwarded-Proto"
    assert "ALLOW_INSECURE_HTTP" not in variables
    assert variables["OPENSEARCH_AWS_REGION"] == "us-east-1"  # IAM-signed requests to the domain
    assert variables["SEARCH_INDEX_REPLICAS"] == "1"
    # Through RDS Proxy, which refuses libpq startup options: the server's parameter group has the timeouts.
    assert variables["DATABASE_SESSION_OPTIONS"] == "0"
    assert (variables["DATABASE_NAME"], variables["DATABASE_PORT"]) == ("cloudshelf", "5432")
    assert ("REDIS_CLUSTER" in variables) == (PHASES[phase].cache_shards > 1)
    assert ("DATABASE_REPLICA_HOST" in variables) == (PHASES[phase].db_read_replicas > 0)


def test_every_target_group_checks_health_on_the_health_path(app_template: Template) -> None:
    groups = _resources(app_template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert groups
    for group in groups.values():
        assert group["HealthCheckEnabled"] is True
        assert group["HealthCheckPath"] == phases.HEALTH_CHECK_PATH == "/health"
        # Stickiness is off: said so for the Fargate group; Lambda target groups have none (ELB
        # refuses the attribute on them).
        stickiness = {"Key": "stickiness.enabled", "Value": "false"}
        assert (stickiness in group["TargetGroupAttributes"]) == (group["TargetType"] != "lambda")


def test_lambda_target_groups_send_multi_value_headers(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    groups = _resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert [group["TargetType"] for group in groups] == ["lambda"] * 3
    for group in groups:
        assert {"Key": "lambda.multi_value_headers.enabled", "Value": "true"} in group["TargetGroupAttributes"]


def test_every_listener_rule_requires_the_origin_verify_secret(app_template: Template) -> None:
    rules = _resources(app_template, "AWS::ElasticLoadBalancingV2::ListenerRule")
    assert rules
    for rule in rules.values():
        (header,) = [condition for condition in rule["Conditions"] if condition["Field"] == "http-header"]
        assert header["HttpHeaderConfig"]["HttpHeaderName"] == "X-Origin-Verify"
        (value,) = header["HttpHeaderConfig"]["Values"]
        text = json.dumps(value)
        assert "{{resolve:secretsmanager:" in text
        assert "OriginVerifySecret" in text


def test_listener_rules_route_paths_to_their_function(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    routes = {}
    for rule in _resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values():
        (paths,) = [condition for condition in rule["Conditions"] if condition["Field"] == "path-pattern"]
        (action,) = rule["Actions"]
        routes[rule["Priority"]] = (paths["PathPatternConfig"]["Values"], action["TargetGroupArn"]["Ref"][:4])
    assert routes == {
        10: (["/cart/*", "/checkout/*", "/orders/*"], "Cart"),
        20: (["/api/*"], "ApiT"),
        100: (["/*"], "Page"),
    }


# --- concurrency and scaling ----------------------------------------------------------------------


def test_reserved_concurrency_per_phase(lambda_phase: tuple[str, Template]) -> None:
    phase, template = lambda_phase
    reserved = PHASES[phase].reserved_concurrency
    expected = {"page": reserved, "cart": reserved // 2, "api": reserved // 4, "tasks": 5, "manage": 1}
    for name, value in expected.items():
        assert _function(template, name)["ReservedConcurrentExecutions"] == value, name


def test_provisioned_concurrency_on_page_and_cart_aliases(lambda_phase: tuple[str, Template]) -> None:
    phase, template = lambda_phase
    settings = PHASES[phase]
    aliases = {key[:4]: value for key, value in _resources(template, "AWS::Lambda::Alias").items()}
    assert aliases["Page"]["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": settings.page_provisioned_min
    }
    assert aliases["Cart"]["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": settings.cart_provisioned_min
    }
    assert "ProvisionedConcurrencyConfig" not in aliases["ApiA"]
    targets = {
        key[:4]: value for key, value in _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").items()
    }
    assert (targets["Page"]["MinCapacity"], targets["Page"]["MaxCapacity"]) == (
        settings.page_provisioned_min,
        settings.page_provisioned_max,
    )
    assert (targets["Cart"]["MinCapacity"], targets["Cart"]["MaxCapacity"]) == (
        settings.cart_provisioned_min,
        settings.cart_provisioned_max,
    )
    for target in targets.values():
        assert target["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"


def _policies(template: Template) -> list[dict[str, Any]]:
    return list(_resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values())


def test_scale_out_tracks_seventy_percent_with_five_minute_cooldowns(app_template: Template) -> None:
    tracking = [policy for policy in _policies(app_template) if policy["PolicyType"] == "TargetTrackingScaling"]
    assert tracking
    for policy in tracking:
        configuration = policy["TargetTrackingScalingPolicyConfiguration"]
        metric = configuration["PredefinedMetricSpecification"]["PredefinedMetricType"]
        assert configuration["TargetValue"] == {"LambdaProvisionedConcurrencyUtilization": 0.7}.get(metric, 70)
        assert metric in {"LambdaProvisionedConcurrencyUtilization", "ECSServiceAverageCPUUtilization"}
        assert configuration["ScaleInCooldown"] == configuration["ScaleOutCooldown"] == 300
        assert configuration["DisableScaleIn"] is True  # scale-in is the AND rule


def test_step_policies_have_five_minute_cooldowns(app_template: Template) -> None:
    steps = [policy for policy in _policies(app_template) if policy["PolicyType"] == "StepScaling"]
    assert len(steps) == 2 * len(_resources(app_template, "AWS::ApplicationAutoScaling::ScalableTarget"))
    for policy in steps:
        assert policy["StepScalingPolicyConfiguration"]["Cooldown"] == 300


def _scaling_alarms(template: Template) -> list[dict[str, Any]]:
    """The alarms that drive step scaling policies (the others notify the alarm topic)."""
    return [
        alarm
        for alarm in _resources(template, "AWS::CloudWatch::Alarm").values()
        if "AlarmTopic" not in json.dumps(alarm.get("AlarmActions", []))
    ]


def test_scale_out_above_1000_requests_a_minute(app_template: Template) -> None:
    alarms = [
        alarm for alarm in _scaling_alarms(app_template) if alarm.get("MetricName", "").startswith("RequestCount")
    ]
    assert alarms
    for alarm in alarms:
        assert alarm["Threshold"] == 1000
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["Period"] == 60
        assert alarm["Statistic"] == "Sum"


def test_scale_in_only_below_200_requests_and_30_percent(app_template: Template) -> None:
    alarms = [alarm for alarm in _scaling_alarms(app_template) if "Metrics" in alarm]
    assert alarms
    for alarm in alarms:
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "LessThanOrEqualToThreshold"
        (expression,) = [metric["Expression"] for metric in alarm["Metrics"] if "Expression" in metric]
        assert "FILL(requests, 0) / 200" in expression
        assert expression.endswith("/ 30])")


def test_fargate_web_scales_between_the_phase_task_counts(cdk_template: Callable[..., Template]) -> None:
    template = cdk_template("growth", "app", "fargate")
    (target,) = _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (
        PHASES["growth"].web_tasks_min,
        PHASES["growth"].web_tasks_max,
    )
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"


def test_fargate_runs_web_worker_and_exactly_one_beat(cdk_template: Callable[..., Template]) -> None:
    template = cdk_template("growth", "app", "fargate")
    services = {key[:4]: value for key, value in _resources(template, "AWS::ECS::Service").items()}
    assert set(services) == {"WebS", "Work", "Beat"}
    assert services["Beat"]["DesiredCount"] == 1
    assert services["Beat"]["DeploymentConfiguration"]["MaximumPercent"] == 100
    assert services["WebS"]["DesiredCount"] == PHASES["growth"].web_tasks_min
    commands = {
        container["Command"][0]
        for definition in _resources(template, "AWS::ECS::TaskDefinition").values()
        for container in definition["ContainerDefinitions"]
    }
    assert commands == {"web", "worker", "beat", "migrate"}  # migrate: the deploy's manage task (no service)
    for definition in _resources(template, "AWS::ECS::TaskDefinition").values():
        for container in definition["ContainerDefinitions"]:
            assert container["ReadonlyRootFilesystem"] is True
            assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert not template.find_resources("AWS::Lambda::Function")
    assert not template.find_resources("AWS::Events::Rule")


def test_the_lambda_shape_runs_the_celery_worker_on_fargate(lambda_phase: tuple[str, Template]) -> None:
    phase, template = lambda_phase
    (service,) = _resources(template, "AWS::ECS::Service").values()
    assert service["DesiredCount"] == PHASES[phase].worker_tasks
    (definition,) = _resources(template, "AWS::ECS::TaskDefinition").values()
    assert [container["Command"] for container in definition["ContainerDefinitions"]] == [["worker"]]


# --- schedules ------------------------------------------------------------------------------------


def test_one_rule_per_scheduled_task_with_its_expression_and_input(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    table = "TABLE"
    expected = {
        task.expression: json.dumps(task.rule_input, separators=(",", ":"))
        for task in eventbridge_schedules(beat_schedule(dynamodb_table=table, search_snapshot_hours=None))
    }
    rules = _resources(template, "AWS::Events::Rule").values()
    assert len(rules) == len(expected)
    found = {}
    for rule in rules:
        (target,) = rule["Targets"]
        text = target["Input"]
        if not isinstance(text, str):  # the table name is a reference into the Data stack
            parts = text["Fn::Join"][1]
            assert "HotData" in json.dumps(parts[1])
            text = parts[0] + table + parts[2]
        found[rule["ScheduleExpression"]] = text
        assert "TasksFunction" in json.dumps(target["Arn"])
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}
        assert "ScheduleDeadLetters" in json.dumps(target["DeadLetterConfig"])
    assert found == expected


def test_the_dead_letter_queue_is_encrypted(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    (queue,) = _resources(template, "AWS::SQS::Queue").values()
    assert queue["SqsManagedSseEnabled"] is True


# --- alarms ---------------------------------------------------------------------------------------


def _alarms(template: Template) -> list[dict[str, Any]]:
    return [
        alarm
        for alarm in _resources(template, "AWS::CloudWatch::Alarm").values()
        if "AlarmTopic" in json.dumps(alarm.get("AlarmActions", []))
    ]


def test_response_time_alarms_use_the_documents_targets(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    p95 = {
        alarm["AlarmDescription"].split(":")[0]: alarm["Threshold"]
        for alarm in _alarms(template)
        if alarm.get("MetricName") == "TargetResponseTime"
    }
    assert p95 == {"page": 2.0, "api": 1.0, "cart": 0.2}
    for alarm in _alarms(template):
        if alarm.get("MetricName") == "TargetResponseTime":
            assert alarm["ExtendedStatistic"] == "p95"


def test_lambda_alarms_cover_errors_throttles_and_five_second_p95(lambda_phase: tuple[str, Template]) -> None:
    _, template = lambda_phase
    by_metric: dict[str, list[float]] = {}
    for alarm in _alarms(template):
        if alarm.get("Namespace") == "AWS/Lambda":
            by_metric.setdefault(alarm["MetricName"], []).append(alarm["Threshold"])
    assert len(by_metric["Errors"]) == len(by_metric["Throttles"]) == 5
    assert by_metric["Duration"] == [5000] * 4  # every function but manage (migrations may take minutes)


def test_store_alarms_have_the_named_thresholds(lambda_phase: tuple[str, Template]) -> None:
    phase, template = lambda_phase
    thresholds = {(alarm.get("Namespace"), alarm.get("MetricName")): alarm["Threshold"] for alarm in _alarms(template)}
    assert thresholds[("AWS/RDS", "CPUUtilization")] == 80
    assert thresholds[("AWS/RDS", "FreeStorageSpace")] == PHASES[phase].db_storage_gb * 0.1 * 1024**3
    assert thresholds[("AWS/ElastiCache", "DatabaseMemoryUsagePercentage")] == 75
    assert thresholds[("AWS/ElastiCache", "Evictions")] == 1
    durable_nodes = {
        alarm["Dimensions"][0]["Value"]["Fn::Join"][1][1]
        for alarm in _alarms(template)
        if alarm.get("Namespace") == "AWS/ElastiCache" and "Durable" in json.dumps(alarm["Dimensions"])
    }
    assert durable_nodes == {"-0001-001" if PHASES[phase].cache_shards > 1 else "-001"}
    assert thresholds[("AWS/ES", "ClusterStatus.red")] == 1
    assert thresholds[("AWS/ES", "ClusterStatus.yellow")] == 1
    assert thresholds[("AWS/SQS", "ApproximateNumberOfMessagesVisible")] == 1


def test_every_alarm_goes_to_the_topic_and_5xx_rates_are_watched(app_template: Template) -> None:
    alarms = _alarms(app_template)
    rates = [alarm for alarm in alarms if "5xx" in alarm["AlarmDescription"]]
    assert len(rates) == len(_resources(app_template, "AWS::ElasticLoadBalancingV2::TargetGroup"))
    for alarm in rates:
        assert alarm["Threshold"] == 1.0
    assert not app_template.find_resources("AWS::SNS::Subscription")  # no alarm_email given


# --- bad input ------------------------------------------------------------------------------------


def test_an_unknown_compute_shape_is_refused(cdk_stacks: Callable[..., Any]) -> None:
    stacks = cdk_stacks("mvp")
    scope = cdk.App()
    with pytest.raises(ValueError, match="unknown compute 'ec2'"):
        AppStack(
            scope,
            "Bad",
            phase=PHASES["mvp"],
            compute="ec2",
            network=stacks.network,
            data=stacks.data,
            edge=stacks.edge,
        )
    assert scope.node.try_find_child("Bad") is None


@pytest.mark.parametrize("address", ["", "ops", "ops@example", "a@example.com,b@example.com", "ops @example.com"])
def test_a_malformed_alarm_email_is_refused(cdk_stacks: Callable[..., Any], address: str) -> None:
    stacks = cdk_stacks("mvp")
    scope = cdk.App()
    with pytest.raises(ValueError, match="is not an e-mail address"):
        AppStack(
            scope,
            "Bad",
            phase=PHASES["mvp"],
            compute="lambda",
            network=stacks.network,
            data=stacks.data,
            edge=stacks.edge,
            alarm_email=address,
        )
    assert scope.node.try_find_child("Bad") is None


def test_email_and_certificate_contexts_subscribe_and_turn_https_on() -> None:
    """With a certificate CloudFront reaches the ALB over HTTPS, so the app may redirect to https."""
    # As `cdk synth -c phase=mvp -c alarm_email=... -c certificate_arn=... -c domain_name=...` builds it.
    context = {
        "phase": "mvp",
        "alarm_email": "ops@example.com",
        "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        "domain_name": "shop.example.com",
    }
    app = cdk.App(context={**CDK_CONTEXT, "aws:cdk:disable-asset-staging": True, **context})
    stacks = build_from_context(app)
    template = Template.from_stack(stacks.app)
    template.resource_count_is("AWS::SNS::Subscription", 1)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": "ops@example.com",
            "TopicArn": {"Ref": Match.string_like_regexp("AlarmTopic")},
        },
    )
    variables = _function(template, "page")["Environment"]["Variables"]
    assert variables["HTTPS"] == "1"
    assert "ALLOW_INSECURE_HTTP" not in variables
    assert variables["SITE_URL"] == "https://shop.example.com"
    assert variables["CLOUDFRONT_DOMAIN"] == "shop.example.com"
    assert variables["ALLOWED_HOSTS"]["Fn::Join"][1][0] == "shop.example.com,"


def test_an_unknown_function_has_no_reserved_concurrency() -> None:
    with pytest.raises(ValueError, match="unknown function 'bogus'"):
        reserved_concurrency(phase=PHASES["mvp"], function="bogus")


def test_the_fargate_shape_outputs_what_a_one_off_task_needs(cdk_template: Callable[..., Template]) -> None:
    """scripts/deploy.sh runs migrate and collectstatic as one-off tasks with these outputs."""
    outputs = cdk_template("growth", "app", "fargate").to_json()["Outputs"]
    network = json.dumps(outputs["TaskNetworkConfiguration"]["Value"])
    assert "awsvpcConfiguration={subnets=[" in network
    assert "assignPublicIp=DISABLED" in network
    assert "AppSecurityGroup" in network
    assert {"ClusterName", "WebTaskDefinition"} <= set(outputs)
