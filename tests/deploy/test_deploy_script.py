"""scripts/deploy.sh: its arguments and the commands it runs, checked with --dry-run (no AWS here)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "deploy.sh"


def deploy(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CERTIFICATE_ARN", "DOMAIN_NAME", "STAFF_EMAIL", "STAFF_USERNAME"}
    }
    return subprocess.run(
        [str(SCRIPT), *args], env=env | environment, capture_output=True, text=True, timeout=30, check=False
    )


def commands(result: subprocess.CompletedProcess[str]) -> list[list[str]]:
    """Each command the script ran (or would run), as its argument list (it prints them shell-quoted)."""
    return [shlex.split(line[2:]) for line in result.stderr.splitlines() if line.startswith("+ ")]


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_a_lambda_deploy_bootstraps_deploys_every_stack_then_migrates_and_collects_static():
    result = deploy("growth", "--dry-run")

    assert result.returncode == 0, result.stderr
    bootstrap, stacks, migrate, collectstatic = commands(result)
    assert bootstrap == ["node_modules/.bin/cdk", "bootstrap", "-c", "phase=growth", "-c", "compute=lambda"]
    assert stacks[:8] == [
        "node_modules/.bin/cdk",
        "deploy",
        "--all",
        "-c",
        "phase=growth",
        "-c",
        "compute=lambda",
        "--require-approval",
    ]
    assert option(stacks, "--require-approval") == "broadening"  # IAM or network widening waits for a yes
    for command, name in ((migrate, "migrate"), (collectstatic, "collectstatic")):
        assert command[:3] == ["aws", "lambda", "invoke"]
        assert option(command, "--function-name") == "<ManageFunctionName>"
        assert json.loads(option(command, "--payload")) == {"command": name}
    assert "nothing was run" in result.stderr
    assert "staff user" not in result.stderr  # no STAFF_EMAIL: no staff user step


def test_with_staff_email_the_first_staff_user_is_made_after_the_migrations():
    result = deploy("mvp", "--dry-run", STAFF_EMAIL="ops@example.com")

    assert result.returncode == 0, result.stderr
    *_, migrate, collectstatic, staff = commands(result)
    assert [json.loads(option(command, "--payload"))["command"] for command in (migrate, collectstatic)] == [
        "migrate",
        "collectstatic",
    ]
    # The answer is checked for FunctionError: `aws lambda invoke` exits 0 when the function raised.
    assert (option(staff, "--query"), option(staff, "--output")) == ("FunctionError", "text")
    assert json.loads(option(staff, "--payload")) == {
        "command": "create_staff_user",
        "args": ["--username", "admin", "--email", "ops@example.com"],
    }
    assert "signs in at /admin/ with the password in the secret StaffPasswordSecretArn" in result.stderr


def test_the_fargate_shape_makes_the_staff_user_in_a_manage_task_too():
    result = deploy("growth", "--compute", "fargate", "--dry-run", STAFF_EMAIL="ops@example.com", STAFF_USERNAME="ops")

    assert result.returncode == 0, result.stderr
    run_tasks = [command for command in commands(result) if command[:3] == ["aws", "ecs", "run-task"]]
    assert json.loads(option(run_tasks[-1], "--overrides"))["containerOverrides"] == [
        {
            "name": "manage",
            "command": ["manage", "create_staff_user", "--username", "ops", "--email", "ops@example.com"],
        }
    ]


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"STAFF_EMAIL": "not-an-address"}, "STAFF_EMAIL must be an e-mail address"),
        ({"STAFF_EMAIL": 'ops@example.com", "args": ["--reset-password'}, "STAFF_EMAIL must be an e-mail address"),
        ({"STAFF_EMAIL": "ops@example.com --reset-password"}, "STAFF_EMAIL must be an e-mail address"),
        ({"STAFF_EMAIL": "a" * 300 + "@example.com"}, "STAFF_EMAIL must be an e-mail address"),
        ({"STAFF_EMAIL": "ops@example.com", "STAFF_USERNAME": "ad min"}, "STAFF_USERNAME may hold"),
        ({"STAFF_EMAIL": "ops@example.com", "STAFF_USERNAME": 'x"}'}, "STAFF_USERNAME may hold"),
        ({"STAFF_EMAIL": "ops@example.com", "STAFF_USERNAME": "a" * 151}, "STAFF_USERNAME may hold"),
        ({"STAFF_EMAIL": "ops@example.com", "STAFF_USERNAME": "--reset-password"}, "STAFF_USERNAME may hold"),
    ],
)
def test_a_bad_staff_email_or_name_is_refused_before_anything_runs(environment, message):
    result = deploy("growth", "--dry-run", **environment)

    assert result.returncode == 2
    assert message in result.stderr
    assert commands(result) == []


def test_a_fargate_deploy_runs_migrate_and_collectstatic_as_one_off_manage_tasks():
    result = deploy("scale", "--compute", "fargate", "--dry-run", APPROVAL="never")

    assert result.returncode == 0, result.stderr
    ran = commands(result)
    assert "compute=fargate" in ran[1]
    assert option(ran[1], "--require-approval") == "never"
    run_tasks = [command for command in ran if command[:3] == ["aws", "ecs", "run-task"]]
    overrides = [json.loads(option(command, "--overrides"))["containerOverrides"] for command in run_tasks]
    assert overrides == [
        [{"name": "manage", "command": ["migrate"]}],
        [{"name": "manage", "command": ["manage", "collectstatic", "--no-input"]}],
    ]
    # The manage task definition (its role writes static files; the web tasks' does not).
    assert {option(command, "--task-definition") for command in run_tasks} == {"<ManageTaskDefinition>"}
    assert all(option(command, "--network-configuration") == "<TaskNetworkConfiguration>" for command in run_tasks)
    assert sum(command[:4] == ["aws", "ecs", "wait", "tasks-stopped"] for command in ran) == 2


def test_the_certificate_domain_and_alarm_email_reach_the_context():
    result = deploy(
        "mvp",
        "--dry-run",
        CERTIFICATE_ARN="arn:aws:acm:us-east-1:123456789012:certificate/abc",
        DOMAIN_NAME="shop.example.com",
        ALARM_EMAIL="ops@example.com",
    )

    assert result.returncode == 0, result.stderr
    stacks = commands(result)[1]
    assert "certificate_arn=arn:aws:acm:us-east-1:123456789012:certificate/abc" in stacks
    assert "domain_name=shop.example.com" in stacks
    assert "alarm_email=ops@example.com" in stacks


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--dry-run",),
        ("production", "--dry-run"),
        ("growth", "scale", "--dry-run"),
        ("growth", "--compute", "ec2", "--dry-run"),
        ("growth", "--compute"),
        ("growth; rm -rf /", "--dry-run"),
        ("growth", "--force"),
        ("x" * 10_000,),
    ],
)
def test_bad_arguments_print_the_usage_and_run_nothing(args):
    result = deploy(*args)

    assert result.returncode == 2
    assert "usage: scripts/deploy.sh" in result.stderr
    assert commands(result) == []


def test_a_certificate_without_a_domain_is_refused():
    result = deploy("growth", "--dry-run", CERTIFICATE_ARN="arn:aws:acm:us-east-1:123456789012:certificate/abc")

    assert result.returncode == 2
    assert "CERTIFICATE_ARN and DOMAIN_NAME go together" in result.stderr
    assert commands(result) == []


def test_an_unknown_approval_level_is_refused():
    result = deploy("growth", "--dry-run", APPROVAL="yolo")

    assert result.returncode == 2
    assert "APPROVAL must be" in result.stderr
