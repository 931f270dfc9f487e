"""The app: Lambda functions (or Fargate services) behind the Network stack's ALB, scaled and watched.

Two shapes of the same image (docs/deploy.md, "App stack"):

* ``lambda`` (the document's choice, the default): functions ``page`` (every path not routed
  elsewhere), ``cart`` (cart, checkout, orders), ``api`` (``/api/``), ``tasks`` (the beat schedule,
  run by EventBridge rules) and ``manage`` (migrate and collectstatic, invoked after a deploy), all
  from one image (target ``lambda``), each with its own role. A Celery consumer is long-lived, so
  the ``worker`` runs as a small Fargate service in this shape too.
* ``fargate`` (the container shape): services ``web`` (gunicorn, behind the ALB), ``worker`` and
  ``beat`` (exactly one task), from the image's ``web`` target.

The stack attaches target groups and listener rules to the Network stack's listener; every rule
requires the origin-verify header, so the ALB answers only CloudFront. Scaling follows the
document's triggers (phases.py); the alarms are in ``alarms.py``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as elbv2_targets
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cloudshelf_infra import phases
from cloudshelf_infra.alarms import AppAlarms
from cloudshelf_infra.data_stack import DATABASE_NAME, POSTGRES_PORT, DataStack
from cloudshelf_infra.edge_stack import EdgeStack
from cloudshelf_infra.network_stack import NetworkStack
from cloudshelf_infra.phases import Phase

# The Docker build context: the repository root (its .dockerignore keeps the asset small). It is
# also where the app's schedule comes from, which `cdk synth` (run from infra/) must import.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

from cloudshelf.schedule import beat_schedule, eventbridge_schedules  # noqa: E402

# x86_64, built for linux/amd64 wherever `cdk deploy` runs: arm64 (Graviton) is ~20% cheaper per
# GB-second, but the image would then have to be built for arm64 too (slow under emulation on the
# x86 machines that deploy today). Switch both together: ARCHITECTURE and IMAGE_PLATFORM.
ARCHITECTURE = lambda_.Architecture.X86_64
IMAGE_PLATFORM = ecr_assets.Platform.LINUX_AMD64
CPU_ARCHITECTURE = ecs.CpuArchitecture.X86_64

# Handlers of cloudshelf/aws_lambda.py (the image's CMD, set per function).
WEB_HANDLER = "cloudshelf.aws_lambda.handler"
TASKS_HANDLER = "cloudshelf.aws_lambda.scheduled_task_handler"
MANAGE_HANDLER = "cloudshelf.aws_lambda.manage_handler"

# Reserved concurrency: page gets the phase's figure (the document: 100 normally, 1,000 at
# Scale), cart and api a share of it. The sum stays under the account's default limit (1,000,
# of which 100 must stay unreserved) in the MVP and Growth phases; Scale needs a limit raise.
CART_RESERVED_SHARE = 0.5
API_RESERVED_SHARE = 0.25
# Scheduled tasks run one at a time per rule; a handful at once is plenty and protects Postgres.
TASKS_RESERVED_CONCURRENCY = 5
# One deploy-time command at a time: two migrations must never run together.
MANAGE_RESERVED_CONCURRENCY = 1
# Scheduled tasks prune in batches and may run longer than a request; migrate may run minutes.
TASKS_TIMEOUT = Duration.minutes(5)
MANAGE_TIMEOUT = Duration.minutes(15)
MANAGE_MEMORY_MB = 1024

LOG_RETENTION = logs.RetentionDays.ONE_MONTH
ALIAS_NAME = "live"
CONTAINER_PORT = 8000
# EventBridge retries a failed task invocation this often within this age, then the DLQ keeps it.
SCHEDULE_RETRY_ATTEMPTS = 2
SCHEDULE_MAX_EVENT_AGE = Duration.hours(1)
DLQ_RETENTION = Duration.days(14)

# Scale out by half again (at least one) on a breach; in by one: out fast, in carefully.
SCALE_OUT_PERCENT = 50
SCALE_IN_STEP = -1

# The Celery broker's Redis database on the durable group (carts and sessions use 0, as `make up`).
BROKER_DATABASE = 2
# CloudFront (writes the viewer's address into X-Forwarded-For) and the ALB (appends CloudFront's):
# the client is the second entry from the right (cloudshelf/client.py).
TRUSTED_PROXY_COUNT = 2

# Read-only OpenSearch actions (a search is a POST to _search); the writers get every ES HTTP verb.
SEARCH_READ_ACTIONS = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"]
SEARCH_WRITE_ACTIONS = [*SEARCH_READ_ACTIONS, "es:ESHttpPut", "es:ESHttpDelete", "es:ESHttpPatch"]
# The hot-data table: the API (and /health/ready) read; the worker and the scheduled drift check write.
DYNAMODB_READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"]
DYNAMODB_WRITE_ACTIONS = [
    *DYNAMODB_READ_ACTIONS,
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
    "dynamodb:Scan",
]
# One address, no spaces or commas: SNS subscribes exactly what it is given.
EMAIL_PATTERN = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")
MEDIA_PREFIX = "media"
STATIC_PREFIX = "static"


@dataclass(frozen=True)
class WebRoute:
    """One web function: the paths the ALB sends it (rule priority: lower wins) and its p95 target."""

    name: str
    path_patterns: tuple[str, ...]
    priority: int
    p95_seconds: float


# cart/urls.py and cloudshelf/api/urls.py; everything else (catalog, search, accounts, admin,
# /health) is a page. Search pages are pages: their 0.5 s target is inside page's 2 s alarm.
WEB_ROUTES = (
    WebRoute("cart", ("/cart/*", "/checkout/*", "/orders/*"), 10, phases.CART_P95_SECONDS),
    WebRoute("api", ("/api/*",), 20, phases.API_P95_SECONDS),
    WebRoute("page", ("/*",), 100, phases.PAGE_P95_SECONDS),
)


def reserved_concurrency(*, phase: Phase, function: str) -> int:
    """Reserved concurrency of ``function`` in ``phase`` (page: the phase's; cart and api a share)."""
    shares = {"page": 1.0, "cart": CART_RESERVED_SHARE, "api": API_RESERVED_SHARE}
    if function in shares:
        return max(1, int(phase.reserved_concurrency * shares[function]))
    if function == "tasks":
        return TASKS_RESERVED_CONCURRENCY
    if function == "manage":
        return MANAGE_RESERVED_CONCURRENCY
    raise ValueError(f"unknown function {function!r}")


class AppStack(Stack):
    """Compute (Lambda or Fargate), routing, scaling, schedules, alarms and one IAM role per function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        phase: Phase,
        compute: str,
        network: NetworkStack,
        data: DataStack,
        edge: EdgeStack,
        alarm_email: str | None = None,
        domain_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if compute not in ("lambda", "fargate"):
            raise ValueError(f"unknown compute {compute!r}: choose lambda or fargate")
        if alarm_email is not None and not EMAIL_PATTERN.fullmatch(alarm_email):
            raise ValueError(f"alarm_email {alarm_email!r} is not an e-mail address")
        super().__init__(scope, construct_id, **kwargs)
        self.phase = phase
        self.compute = compute
        self.network = network
        self.data = data
        self.edge = edge
        # The site's own name (with a certificate), else the distribution's: given, or the context's.
        self.domain_name = domain_name or self.node.try_get_context("domain_name") or ""

        # Django's SECRET_KEY: generated once, shared by every function and task, never in the template.
        self.secret_key = secretsmanager.Secret(
            self,
            "DjangoSecretKey",
            description="CloudShelf Django SECRET_KEY",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=64),
        )
        # The first staff user's password (`manage.py create_staff_user`, run by scripts/deploy.sh):
        # generated once, read only by the manage function or task, shown to whoever may read it.
        self.staff_password = secretsmanager.Secret(
            self,
            "StaffPassword",
            description="CloudShelf: the first staff user's password (manage.py create_staff_user)",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=32),
        )
        CfnOutput(self, "StaffPasswordSecretArn", value=self.staff_password.secret_arn)
        self.app_environment = self._environment()
        self.private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

        # Names -> roles, functions, services, target groups: what tests and alarms look at.
        self.roles: dict[str, iam.Role] = {}
        self.functions: dict[str, lambda_.DockerImageFunction] = {}
        self.aliases: dict[str, lambda_.Alias] = {}
        self.services: dict[str, ecs.FargateService] = {}
        self.target_groups: dict[str, elbv2.ApplicationTargetGroup] = {}
        # The p95 each target group is alarmed on (the Fargate shape's one `web` group: a page's).
        self.response_time_targets = {route.name: route.p95_seconds for route in WEB_ROUTES}
        self.response_time_targets["web"] = phases.PAGE_P95_SECONDS
        self.scalable_targets: dict[str, appscaling.ScalableTarget | ecs.ScalableTaskCount] = {}
        self.schedule_rules: dict[str, events.Rule] = {}

        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=network.vpc,
            # Per-task metrics cost per metric: from Growth on, when there are tasks worth watching.
            container_insights_v2=ecs.ContainerInsights.ENABLED
            if phase.name != "mvp"
            else ecs.ContainerInsights.DISABLED,
        )
        self.schedule_dlq: sqs.Queue | None = None
        if compute == "lambda":
            self._lambda_shape()
        else:
            self._fargate_shape()

        self.alarms = AppAlarms(self, "Alarms", app=self, alarm_email=alarm_email)

    # --- environment ------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        """What every function and task reads (cloudshelf/settings.py, cloudshelf/aws_lambda.py).

        Secrets travel as ARNs the app reads at start-up with its own role, never as values in
        the template or the function's configuration.
        """
        data, edge, network = self.data, self.edge, self.network
        domain_name = self.domain_name
        cloudfront_domain = edge.distribution.distribution_domain_name
        # The Host the app sees: the viewer's (uncached paths forward it), else the ALB's name.
        hosts = [host for host in (domain_name, cloudfront_domain, network.alb.load_balancer_dns_name) if host]
        site_host = domain_name or cloudfront_domain
        durable = data.durable_endpoint
        environment = {
            "DATABASE_SECRET_ARN": data.database_secret.secret_arn,
            "DATABASE_HOST": data.database_proxy.endpoint,
            # Named, not left to the secret: a generated RDS secret's fields depend on its attachment.
            "DATABASE_NAME": DATABASE_NAME,
            "DATABASE_PORT": str(POSTGRES_PORT),
            # RDS Proxy refuses libpq's startup `options`; the Data stack's parameter group holds the
            # same statement, lock and idle-in-transaction timeouts as server defaults instead.
            "DATABASE_SESSION_OPTIONS": "0",
            "SECRET_KEY_SECRET_ARN": self.secret_key.secret_arn,
            "REDIS_URL": f"rediss://{data.cache_endpoint}/0",
            "REDIS_DURABLE_URL": f"rediss://{durable}/0",
            "REDIS_AUTH_SECRET_ARN": data.cache_auth_secret.secret_arn,
            "REDIS_DURABLE_AUTH_SECRET_ARN": data.durable_auth_secret.secret_arn,
            # The durable group, or in cluster phases a non-cluster group of its own (a Redis Cluster
            # cannot be a Celery broker); the durable group's AUTH token either way.
            "CELERY_BROKER_URL": f"rediss://{data.broker_endpoint}/{BROKER_DATABASE}?ssl_cert_reqs=required",
            "OPENSEARCH_URL": f"https://{data.search_domain.domain_endpoint}",
            "DYNAMODB_TABLE": data.table.table_name,
            "AWS_STORAGE_BUCKET_NAME": edge.static_bucket.bucket_name,
            "AWS_MEDIA_BUCKET_NAME": edge.media_bucket.bucket_name,
            "CLOUDFRONT_DOMAIN": site_host,
            "CLOUDFRONT_DISTRIBUTION_ID": edge.distribution.distribution_id,
            "ALLOWED_HOSTS": ",".join(hosts),
            "CSRF_TRUSTED_ORIGINS": ",".join(f"https://{host}" for host in (domain_name, cloudfront_domain) if host),
            "SITE_URL": f"https://{site_host}",
            "TRUSTED_PROXY_COUNT": str(TRUSTED_PROXY_COUNT),
            "DATA_DIR": "/tmp/cloudshelf",
            # Visitors reach CloudFront over HTTPS only (it redirects http), so the app is HTTPS
            # (secure cookies, HSTS) whether or not the ALB has a certificate. The scheme comes from
            # CloudFront's own header: without a certificate CloudFront reaches the ALB over HTTP and
            # the ALB's X-Forwarded-Proto says "http" for everyone (a redirect loop).
            "HTTPS": "1",
            "PROXY_SSL_HEADER": "CloudFront-Forwarded-Proto",
            # The domain admits IAM-signed requests only (Data stack): sign them with the role's keys.
            "OPENSEARCH_AWS_REGION": Stack.of(self).region,
            # Two data nodes: one replica per shard, so losing a node loses no search.
            "SEARCH_INDEX_REPLICAS": "1",
            # Amazon OpenSearch Service takes its own automated snapshots; the app's own (an fs
            # repository on the local node) would need an S3 repository and a role: not set up.
            "SEARCH_SNAPSHOT_REPOSITORY": "",
        }
        if data.read_replicas:
            environment["DATABASE_REPLICA_HOST"] = data.read_replicas[0].db_instance_endpoint_address
        if data.cache_cluster_mode:
            environment["REDIS_CLUSTER"] = "1"
        return environment

    # --- IAM ----------------------------------------------------------------------------------

    def _role(self, name: str, *, principal: str) -> iam.Role:
        """A role of its own for ``name``, with the secrets every part of the app reads at start-up."""
        role = iam.Role(
            self,
            f"{name.title()}Role",
            assumed_by=iam.ServicePrincipal(principal),
            description=f"CloudShelf {name}: only what {name} uses",
        )
        if principal == "lambda.amazonaws.com":
            # AWS-managed: logs, plus the ENI actions a function in a VPC needs, which AWS only
            # grants on "*" (an ENI does not exist before the function creates it).
            role.add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
            )
        for secret in (
            self.data.database_secret,
            self.secret_key,
            self.data.cache_auth_secret,
            self.data.durable_auth_secret,
        ):
            secret.grant_read(role)
        # Every process that renders a template reads static/staticfiles.json (the manifest of
        # hashed names) from the static bucket: read-only here, writing is collectstatic's (manage).
        _grant_bucket_prefix(role, self.edge.static_bucket.bucket_arn, STATIC_PREFIX, write=False)
        self.roles[name] = role
        return role

    def _manage_role(self, principal: str) -> iam.Role:
        """The deploy's commands (migrate, collectstatic, create_staff_user, search_index, dynamo_sync)."""
        role = self._role("manage", principal=principal)
        self._grant_static(role)  # collectstatic
        self._grant_search(role, write=True)  # search_index
        self._grant_table(role, write=True)  # dynamo_sync --backfill (a new table, a rebuilt one)
        self.staff_password.grant_read(role)  # create_staff_user
        return role

    def _manage_environment(self) -> dict[str, str]:
        return {"STAFF_PASSWORD_SECRET_ARN": self.staff_password.secret_arn}

    def _grant_media(self, role: iam.Role) -> None:
        """Read and write uploaded media (covers) under media/, and list that prefix (exists())."""
        _grant_bucket_prefix(role, self.edge.media_bucket.bucket_arn, MEDIA_PREFIX)

    def _grant_static(self, role: iam.Role) -> None:
        """collectstatic: read, write and list static/ of the static bucket."""
        _grant_bucket_prefix(role, self.edge.static_bucket.bucket_arn, STATIC_PREFIX)

    def _grant_search(self, role: iam.Role, *, write: bool) -> None:
        domain_arn = self.data.search_domain.domain_arn
        role.add_to_policy(
            iam.PolicyStatement(
                actions=SEARCH_WRITE_ACTIONS if write else SEARCH_READ_ACTIONS,
                resources=[domain_arn, f"{domain_arn}/*"],
            )
        )

    def _grant_table(self, role: iam.Role, *, write: bool) -> None:
        table_arn = self.data.table.table_arn
        role.add_to_policy(
            iam.PolicyStatement(
                actions=DYNAMODB_WRITE_ACTIONS if write else DYNAMODB_READ_ACTIONS,
                resources=[table_arn, f"{table_arn}/index/*"],
            )
        )

    def _grant_invalidation(self, role: iam.Role) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                resources=[self.edge.distribution.distribution_arn],
            )
        )

    # --- Lambda shape -------------------------------------------------------------------------

    def _function(
        self,
        name: str,
        *,
        handler: str,
        role: iam.Role,
        timeout: Duration,
        memory_mb: int = phases.LAMBDA_MEMORY_MB,
        environment: dict[str, str] | None = None,
    ) -> lambda_.DockerImageFunction:
        log_group = logs.LogGroup(
            self, f"{name.title()}Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        function = lambda_.DockerImageFunction(
            self,
            f"{name.title()}Function",
            description=f"CloudShelf {name} ({handler})",
            # One image for every function (same asset, built once); only the CMD differs.
            code=lambda_.DockerImageCode.from_image_asset(
                str(REPO_ROOT), target="lambda", cmd=[handler], platform=IMAGE_PLATFORM
            ),
            architecture=ARCHITECTURE,
            memory_size=memory_mb,
            timeout=timeout,
            vpc=self.network.vpc,
            vpc_subnets=self.private_subnets,
            security_groups=[self.network.app_security_group],
            role=role,
            environment={**self.app_environment, **(environment or {})},
            reserved_concurrent_executions=reserved_concurrency(phase=self.phase, function=name),
            # X-Ray off: the app has no X-Ray SDK; ALB request ids and the logs tie a request together.
            tracing=lambda_.Tracing.DISABLED,
            log_group=log_group,
        )
        self.functions[name] = function
        return function

    def _lambda_shape(self) -> None:
        phase = self.phase
        provisioned = {
            "page": (phase.page_provisioned_min, phase.page_provisioned_max),
            "cart": (phase.cart_provisioned_min, phase.cart_provisioned_max),
        }
        for route in WEB_ROUTES:
            role = self._role(route.name, principal="lambda.amazonaws.com")
            if route.name == "page":
                self._grant_media(role)  # admin cover uploads
                self._grant_search(role, write=False)
                self._grant_table(role, write=False)  # /health/ready probes the table
            elif route.name == "api":
                self._grant_search(role, write=False)
                self._grant_table(role, write=False)  # hot book details and availability
            function = self._function(
                route.name,
                handler=WEB_HANDLER,
                role=role,
                timeout=Duration.seconds(phases.LAMBDA_TIMEOUT_SECONDS),
            )
            minimum, maximum = provisioned.get(route.name, (0, 0))
            if maximum > reserved_concurrency(phase=phase, function=route.name):
                raise ValueError(
                    f"{phase.name}: {route.name} provisioned max {maximum} is above its reserved concurrency"
                )
            alias = lambda_.Alias(
                self,
                f"{route.name.title()}Alias",
                alias_name=ALIAS_NAME,
                version=function.current_version,
                provisioned_concurrent_executions=minimum or None,
            )
            self.aliases[route.name] = alias
            target_group = elbv2.ApplicationTargetGroup(
                self,
                f"{route.name.title()}Targets",
                target_type=elbv2.TargetType.LAMBDA,
                targets=[elbv2_targets.LambdaTarget(alias)],
                health_check=elbv2.HealthCheck(
                    enabled=True,
                    path=phases.HEALTH_CHECK_PATH,
                    healthy_http_codes="200",
                    interval=Duration.seconds(60),
                    timeout=Duration.seconds(10),
                ),
            )
            # apig-wsgi reads multiValueHeaders (repeated Set-Cookie, query parameters).
            target_group.set_attribute("lambda.multi_value_headers.enabled", "true")
            # No stickiness: a Lambda target group has none (ELB refuses even stickiness.enabled=false).
            self.target_groups[route.name] = target_group
            self._listener_rule(route, target_group)
            if maximum:
                self._scale_provisioned(route.name, function, alias, target_group, minimum, maximum)

        tasks_role = self._role("tasks", principal="lambda.amazonaws.com")
        self._grant_table(tasks_role, write=True)  # hot-data drift check
        self._grant_search(tasks_role, write=True)  # index snapshots
        tasks = self._function("tasks", handler=TASKS_HANDLER, role=tasks_role, timeout=TASKS_TIMEOUT)
        self._schedules(tasks)

        manage_role = self._manage_role("lambda.amazonaws.com")
        manage = self._function(
            "manage",
            handler=MANAGE_HANDLER,
            role=manage_role,
            timeout=MANAGE_TIMEOUT,
            memory_mb=MANAGE_MEMORY_MB,
            environment=self._manage_environment(),
        )
        # Deploy-time commands are invoked after `cdk deploy` (docs/deploy.md), not by a CDK
        # trigger: a trigger cannot pass the command, and a failed migration should stop the
        # rollout visibly, with its output in the terminal.
        CfnOutput(self, "ManageFunctionName", value=manage.function_name)

        self._worker_service()

    def _listener_rule(self, route: WebRoute, target_group: elbv2.IApplicationTargetGroup) -> None:
        elbv2.ApplicationListenerRule(
            self,
            f"{route.name.title()}Rule",
            listener=self.network.listener,
            priority=route.priority,
            conditions=[
                elbv2.ListenerCondition.http_header(
                    self.network.origin_verify_header,
                    [self.network.origin_verify_secret.secret_value.unsafe_unwrap()],
                ),
                elbv2.ListenerCondition.path_patterns(list(route.path_patterns)),
            ],
            target_groups=[target_group],
        )

    def _scale_provisioned(
        self,
        name: str,
        function: lambda_.IFunction,
        alias: lambda_.Alias,
        target_group: elbv2.ApplicationTargetGroup,
        minimum: int,
        maximum: int,
    ) -> None:
        """Provisioned concurrency between min and max on the document's triggers.

        Lambda has no CPU: the share of provisioned instances busy (ProvisionedConcurrencyUtilization)
        stands for it, 70 % out and 30 % in as the document's CPU figures.
        """
        target = appscaling.ScalableTarget(
            self,
            f"{name.title()}ProvisionedScaling",
            service_namespace=appscaling.ServiceNamespace.LAMBDA,
            scalable_dimension="lambda:function:ProvisionedConcurrency",
            resource_id=f"function:{function.function_name}:{alias.alias_name}",
            min_capacity=minimum,
            max_capacity=maximum,
            # Application Auto Scaling's own service-linked role (created on first use): no role of ours.
            role=iam.Role.from_role_arn(
                self,
                f"{name.title()}ScalingServiceRole",
                f"arn:{self.partition}:iam::{self.account}:role/aws-service-role/"
                "lambda.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency",
            ),
        )
        target.node.add_dependency(alias)
        self.scalable_targets[name] = target
        target.scale_to_track_metric(
            "Utilization",
            target_value=phases.SCALE_OUT_CPU_PERCENT / 100,
            predefined_metric=appscaling.PredefinedMetric.LAMBDA_PROVISIONED_CONCURRENCY_UTILIZATION,
            disable_scale_in=True,  # scale-in is the AND rule below
            scale_in_cooldown=Duration.seconds(phases.SCALING_COOLDOWN_SECONDS),
            scale_out_cooldown=Duration.seconds(phases.SCALING_COOLDOWN_SECONDS),
        )
        utilization = alias.metric("ProvisionedConcurrencyUtilization", statistic="Maximum", period=Duration.minutes(1))
        requests = target_group.metrics.request_count(statistic="Sum", period=Duration.minutes(1))
        _request_and_idle_policies(target, requests=requests, utilization=utilization, utilization_scale=100)

    def _schedules(self, tasks: lambda_.IFunction) -> None:
        """One EventBridge rule per beat entry -> the tasks function; failures retried, then kept in a DLQ."""
        self.schedule_dlq = sqs.Queue(
            self,
            "ScheduleDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        schedule = beat_schedule(dynamodb_table=self.data.table.table_name, search_snapshot_hours=None)
        for task in eventbridge_schedules(schedule):
            rule = events.Rule(
                self,
                f"Schedule-{task.name}",
                description=f"CloudShelf {task.name}: {task.task} {task.expression}",
                schedule=events.Schedule.expression(task.expression),
                targets=[
                    events_targets.LambdaFunction(
                        tasks,
                        event=events.RuleTargetInput.from_object(task.rule_input),
                        retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
                        max_event_age=SCHEDULE_MAX_EVENT_AGE,
                        dead_letter_queue=self.schedule_dlq,
                    )
                ],
            )
            self.schedule_rules[task.name] = rule

    # --- containers (both shapes: the worker; the Fargate shape: web and beat too) ---------------

    def _task_definition(
        self,
        name: str,
        *,
        role: iam.Role,
        command: str,
        cpu: int,
        memory_mb: int,
        port: int | None = None,
        environment: dict[str, str] | None = None,
    ) -> ecs.FargateTaskDefinition:
        definition = ecs.FargateTaskDefinition(
            self,
            f"{name.title()}Task",
            cpu=cpu,
            memory_limit_mib=memory_mb,
            task_role=role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=CPU_ARCHITECTURE, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        definition.add_volume(name="tmp")  # the one writable place: the root filesystem is read-only
        log_group = logs.LogGroup(
            self, f"{name.title()}Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        container = definition.add_container(
            name,
            image=ecs.ContainerImage.from_asset(str(REPO_ROOT), target="web", platform=IMAGE_PLATFORM),
            command=[command],
            environment={**self.app_environment, **(environment or {})},
            readonly_root_filesystem=True,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=log_group),
            port_mappings=[ecs.PortMapping(container_port=port)] if port else None,
        )
        container.add_mount_points(ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False))
        return definition

    def _service(self, name: str, definition: ecs.FargateTaskDefinition, *, count: int) -> ecs.FargateService:
        service = ecs.FargateService(
            self,
            f"{name.title()}Service",
            cluster=self.cluster,
            task_definition=definition,
            desired_count=count,
            vpc_subnets=self.private_subnets,
            security_groups=[self.network.app_security_group],
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100 if name == "web" else 0 if name == "beat" else 50,
            max_healthy_percent=100 if name == "beat" else 200,
        )
        self.services[name] = service
        return service

    def _worker_service(self) -> None:
        role = self._role("worker", principal="ecs-tasks.amazonaws.com")
        self._grant_table(role, write=True)
        self._grant_search(role, write=True)
        self._grant_media(role)  # cover fetches
        self._grant_invalidation(role)
        definition = self._task_definition(
            "worker",
            role=role,
            command="worker",
            cpu=self.phase.worker_task_cpu,
            memory_mb=self.phase.worker_task_memory_mb,
        )
        self._service("worker", definition, count=self.phase.worker_tasks)

    def _fargate_shape(self) -> None:
        phase = self.phase
        role = self._role("web", principal="ecs-tasks.amazonaws.com")
        self._grant_media(role)
        self._grant_search(role, write=False)
        self._grant_table(role, write=False)
        definition = self._task_definition(
            "web",
            role=role,
            command="web",
            cpu=phase.web_task_cpu,
            memory_mb=phase.web_task_memory_mb,
            port=CONTAINER_PORT,
        )
        web = self._service("web", definition, count=phase.web_tasks_min)
        target_group = elbv2.ApplicationTargetGroup(
            self,
            "WebTargets",
            vpc=self.network.vpc,
            port=CONTAINER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            targets=[web.load_balancer_target(container_name="web", container_port=CONTAINER_PORT)],
            health_check=elbv2.HealthCheck(
                enabled=True,
                path=phases.HEALTH_CHECK_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
            ),
            deregistration_delay=Duration.seconds(30),
        )
        target_group.set_attribute("stickiness.enabled", "false")  # stateless: carts live in Redis
        self.target_groups["web"] = target_group
        self._listener_rule(WebRoute("web", ("/*",), 100, phases.PAGE_P95_SECONDS), target_group)

        scaling = web.auto_scale_task_count(min_capacity=phase.web_tasks_min, max_capacity=phase.web_tasks_max)
        self.scalable_targets["web"] = scaling
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=phases.SCALE_OUT_CPU_PERCENT,
            disable_scale_in=True,  # scale-in is the AND rule below
            scale_in_cooldown=Duration.seconds(phases.SCALING_COOLDOWN_SECONDS),
            scale_out_cooldown=Duration.seconds(phases.SCALING_COOLDOWN_SECONDS),
        )
        _request_and_idle_policies(
            scaling,
            requests=target_group.metrics.request_count_per_target(statistic="Sum", period=Duration.minutes(1)),
            utilization=web.metric_cpu_utilization(statistic="Average", period=Duration.minutes(1)),
            utilization_scale=1,
        )

        self._worker_service()
        beat_role = self._role("beat", principal="ecs-tasks.amazonaws.com")
        beat = self._task_definition("beat", role=beat_role, command="beat", cpu=256, memory_mb=512)
        # Exactly one: two beats would send every periodic task twice.
        self._service("beat", beat, count=1)
        # The deploy's one-off tasks (scripts/deploy.sh: migrate, collectstatic, create_staff_user)
        # run from a definition of their own with the manage role: the web tasks never write
        # static files or read the staff password. No service: it runs only when asked.
        manage = self._task_definition(
            "manage",
            role=self._manage_role("ecs-tasks.amazonaws.com"),
            command="migrate",
            cpu=512,
            memory_mb=1024,
            environment=self._manage_environment(),
        )
        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        CfnOutput(self, "WebTaskDefinition", value=definition.task_definition_arn)
        CfnOutput(self, "ManageTaskDefinition", value=manage.task_definition_arn)
        # What `aws ecs run-task --network-configuration` needs for a one-off task (scripts/deploy.sh
        # runs the deploy's commands with it): the app subnets and security group, no public IP.
        subnets = self.network.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnet_ids
        CfnOutput(
            self,
            "TaskNetworkConfiguration",
            value=Fn.join(
                "",
                [
                    "awsvpcConfiguration={subnets=[",
                    Fn.join(",", subnets),
                    "],securityGroups=[",
                    self.network.app_security_group.security_group_id,
                    "],assignPublicIp=DISABLED}",
                ],
            ),
        )


def _grant_bucket_prefix(role: iam.Role, bucket_arn: str, prefix: str, *, write: bool = True) -> None:
    """Objects under ``prefix/`` of the bucket (read; write too unless told not), and listing that prefix only."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] if write else ["s3:GetObject"],
            resources=[f"{bucket_arn}/{prefix}/*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
        )
    )


def _request_and_idle_policies(
    scalable: appscaling.ScalableTarget | ecs.ScalableTaskCount,
    *,
    requests: cloudwatch.IMetric,
    utilization: cloudwatch.IMetric,
    utilization_scale: float,
) -> None:
    """The document's request trigger and its AND-ed scale-in, as two step policies.

    Out: more than SCALE_OUT_REQUESTS_PER_MINUTE requests a minute (CPU/utilization > 70 % is the
    target-tracking policy). In: fewer than SCALE_IN_REQUESTS_PER_MINUTE *and* utilization under
    SCALE_IN_CPU_PERCENT: the larger of the two, each divided by its threshold, is below 1.
    """
    cooldown = Duration.seconds(phases.SCALING_COOLDOWN_SECONDS)
    scalable.scale_on_metric(
        "RequestsOut",
        metric=requests,
        scaling_steps=[
            appscaling.ScalingInterval(upper=phases.SCALE_OUT_REQUESTS_PER_MINUTE, change=0),
            appscaling.ScalingInterval(lower=phases.SCALE_OUT_REQUESTS_PER_MINUTE, change=SCALE_OUT_PERCENT),
        ],
        adjustment_type=appscaling.AdjustmentType.PERCENT_CHANGE_IN_CAPACITY,
        min_adjustment_magnitude=1,
        cooldown=cooldown,
    )
    idle = cloudwatch.MathExpression(
        expression=(
            f"MAX([FILL(requests, 0) / {phases.SCALE_IN_REQUESTS_PER_MINUTE}, "
            f"FILL(utilization, 0) * {utilization_scale} / {phases.SCALE_IN_CPU_PERCENT}])"
        ),
        using_metrics={"requests": requests, "utilization": utilization},
        label="load relative to the scale-in thresholds",
        period=Duration.minutes(1),
    )
    scalable.scale_on_metric(
        "IdleIn",
        metric=idle,
        scaling_steps=[
            appscaling.ScalingInterval(upper=1, change=SCALE_IN_STEP),
            appscaling.ScalingInterval(lower=1, change=0),
        ],
        adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        cooldown=cooldown,
    )
