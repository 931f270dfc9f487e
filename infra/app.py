"""The CDK app: `cdk synth -c phase=mvp|growth|scale [-c compute=lambda|fargate]` (docs/deploy.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cloudshelf_infra import build_from_context


def main() -> None:
    app = cdk.App()
    try:
        build_from_context(app)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    app.synth()


if __name__ == "__main__":
    main()
