"""The VPC, the internal load balancer and the security group the app runs in.

The ALB is internal, in the app's private subnets: CloudFront reaches it through a VPC origin
(Edge stack), so the hop from CloudFront to the ALB never crosses the internet and nothing else
on the internet can reach the ALB at all. TLS ends at CloudFront (the site's certificate is the
Edge stack's); inside the VPC the ALB listens on plain HTTP.

The ALB lives here rather than in the App stack because it is the edge's origin: the Edge stack
needs its DNS name and the App stack needs the distribution, so with the ALB here every
cross-stack reference points one way (Network -> Data -> Edge -> App; docs/deploy.md).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cloudshelf_infra.phases import Phase

ORIGIN_VERIFY_HEADER = "X-Origin-Verify"

# Rejected flow records only: they answer "what is being blocked" for a fraction of the cost of
# logging every accepted packet (CloudWatch ingestion is priced per GB).
FLOW_LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class NetworkStack(Stack):
    """VPC (public, private-with-egress and isolated subnets), ALB + listener, app security group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        phase: Phase,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.phase = phase

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            # Named zones, not max_azs: an environment-agnostic stack can only see two zones
            # without a context lookup (synth must run offline). Letters a-c exist in us-east-1
            # and most regions; check `aws ec2 describe-availability-zones` for another region.
            availability_zones=None
            if Token.is_unresolved(self.region)
            else [f"{self.region}{letter}" for letter in "abcdef"[: phase.max_azs]],
            max_azs=phase.max_azs if Token.is_unresolved(self.region) else None,
            nat_gateways=phase.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20),
                ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
        )
        # Gateway endpoints are free and keep S3 and DynamoDB traffic off the NAT gateway
        # (which charges per GB processed).
        self.vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.vpc.add_gateway_endpoint("DynamoDbEndpoint", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
        flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=FLOW_LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.vpc.add_flow_log(
            "RejectedFlows",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )

        self.app_security_group = ec2.SecurityGroup(
            self,
            "AppSecurityGroup",
            vpc=self.vpc,
            description="CloudShelf app compute (Lambda functions, Fargate tasks)",
            allow_all_outbound=True,
        )
        alb_security_group = ec2.SecurityGroup(
            self,
            "AlbSecurityGroup",
            vpc=self.vpc,
            description="CloudShelf internal ALB: HTTP from the VPC (CloudFront VPC origin), origin-verify header",
            allow_all_outbound=False,
        )
        self.alb_security_group = alb_security_group
        # The ALB forwards to the app: Fargate tasks on 8000 (Lambda targets need no rule).
        alb_security_group.add_egress_rule(self.app_security_group, ec2.Port.tcp(8000), "to app tasks")
        self.app_security_group.add_ingress_rule(alb_security_group, ec2.Port.tcp(8000), "from the ALB")

        # The header CloudFront adds and every App listener rule requires: the ALB answers only
        # CloudFront. Generated, never in the template; rotate by updating the secret and redeploying.
        self.origin_verify_header = ORIGIN_VERIFY_HEADER
        self.origin_verify_secret = secretsmanager.Secret(
            self,
            "OriginVerifySecret",
            description="Value of the X-Origin-Verify header CloudFront sends to the ALB",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=48),
        )

        growth_or_later = phase.name != "mvp"
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=self.vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_group=alb_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=growth_or_later,
            http2_enabled=True,
            idle_timeout=Duration.seconds(60),
        )
        # CloudFront's VPC origin reaches the ALB through network interfaces it places in these
        # subnets, from a security group CloudFront creates and names itself (not known before the
        # deploy), so the rule admits the VPC's own range; nothing outside the VPC can reach an
        # internal ALB, and the listener still wants the origin-verify header.
        alb_security_group.add_ingress_rule(ec2.Peer.ipv4(self.vpc.vpc_cidr_block), ec2.Port.tcp(80), "HTTP in the VPC")
        self.listener = self.alb.add_listener(
            "Listener",
            port=80,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,
            default_action=_forbidden(),
        )


def _forbidden() -> elbv2.ListenerAction:
    """The default action: anything without the origin-verify header did not come through CloudFront."""
    return elbv2.ListenerAction.fixed_response(403, content_type="text/plain", message_body="Forbidden")
