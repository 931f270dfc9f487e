"""CloudShelf on AWS as code: one CDK app, a stack per concern, sized by growth phase (docs/deploy.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import aws_cdk as cdk

from cloudshelf_infra.app_stack import AppStack
from cloudshelf_infra.data_stack import DataStack
from cloudshelf_infra.edge_stack import EdgeStack
from cloudshelf_infra.network_stack import NetworkStack
from cloudshelf_infra.phases import Phase, phase_named

COMPUTE_SHAPES = ("lambda", "fargate")
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class CloudShelfStacks:
    network: NetworkStack
    data: DataStack
    edge: EdgeStack
    app: AppStack


def compute_named(name: str | None) -> str:
    """The compute shape called ``name`` (default lambda, the document's choice), or a clear error."""
    shape = (name or "lambda").strip().lower()
    if shape not in COMPUTE_SHAPES:
        raise ValueError(f"unknown compute {name!r}: choose one of {', '.join(COMPUTE_SHAPES)}")
    return shape


def build_app(
    app: cdk.App,
    *,
    phase: Phase,
    compute: str = "lambda",
    certificate_arn: str | None = None,
    domain_name: str | None = None,
    alarm_email: str | None = None,
) -> CloudShelfStacks:
    """Add the four stacks of ``phase`` to ``app``, in dependency order Network -> Data -> Edge -> App.

    Stacks are environment-agnostic except the region (CDK_DEFAULT_REGION, default us-east-1):
    nothing looks anything up, so synth runs offline.
    """
    compute = compute_named(compute)
    if bool(certificate_arn) != bool(domain_name):
        raise ValueError("certificate_arn and domain_name go together: give both or neither")
    env = cdk.Environment(region=os.environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION)
    prefix = f"CloudShelf-{phase.name}"
    tags = {"project": "cloudshelf", "phase": phase.name}

    network = NetworkStack(app, f"{prefix}-Network", phase=phase, env=env)
    data = DataStack(app, f"{prefix}-Data", phase=phase, network=network, env=env)
    edge = EdgeStack(
        app,
        f"{prefix}-Edge",
        phase=phase,
        network=network,
        certificate_arn=certificate_arn,
        domain_name=domain_name,
        env=env,
    )
    app_stack = AppStack(
        app,
        f"{prefix}-App",
        phase=phase,
        compute=compute,
        network=network,
        data=data,
        edge=edge,
        alarm_email=alarm_email,
        domain_name=domain_name,
        env=env,
    )
    for stack in (network, data, edge, app_stack):
        for key, value in tags.items():
            # RDS Proxy target groups take no tags (CloudFormation rejects them)
            cdk.Tags.of(stack).add(key, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])
    return CloudShelfStacks(network=network, data=data, edge=edge, app=app_stack)


def build_from_context(app: cdk.App) -> CloudShelfStacks:
    """The stacks the context asks for (`-c phase=... -c compute=...`); a clear error for a bad value."""
    phase_name = app.node.try_get_context("phase")
    if not phase_name:
        raise ValueError("context 'phase' is required: cdk synth -c phase=mvp|growth|scale")
    return build_app(
        app,
        phase=phase_named(str(phase_name)),
        compute=compute_named(app.node.try_get_context("compute")),
        certificate_arn=app.node.try_get_context("certificate_arn") or None,
        domain_name=app.node.try_get_context("domain_name") or None,
        alarm_email=app.node.try_get_context("alarm_email") or None,
    )
