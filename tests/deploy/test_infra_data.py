"""The Data stack: every store encrypted, private, reachable only from the app, sized by phase."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from cloudshelf_infra.phases import PHASES

PHASE_NAMES = list(PHASES)
APP_SG_OUTPUT = Match.object_like(
    {"Fn::GetStackOutput": Match.object_like({"OutputName": Match.string_like_regexp("AppSecurityGroup.*GroupId")})}
)


def _primary(template):
    instances = template.find_resources("AWS::RDS::DBInstance")
    return [
        props["Properties"] for props in instances.values() if "SourceDBInstanceIdentifier" not in props["Properties"]
    ]


def _replicas(template):
    instances = template.find_resources("AWS::RDS::DBInstance")
    return [props["Properties"] for props in instances.values() if "SourceDBInstanceIdentifier" in props["Properties"]]


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_postgres_is_encrypted_private_and_sized_by_the_phase(cdk_template, phase):
    sizes = PHASES[phase]
    (primary,) = _primary(cdk_template(phase, "data"))
    assert primary["Engine"] == "postgres"
    assert primary["EngineVersion"].startswith("16.")
    assert primary["StorageEncrypted"] is True
    assert "Fn::GetAtt" in primary["KmsKeyId"]
    assert primary["PubliclyAccessible"] is False
    assert primary["DBInstanceClass"] == f"db.{sizes.db_instance_type}"
    assert primary["MultiAZ"] is sizes.db_multi_az
    assert primary["AllocatedStorage"] == str(sizes.db_storage_gb)
    assert primary["BackupRetentionPeriod"] == sizes.db_backup_days
    assert primary["DeletionProtection"] is (phase != "mvp")
    assert primary.get("EnablePerformanceInsights", False) is (phase != "mvp")  # not on t3.micro


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_database_is_kept_as_a_snapshot_from_growth_on(cdk_template, phase):
    instances = cdk_template(phase, "data").find_resources("AWS::RDS::DBInstance")
    (primary,) = [r for r in instances.values() if "SourceDBInstanceIdentifier" not in r["Properties"]]
    assert primary["DeletionPolicy"] == ("Delete" if phase == "mvp" else "Snapshot")


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_read_replicas_follow_the_encrypted_primary_and_are_private(cdk_template, phase):
    replicas = _replicas(cdk_template(phase, "data"))
    assert len(replicas) == PHASES[phase].db_read_replicas
    for replica in replicas:
        # same-region replicas inherit the primary's encryption and key (RDS refuses the property)
        assert replica["SourceDBInstanceIdentifier"]["Fn::Join"][1][-1]["Ref"].startswith("Database")
        assert "StorageEncrypted" not in replica
        assert replica["PubliclyAccessible"] is False
        assert replica["DBInstanceClass"] == f"db.{PHASES[phase].db_instance_type}"


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_databases_live_in_the_isolated_subnets(cdk_template, phase):
    groups = cdk_template(phase, "data").find_resources("AWS::RDS::DBSubnetGroup")
    assert len(groups) == 1 + PHASES[phase].db_read_replicas
    for group in groups.values():
        names = [subnet["Fn::GetStackOutput"]["OutputName"] for subnet in group["Properties"]["SubnetIds"]]
        assert len(names) == PHASES[phase].max_azs
        assert all("VpcdataSubnet" in name for name in names), names


def test_parameter_group_forces_tls_and_holds_the_apps_timeouts(cdk_template):
    """RDS Proxy refuses the libpq options the app sends its timeouts in elsewhere: the server
    applies the same defaults (settings' DATABASE_*_TIMEOUT_MS) instead."""
    parameters = cdk_template("mvp", "data").find_resources("AWS::RDS::DBParameterGroup")
    (group,) = parameters.values()
    values = group["Properties"]["Parameters"]
    assert values["rds.force_ssl"] == "1"
    assert (values["statement_timeout"], values["lock_timeout"], values["idle_in_transaction_session_timeout"]) == (
        "15000",
        "5000",
        "60000",
    )


def test_postgres_logs_go_to_cloudwatch_and_expire_after_a_month(cdk_template):
    template = cdk_template("mvp", "data")
    (primary,) = _primary(template)
    assert primary["EnableCloudwatchLogsExports"] == ["postgresql"]
    template.has_resource_properties("Custom::LogRetention", {"RetentionInDays": 30})


def test_rds_proxy_requires_tls_and_uses_the_secret_without_iam_auth(cdk_template):
    cdk_template("growth", "data").has_resource_properties(
        "AWS::RDS::DBProxy",
        {
            "EngineFamily": "POSTGRESQL",
            "RequireTLS": True,
            "Auth": [Match.object_like({"AuthScheme": "SECRETS", "IAMAuth": "DISABLED"})],
        },
    )


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_both_redis_groups_encrypt_at_rest_and_in_transit_with_an_auth_token(cdk_template, phase):
    groups = cdk_template(phase, "data").find_resources("AWS::ElastiCache::ReplicationGroup")
    assert len(groups) == (3 if PHASES[phase].cache_shards > 1 else 2)  # + the broker in cluster phases
    for group in groups.values():
        props = group["Properties"]
        assert props["AtRestEncryptionEnabled"] is True
        assert props["TransitEncryptionEnabled"] is True
        assert "{{resolve:secretsmanager:" in json.dumps(props["AuthToken"])
        assert props["Engine"] == "redis"


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_cache_group_evicts_lru_and_has_the_phases_shards_and_replicas(cdk_template, cdk_stacks, phase):
    sizes = PHASES[phase]
    template = cdk_template(phase, "data")
    template.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "ReplicationGroupDescription": Match.string_like_regexp("cache"),
            "CacheNodeType": sizes.cache_node_type,
            "NumNodeGroups": sizes.cache_shards,
            "ReplicasPerNodeGroup": sizes.cache_replicas_per_shard,
            "MultiAZEnabled": sizes.cache_replicas_per_shard > 0,
        },
    )
    expected = {"maxmemory-policy": "allkeys-lru"} | ({"cluster-enabled": "yes"} if sizes.cache_shards > 1 else {})
    template.has_resource_properties("AWS::ElastiCache::ParameterGroup", {"Properties": expected})
    assert cdk_stacks(phase).data.cache_cluster_mode is (sizes.cache_shards > 1)


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_durable_group_never_evicts_and_fails_over_to_its_replica(cdk_template, cdk_stacks, phase):
    sizes = PHASES[phase]
    cluster = sizes.cache_shards > 1  # the durable role follows the cache into cluster mode
    template = cdk_template(phase, "data")
    size = (
        {"NumNodeGroups": 1, "ReplicasPerNodeGroup": sizes.durable_replicas}
        if cluster
        else {"NumCacheClusters": 1 + sizes.durable_replicas}
    )
    template.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "ReplicationGroupDescription": Match.string_like_regexp("durable"),
            "CacheNodeType": sizes.durable_node_type,
            "AutomaticFailoverEnabled": sizes.durable_replicas > 0,
            "MultiAZEnabled": sizes.durable_replicas > 0,
        }
        | size,
    )
    durable = {"maxmemory-policy": "noeviction"} | ({"cluster-enabled": "yes"} if cluster else {})
    template.has_resource_properties("AWS::ElastiCache::ParameterGroup", {"Properties": durable})
    assert cdk_stacks(phase).data.durable_cluster_mode is cluster


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_celery_broker_has_a_non_cluster_group_of_its_own_only_when_durable_is_a_cluster(
    cdk_template, cdk_stacks, phase
):
    data = cdk_stacks(phase).data
    groups = cdk_template(phase, "data").find_resources("AWS::ElastiCache::ReplicationGroup")
    brokers = [
        g["Properties"] for g in groups.values() if "Celery broker" in g["Properties"]["ReplicationGroupDescription"]
    ]
    if data.durable_cluster_mode:
        (broker,) = brokers
        assert broker["NumCacheClusters"] == 1 + PHASES[phase].durable_replicas
        assert "NumNodeGroups" not in broker
        assert broker["TransitEncryptionEnabled"] is True
        assert data.broker_endpoint != data.durable_endpoint
    else:
        assert brokers == []
        assert data.broker_endpoint == data.durable_endpoint


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_hot_data_table_has_the_apps_keys_on_demand_encrypted_with_pitr_per_phase(cdk_template, phase):
    cdk_template(phase, "data").has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {
                "PointInTimeRecoveryEnabled": PHASES[phase].dynamodb_point_in_time_recovery
            },
            "GlobalSecondaryIndexes": Match.absent(),  # docs/hot-data.md: no secondary index
        },
    )


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_opensearch_is_encrypted_https_only_in_the_vpc_and_sized_by_the_phase(cdk_template, phase):
    sizes = PHASES[phase]
    cdk_template(phase, "data").has_resource_properties(
        "AWS::OpenSearchService::Domain",
        {
            "EngineVersion": "OpenSearch_2.19",
            "EncryptionAtRestOptions": {"Enabled": True},
            "NodeToNodeEncryptionOptions": {"Enabled": True},
            "DomainEndpointOptions": {"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-2019-07"},
            "ClusterConfig": Match.object_like(
                {
                    "InstanceType": sizes.search_instance_type,
                    "InstanceCount": sizes.search_instance_count,
                    "ZoneAwarenessEnabled": True,
                    "ZoneAwarenessConfig": {"AvailabilityZoneCount": 2},
                }
            ),
            "EBSOptions": Match.object_like({"VolumeSize": sizes.search_volume_gb}),
            "VPCOptions": Match.object_like({"SubnetIds": Match.any_value()}),
        },
    )


def test_opensearch_answers_only_signed_requests_from_this_account(cdk_template):
    policies = cdk_template("mvp", "data").find_resources("Custom::OpenSearchAccessPolicy")
    (policy,) = policies.values()
    text = json.dumps(policy["Properties"])
    assert "es:ESHttp*" in text
    assert ':root"' in text or ":root" in text
    assert '\\"AWS\\":\\"*\\"' not in text


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_store_security_groups_admit_only_the_app_and_the_proxy(cdk_template, phase):
    template = cdk_template(phase, "data")
    for group in template.find_resources("AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]  # no inline (CIDR) rules
    rules = [r["Properties"] for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()]
    ports = sorted((rule["FromPort"], rule["Description"]) for rule in rules if "AppSecurityGroup" in json.dumps(rule))
    assert [port for port, _ in ports] == [443, 5432, 5432, 6379, 6379]
    others = [rule for rule in rules if "AppSecurityGroup" not in json.dumps(rule)]
    assert len(others) == 1
    assert "ProxySecurityGroup" in json.dumps(others[0]["SourceSecurityGroupId"])
    assert all("CidrIp" not in rule for rule in rules)
