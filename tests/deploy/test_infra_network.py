"""The Network stack: the VPC each phase asks for, the ALB that answers only CloudFront."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match
from cloudshelf_infra import build_from_context
from cloudshelf_infra.phases import GROWTH, PHASES

from tests.deploy.conftest import INFRA_DIR

PHASE_NAMES = list(PHASES)


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_vpc_has_the_phases_zones_and_nat_gateways(cdk_template, phase):
    template = cdk_template(phase, "network")
    zones = PHASES[phase].max_azs
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::Subnet", 3 * zones)  # public, app, data in each zone
    template.resource_count_is("AWS::EC2::NatGateway", PHASES[phase].nat_gateways)


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_s3_and_dynamodb_traffic_skips_the_nat_through_gateway_endpoints(cdk_template, phase):
    endpoints = cdk_template(phase, "network").find_resources(
        "AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}}
    )
    services = sorted(str(endpoint["Properties"]["ServiceName"]) for endpoint in endpoints.values())
    assert len(services) == 2
    assert ".dynamodb" in services[0]
    assert ".s3" in services[1]


def test_rejected_flows_are_logged_with_a_retention(cdk_template):
    template = cdk_template("mvp", "network")
    template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "REJECT"})
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_alb_is_internal_drops_invalid_headers_and_is_protected_from_growth_on(cdk_template, phase):
    """CloudFront reaches it through a VPC origin: the ALB has no public address at all."""
    cdk_template(phase, "network").has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "Scheme": "internal",
            "LoadBalancerAttributes": Match.array_with(
                [
                    {"Key": "deletion_protection.enabled", "Value": "false" if phase == "mvp" else "true"},
                    {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
                ]
            ),
        },
    )


@pytest.mark.parametrize("phase", PHASE_NAMES)
def test_listener_answers_403_unless_a_rule_matches_the_origin_verify_header(cdk_template, phase):
    cdk_template(phase, "network").has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {
                        "StatusCode": "403",
                        "ContentType": "text/plain",
                        "MessageBody": "Forbidden",
                    },
                }
            ],
        },
    )


def test_origin_verify_secret_is_generated_never_written_in_the_template(cdk_stacks, cdk_template):
    network = cdk_stacks("mvp").network
    assert network.origin_verify_header == "X-Origin-Verify"
    cdk_template("mvp", "network").has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": {"ExcludePunctuation": True, "PasswordLength": 48}, "SecretString": Match.absent()},
    )


def test_alb_security_group_admits_only_http_from_inside_the_vpc_and_reaches_only_the_app(cdk_template):
    template = cdk_template("growth", "network")
    (vpc_id,) = template.find_resources("AWS::EC2::VPC")
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("CloudShelf internal ALB"),
            "SecurityGroupIngress": [
                {
                    "CidrIp": {"Fn::GetAtt": [vpc_id, "CidrBlock"]},
                    "FromPort": 80,
                    "ToPort": 80,
                    "IpProtocol": "tcp",
                    "Description": "HTTP in the VPC",
                }
            ],
            "SecurityGroupEgress": Match.absent(),
        },
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress", {"FromPort": 8000, "ToPort": 8000, "IpProtocol": "tcp"}
    )
    assert "0.0.0.0/0" not in json.dumps(
        [
            group["Properties"].get("SecurityGroupIngress")
            for group in template.find_resources("AWS::EC2::SecurityGroup").values()
        ]
    )


def test_stacks_are_named_by_phase_and_depend_one_way(cdk_stacks):
    stacks = cdk_stacks("growth")
    assert [stacks.network.stack_name, stacks.data.stack_name, stacks.edge.stack_name] == [
        "CloudShelf-growth-Network",
        "CloudShelf-growth-Data",
        "CloudShelf-growth-Edge",
    ]
    assert stacks.network in stacks.data.dependencies
    assert stacks.network in stacks.edge.dependencies
    assert stacks.data not in stacks.network.dependencies
    assert stacks.edge not in stacks.data.dependencies
    assert stacks.edge not in stacks.network.dependencies


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({}, "context 'phase' is required"),
        ({"phase": ""}, "context 'phase' is required"),
        ({"phase": "enterprise"}, "unknown phase 'enterprise': choose one of mvp, growth, scale"),
        ({"phase": "mvp; rm -rf /"}, "unknown phase 'mvp; rm -rf /'"),
        ({"phase": "x" * 10_000}, "unknown phase 'xxxx"),
        ({"phase": "mvp", "compute": "ec2"}, "unknown compute 'ec2': choose one of lambda, fargate"),
        ({"phase": "mvp", "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"}, "go together"),
    ],
)
def test_bad_context_is_a_clear_error_and_adds_no_stack(context, message):
    app = cdk.App(context=context)
    with pytest.raises(ValueError, match=re.escape(message)):
        build_from_context(app)
    assert app.node.children == []


def test_compute_default_is_lambda_and_phase_names_ignore_case_and_spaces():
    from cloudshelf_infra import compute_named
    from cloudshelf_infra.phases import phase_named

    assert compute_named(None) == "lambda"
    assert compute_named(" Fargate ") == "fargate"
    assert phase_named(" GROWTH ") is GROWTH


def test_app_entry_point_refuses_a_bad_phase_with_exit_2_and_synthesizes_nothing(tmp_path):
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps({"phase": "enterprise"}),
        "CDK_OUTDIR": str(tmp_path / "out"),
    }
    result = subprocess.run(
        [sys.executable, str(INFRA_DIR / "app.py")],
        cwd=INFRA_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "error: unknown phase 'enterprise': choose one of mvp, growth, scale" in result.stderr
    assert list((tmp_path / "out").glob("*")) == []  # the App makes the directory; nothing in it
