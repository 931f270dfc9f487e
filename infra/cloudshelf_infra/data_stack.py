"""The stores: RDS Postgres (+ replicas, RDS Proxy), two ElastiCache Redis groups, DynamoDB, OpenSearch.

Every store is encrypted at rest and in transit, lives in the VPC's isolated subnets (OpenSearch:
the private ones) and has a security group of its own that admits only the app's security group
on the store's port. Sizes come from the phase (phases.py).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cloudshelf_infra.network_stack import NetworkStack
from cloudshelf_infra.phases import Phase

POSTGRES_PORT = 5432
REDIS_PORT = 6379
HTTPS_PORT = 443
DATABASE_NAME = "cloudshelf"
DATABASE_USER = "cloudshelf"
# scripts/opensearch.sh tests against 2.19.x; the managed domain runs the same minor line.
OPENSEARCH_VERSION = opensearch.EngineVersion.OPENSEARCH_2_19
POSTGRES_VERSION = rds.PostgresEngineVersion.VER_16_9
# burstable classes (t3/t4g micro and small) do not support Performance Insights.
_NO_PERFORMANCE_INSIGHTS = ("t3.micro", "t3.small", "t4g.micro", "t4g.small")


class DataStack(Stack):
    """Postgres behind RDS Proxy, the cache and durable Redis groups, the hot-data table, search."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        phase: Phase,
        network: NetworkStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.phase = phase
        vpc = network.vpc
        app_sg = network.app_security_group
        durable = phase.name != "mvp"  # growth on: deletion protection, snapshot on removal
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        self.key = kms.Key(
            self,
            "DataKey",
            description="CloudShelf data at rest (RDS, ElastiCache)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if durable else RemovalPolicy.DESTROY,
        )

        # --- Postgres ------------------------------------------------------------------------
        self.database_security_group = _store_security_group(
            self, "DatabaseSecurityGroup", vpc, app_sg, POSTGRES_PORT, "Postgres (RDS Proxy and instances)"
        )
        # The proxy has a group of its own: the app reaches it (and the replicas) on 5432, and only
        # the proxy and the app reach the instances (DatabaseProxy adds the proxy -> instance rules).
        self.proxy_security_group = _store_security_group(
            self, "ProxySecurityGroup", vpc, app_sg, POSTGRES_PORT, "RDS Proxy"
        )
        parameters = rds.ParameterGroup(
            self,
            "DatabaseParameters",
            engine=rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION),
            # The app's own timeouts (DATABASE_*_TIMEOUT_MS defaults, docs/database.md) as the server's
            # defaults: RDS Proxy refuses the libpq `options` the app sends them in elsewhere, so the
            # App stack turns those off (DATABASE_SESSION_OPTIONS=0) and the server applies these.
            parameters={
                "rds.force_ssl": "1",
                "statement_timeout": "15000",
                "lock_timeout": "5000",
                "idle_in_transaction_session_timeout": "60000",
                "log_min_duration_statement": "1000",
            },
        )
        performance_insights = phase.db_instance_type not in _NO_PERFORMANCE_INSIGHTS
        self.database = rds.DatabaseInstance(
            self,
            "Database",
            engine=rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION),
            instance_type=ec2.InstanceType(phase.db_instance_type),
            vpc=vpc,
            vpc_subnets=isolated,
            security_groups=[self.database_security_group],
            publicly_accessible=False,
            multi_az=phase.db_multi_az,
            allocated_storage=phase.db_storage_gb,
            max_allocated_storage=phase.db_storage_gb * 4,
            storage_type=rds.StorageType.GP3,
            storage_encrypted=True,
            storage_encryption_key=self.key,
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(DATABASE_USER),
            parameter_group=parameters,
            backup_retention=Duration.days(phase.db_backup_days),
            deletion_protection=durable,
            removal_policy=RemovalPolicy.SNAPSHOT if durable else RemovalPolicy.DESTROY,
            delete_automated_backups=not durable,
            enable_performance_insights=performance_insights,
            performance_insight_encryption_key=self.key if performance_insights else None,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=["postgresql"],
            cloudwatch_logs_retention=logs.RetentionDays.ONE_MONTH,
            copy_tags_to_snapshot=True,
        )
        assert self.database.secret is not None  # from_generated_secret always makes one
        self.database_secret: secretsmanager.ISecret = self.database.secret
        self.read_replicas: list[rds.DatabaseInstanceReadReplica] = [
            rds.DatabaseInstanceReadReplica(
                self,
                f"ReadReplica{index + 1}",
                source_database_instance=self.database,
                instance_type=ec2.InstanceType(phase.db_instance_type),
                vpc=vpc,
                vpc_subnets=isolated,
                security_groups=[self.database_security_group],
                publicly_accessible=False,
                # a replica of an encrypted instance is encrypted with the same key (RDS rejects
                # StorageEncrypted beside SourceDBInstanceIdentifier in the same region)
                parameter_group=parameters,
                deletion_protection=durable,
                removal_policy=RemovalPolicy.DESTROY,
                enable_performance_insights=performance_insights,
                performance_insight_encryption_key=self.key if performance_insights else None,
            )
            for index in range(phase.db_read_replicas)
        ]
        # The app connects through the proxy: Lambda's many short-lived instances share its pool.
        self.database_proxy = rds.DatabaseProxy(
            self,
            "DatabaseProxy",
            proxy_target=rds.ProxyTarget.from_instance(self.database),
            secrets=[self.database_secret],
            vpc=vpc,
            vpc_subnets=isolated,
            security_groups=[self.proxy_security_group],
            require_tls=True,
            iam_auth=False,
            idle_client_timeout=Duration.minutes(30),
            max_connections_percent=90,
        )

        # --- ElastiCache Redis ------------------------------------------------------------------
        # Both groups: TLS in transit (the app's URLs are rediss://) and a generated AUTH token,
        # simpler than RBAC users for one app with one identity.
        cache_subnets = elasticache.CfnSubnetGroup(
            self,
            "CacheSubnets",
            description="CloudShelf ElastiCache (isolated subnets)",
            subnet_ids=vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids,
        )
        self.cache_security_group = _store_security_group(
            self, "CacheSecurityGroup", vpc, app_sg, REDIS_PORT, "Redis cache"
        )
        self.durable_security_group = _store_security_group(
            self, "DurableSecurityGroup", vpc, app_sg, REDIS_PORT, "Redis durable (carts, sessions, broker)"
        )
        self.cache_auth_secret = _redis_auth_secret(self, "CacheAuthToken")
        self.durable_auth_secret = _redis_auth_secret(self, "DurableAuthToken")

        self.cache_cluster_mode = phase.cache_shards > 1
        cache_parameters = elasticache.CfnParameterGroup(
            self,
            "CacheParameters",
            cache_parameter_group_family="redis7",
            description="CloudShelf cache: evict least recently used keys when full",
            # one family either way; cluster-enabled selects cluster mode (REDIS_CLUSTER=1 in the app)
            properties={"maxmemory-policy": "allkeys-lru"}
            | ({"cluster-enabled": "yes"} if self.cache_cluster_mode else {}),
        )
        cache_multi_az = phase.cache_replicas_per_shard > 0
        self.cache_group = elasticache.CfnReplicationGroup(
            self,
            "Cache",
            replication_group_description="CloudShelf cache (allkeys-lru)",
            engine="redis",
            engine_version="7.1",
            cache_node_type=phase.cache_node_type,
            num_node_groups=phase.cache_shards,
            replicas_per_node_group=phase.cache_replicas_per_shard,
            cache_parameter_group_name=cache_parameters.ref,
            cache_subnet_group_name=cache_subnets.ref,
            security_group_ids=[self.cache_security_group.security_group_id],
            at_rest_encryption_enabled=True,
            kms_key_id=self.key.key_id,
            transit_encryption_enabled=True,
            auth_token=self.cache_auth_secret.secret_value.unsafe_unwrap(),
            automatic_failover_enabled=cache_multi_az or self.cache_cluster_mode,
            multi_az_enabled=cache_multi_az,
            port=REDIS_PORT,
        )
        # The durable role follows the cache into cluster mode (docs/operations.md, "Redis
        # Cluster": REDIS_CLUSTER=1 switches both clients), one shard with its replica. Celery's
        # broker cannot use a cluster (kombu speaks to one node, database 0..n), so in cluster
        # phases it gets a small non-cluster group of its own (`broker_endpoint`); otherwise the
        # broker shares the durable group, as on `make up`.
        self.durable_cluster_mode = self.cache_cluster_mode
        durable_parameters = elasticache.CfnParameterGroup(
            self,
            "DurableParameters",
            cache_parameter_group_family="redis7",
            description="CloudShelf durable Redis: never evict (carts, sessions, Celery broker)",
            properties={"maxmemory-policy": "noeviction"}
            | ({"cluster-enabled": "yes"} if self.durable_cluster_mode else {}),
        )
        durable_multi_az = phase.durable_replicas > 0
        durable_common: dict[str, Any] = {
            "engine": "redis",
            "engine_version": "7.1",
            "cache_node_type": phase.durable_node_type,
            "cache_subnet_group_name": cache_subnets.ref,
            "security_group_ids": [self.durable_security_group.security_group_id],
            "at_rest_encryption_enabled": True,
            "kms_key_id": self.key.key_id,
            "transit_encryption_enabled": True,
            "auth_token": self.durable_auth_secret.secret_value.unsafe_unwrap(),
            "snapshot_retention_limit": phase.db_backup_days if durable else 1,
            "port": REDIS_PORT,
        }
        if self.durable_cluster_mode:
            self.durable_group = elasticache.CfnReplicationGroup(
                self,
                "Durable",
                replication_group_description="CloudShelf durable Redis (noeviction, cluster mode)",
                num_node_groups=1,
                replicas_per_node_group=phase.durable_replicas,
                cache_parameter_group_name=durable_parameters.ref,
                automatic_failover_enabled=True,  # required in cluster mode
                multi_az_enabled=durable_multi_az,
                **durable_common,
            )
            broker_parameters = elasticache.CfnParameterGroup(
                self,
                "BrokerParameters",
                cache_parameter_group_family="redis7",
                description="CloudShelf Celery broker: never evict",
                properties={"maxmemory-policy": "noeviction"},
            )
            self.broker_group: elasticache.CfnReplicationGroup | None = elasticache.CfnReplicationGroup(
                self,
                "Broker",
                replication_group_description="CloudShelf Celery broker (noeviction, one node and its replica)",
                num_cache_clusters=1 + phase.durable_replicas,
                cache_parameter_group_name=broker_parameters.ref,
                automatic_failover_enabled=durable_multi_az,
                multi_az_enabled=durable_multi_az,
                **durable_common,
            )
        else:
            self.durable_group = elasticache.CfnReplicationGroup(
                self,
                "Durable",
                replication_group_description="CloudShelf durable Redis (noeviction)",
                num_cache_clusters=1 + phase.durable_replicas,
                cache_parameter_group_name=durable_parameters.ref,
                automatic_failover_enabled=durable_multi_az,
                multi_az_enabled=durable_multi_az,
                **durable_common,
            )
            self.broker_group = None
        self.cache_endpoint = _endpoint(self.cache_group, cluster_mode=self.cache_cluster_mode)
        self.durable_endpoint = _endpoint(self.durable_group, cluster_mode=self.durable_cluster_mode)
        # host:port of the Celery broker (the durable group's primary unless it is a cluster);
        # it uses the durable group's AUTH token and security group.
        self.broker_endpoint = _endpoint(self.broker_group or self.durable_group, cluster_mode=False)

        # --- DynamoDB (hot book data; layout: docs/hot-data.md) --------------------------------
        self.table = dynamodb.Table(
            self,
            "HotData",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=phase.dynamodb_point_in_time_recovery
            ),
            deletion_protection=durable,
            # a copy of Postgres: rebuilt by `dynamo_sync --backfill`, so deleting it loses nothing
            removal_policy=RemovalPolicy.DESTROY,
        )

        # --- OpenSearch ---------------------------------------------------------------------------
        self.search_security_group = _store_security_group(
            self, "SearchSecurityGroup", vpc, app_sg, HTTPS_PORT, "OpenSearch (HTTPS)"
        )
        zones = min(phase.max_azs, phase.search_instance_count)
        private = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        self.search_domain = opensearch.Domain(
            self,
            "Search",
            version=OPENSEARCH_VERSION,
            capacity=opensearch.CapacityConfig(
                data_node_instance_type=phase.search_instance_type,
                data_nodes=phase.search_instance_count,
                multi_az_with_standby_enabled=False,
            ),
            ebs=opensearch.EbsOptions(volume_size=phase.search_volume_gb, volume_type=ec2.EbsDeviceVolumeType.GP3),
            zone_awareness=opensearch.ZoneAwarenessConfig(enabled=zones > 1, availability_zone_count=zones)
            if zones > 1
            else opensearch.ZoneAwarenessConfig(enabled=False),
            vpc=vpc,
            vpc_subnets=[ec2.SubnetSelection(subnets=private.subnets[:zones])],
            security_groups=[self.search_security_group],
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2,
            # Least privilege: the domain answers only IAM-signed requests from principals in this
            # account that hold es:ESHttp* on it; the App stack grants that to the roles that search.
            access_policies=[
                iam.PolicyStatement(
                    effect=iam.Effect.ALLOW,
                    principals=[iam.AccountRootPrincipal()],
                    actions=["es:ESHttp*"],
                    resources=[f"arn:{Stack.of(self).partition}:es:{self.region}:{self.account}:domain/*"],
                )
            ],
            logging=opensearch.LoggingOptions(slow_search_log_enabled=True, app_log_enabled=True),
            removal_policy=RemovalPolicy.RETAIN if durable else RemovalPolicy.DESTROY,
        )


def _store_security_group(
    scope: Construct, construct_id: str, vpc: ec2.IVpc, app_sg: ec2.ISecurityGroup, port: int, what: str
) -> ec2.SecurityGroup:
    """A store's own group: ingress only from the app's group, on the store's port; no egress needed."""
    group = ec2.SecurityGroup(scope, construct_id, vpc=vpc, description=f"CloudShelf {what}", allow_all_outbound=False)
    group.add_ingress_rule(app_sg, ec2.Port.tcp(port), f"{what} from the app")
    return group


def _endpoint(group: elasticache.CfnReplicationGroup, *, cluster_mode: bool) -> str:
    """host:port the app connects to: the configuration endpoint of a cluster, else the primary's."""
    if cluster_mode:
        return f"{group.attr_configuration_end_point_address}:{group.attr_configuration_end_point_port}"
    return f"{group.attr_primary_end_point_address}:{group.attr_primary_end_point_port}"


def _redis_auth_secret(scope: Construct, construct_id: str) -> secretsmanager.Secret:
    """An AUTH token ElastiCache accepts: 16-128 printable characters, no '@', '"' or '/'."""
    return secretsmanager.Secret(
        scope,
        construct_id,
        description="ElastiCache AUTH token",
        generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=64),
    )
