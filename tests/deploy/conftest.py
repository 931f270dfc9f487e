"""Shared fixtures for the infrastructure tests: each phase's stacks built once per test session.

Building a phase's stacks and rendering their templates takes seconds, so every test module
(test_infra_*.py, test_cost.py) asks these memoising fixtures instead of building its own:
``cdk_stacks("growth")`` returns the phase's `CloudShelfStacks` and ``cdk_template("growth",
"data")`` the `aws_cdk.assertions.Template` of one stack, each made once per (phase, compute).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"
if str(INFRA_DIR) not in sys.path:
    sys.path.insert(0, str(INFRA_DIR))
# jsii prints a banner about Node 20's end of life on every import; it says nothing about us.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from cloudshelf_infra import CloudShelfStacks, build_app  # noqa: E402
from cloudshelf_infra.phases import phase_named  # noqa: E402

STACK_NAMES = ("network", "data", "edge", "app")
CDK_CONTEXT: dict[str, Any] = json.loads((INFRA_DIR / "cdk.json").read_text())["context"]


@cache
def _stacks(phase: str, compute: str) -> CloudShelfStacks:
    # cdk.json's context (the feature flags `make synth` uses, template validation among them);
    # asset staging off: the image asset is fingerprinted but the repository is not copied.
    app = cdk.App(context={**CDK_CONTEXT, "aws:cdk:disable-asset-staging": True})
    return build_app(app, phase=phase_named(phase), compute=compute)


@cache
def _template(phase: str, stack: str, compute: str) -> Template:
    if stack not in STACK_NAMES:
        raise ValueError(f"unknown stack {stack!r}: choose one of {', '.join(STACK_NAMES)}")
    built: Any = getattr(_stacks(phase, compute), stack)
    if built is None:
        raise LookupError(f"the {stack} stack was not built (cloudshelf_infra.app_stack missing?)")
    return Template.from_stack(built)


@pytest.fixture(scope="session")
def cdk_stacks() -> Callable[..., CloudShelfStacks]:
    """``cdk_stacks(phase, compute="lambda")``: the phase's four stacks, built once per session."""

    def get(phase: str, compute: str = "lambda") -> CloudShelfStacks:
        return _stacks(phase, compute)

    return get


@pytest.fixture(scope="session")
def cdk_template() -> Callable[..., Template]:
    """``cdk_template(phase, stack, compute="lambda")``: one stack's Template ("network", "data", "edge", "app")."""

    def get(phase: str, stack: str, compute: str = "lambda") -> Template:
        return _template(phase, stack, compute)

    return get


@pytest.fixture
def aws_lambda() -> Any:
    """``cloudshelf.aws_lambda``, imported inside a test rather than at collection.

    Importing it builds the WSGI application (as a cold start does). At collection the tests'
    settings are not applied yet, so WhiteNoise would look for collected static files, which a
    fresh checkout does not have (and the suite turns its warning into an error).
    """
    from cloudshelf import aws_lambda as module

    return module


@pytest.fixture
def secrets_manager() -> Any:
    """``secrets_manager(value)``: the ARN of a new secret in moto's Secrets Manager, deleted after the test."""
    import boto3

    client = boto3.client("secretsmanager")
    created: list[str] = []

    def create(value: str) -> str:
        arn: str = client.create_secret(Name=f"cloudshelf-test-{uuid.uuid4().hex}", SecretString=value)["ARN"]
        created.append(arn)
        return arn

    yield create
    for arn in created:
        client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
