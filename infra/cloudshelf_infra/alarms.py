"""The App stack's alarms: the document's thresholds, to one SNS topic (e-mail when `alarm_email` is set).

Response time p95 per target group (page 2 s, api 1 s, cart 0.2 s: phases.py), 5xx rate, Lambda
errors, throttles and p95 duration (the document's 5-second alert), RDS CPU and free storage, the
durable Redis group's memory and evictions, OpenSearch cluster status and free storage, and any
message in the schedule's dead-letter queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

if TYPE_CHECKING:
    from cloudshelf_infra.app_stack import AppStack

# Share of a target group's requests answered 5xx by the app, over 5 minutes.
TARGET_5XX_RATE_PERCENT = 1.0
# Lambda: any throttle means reserved concurrency is too small; errors beyond a stray one are news.
LAMBDA_ERRORS_PER_5_MINUTES = 5
LAMBDA_THROTTLES_PER_5_MINUTES = 1
# The document's server-side alert: a function running longer than 5 seconds (p95).
LAMBDA_DURATION_P95_MS = 5_000
RDS_CPU_PERCENT = 80
# Free storage below this share of the allocated size (autoscaling storage grows it, but watch).
RDS_FREE_STORAGE_SHARE = 0.10
# The durable group never evicts (noeviction): a write fails when it is full, so warn early.
DURABLE_MEMORY_PERCENT = 75
DURABLE_EVICTIONS = 1
# OpenSearch blocks writes at 95 % disk: warn at a quarter of the volume left.
SEARCH_FREE_STORAGE_SHARE = 0.25
DLQ_MESSAGES = 1

FIVE_MINUTES = Duration.minutes(5)


class AppAlarms(Construct):
    """Every alarm of the app, each sending to ``topic``."""

    def __init__(self, scope: Construct, construct_id: str, *, app: AppStack, alarm_email: str | None) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(scope, "AlarmTopic", display_name=f"CloudShelf {app.phase.name} alarms")
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._action = cloudwatch_actions.SnsAction(self.topic)

        for name, target_group in app.target_groups.items():
            self._alarm(
                f"{name}-p95",
                target_group.metrics.target_response_time(statistic="p95", period=FIVE_MINUTES),
                threshold=app.response_time_targets[name],
                description=f"{name}: p95 response time above its target",
            )
            errors = target_group.metrics.http_code_target(
                code=elbv2.HttpCodeTarget.TARGET_5XX_COUNT, statistic="Sum", period=FIVE_MINUTES
            )
            requests = target_group.metrics.request_count(statistic="Sum", period=FIVE_MINUTES)
            self._alarm(
                f"{name}-5xx-rate",
                cloudwatch.MathExpression(
                    expression="IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
                    using_metrics={"errors": errors, "requests": requests},
                    period=FIVE_MINUTES,
                    label=f"{name} 5xx %",
                ),
                threshold=TARGET_5XX_RATE_PERCENT,
                description=f"{name}: more than {TARGET_5XX_RATE_PERCENT} % of requests answered 5xx",
            )

        for name, function in app.functions.items():
            self._alarm(
                f"{name}-errors",
                function.metric_errors(statistic="Sum", period=FIVE_MINUTES),
                threshold=LAMBDA_ERRORS_PER_5_MINUTES,
                description=f"{name}: function errors",
            )
            self._alarm(
                f"{name}-throttles",
                function.metric_throttles(statistic="Sum", period=FIVE_MINUTES),
                threshold=LAMBDA_THROTTLES_PER_5_MINUTES,
                description=f"{name}: throttled (reserved concurrency reached)",
            )
            if name != "manage":  # migrate may rightly take minutes
                self._alarm(
                    f"{name}-duration-p95",
                    function.metric_duration(statistic="p95", period=FIVE_MINUTES),
                    threshold=LAMBDA_DURATION_P95_MS,
                    description=f"{name}: p95 duration above 5 s",
                )

        data = app.data
        self._alarm(
            "rds-cpu",
            data.database.metric_cpu_utilization(period=FIVE_MINUTES),
            threshold=RDS_CPU_PERCENT,
            description="RDS primary CPU above 80 %",
        )
        self._alarm(
            "rds-free-storage",
            data.database.metric_free_storage_space(period=FIVE_MINUTES),
            threshold=app.phase.db_storage_gb * RDS_FREE_STORAGE_SHARE * 1024**3,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            description="RDS free storage below 10 % of the allocated size",
        )
        # ElastiCache publishes per node: the durable group's primary is its first node (in cluster
        # mode, the first node of its one shard).
        first_node = "-0001-001" if data.durable_cluster_mode else "-001"
        durable_primary = {"CacheClusterId": f"{data.durable_group.ref}{first_node}"}
        self._alarm(
            "durable-memory",
            cloudwatch.Metric(
                namespace="AWS/ElastiCache",
                metric_name="DatabaseMemoryUsagePercentage",
                dimensions_map=durable_primary,
                statistic="Maximum",
                period=FIVE_MINUTES,
            ),
            threshold=DURABLE_MEMORY_PERCENT,
            description="Durable Redis (carts, sessions, broker) memory above 75 %: it never evicts",
        )
        self._alarm(
            "durable-evictions",
            cloudwatch.Metric(
                namespace="AWS/ElastiCache",
                metric_name="Evictions",
                dimensions_map=durable_primary,
                statistic="Sum",
                period=FIVE_MINUTES,
            ),
            threshold=DURABLE_EVICTIONS,
            description="Durable Redis evicted keys (carts or sessions lost)",
        )
        if data.broker_group is not None:  # the Celery broker's own group (cluster phases)
            self._alarm(
                "broker-memory",
                cloudwatch.Metric(
                    namespace="AWS/ElastiCache",
                    metric_name="DatabaseMemoryUsagePercentage",
                    dimensions_map={"CacheClusterId": f"{data.broker_group.ref}-001"},
                    statistic="Maximum",
                    period=FIVE_MINUTES,
                ),
                threshold=DURABLE_MEMORY_PERCENT,
                description="Celery broker Redis memory above 75 %: queued tasks would be refused",
            )
        search = data.search_domain
        self._alarm(
            "search-red",
            search.metric_cluster_status_red(period=Duration.minutes(1)),
            threshold=1,
            description="OpenSearch cluster red: a primary shard is unassigned",
        )
        self._alarm(
            "search-yellow",
            search.metric_cluster_status_yellow(period=Duration.minutes(1)),
            threshold=1,
            evaluation_periods=5,
            description="OpenSearch cluster yellow for 5 minutes: a replica is unassigned",
        )
        self._alarm(
            "search-free-storage",
            search.metric_free_storage_space(period=FIVE_MINUTES),
            # FreeStorageSpace is in megabytes, per node (the metric's minimum across nodes).
            threshold=app.phase.search_volume_gb * 1024 * SEARCH_FREE_STORAGE_SHARE,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            description="OpenSearch free storage below a quarter of a node's volume",
        )
        if app.schedule_dlq is not None:
            self._alarm(
                "schedule-dlq",
                app.schedule_dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
                threshold=DLQ_MESSAGES,
                description="A scheduled task failed after its retries (see the dead-letter queue)",
            )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods: int = 1,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        self.alarms[name] = alarm
