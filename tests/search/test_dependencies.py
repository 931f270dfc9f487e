"""The dependency direction: catalog knows nothing of search; search knows nothing of analytics."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(app: str) -> set[str]:
    modules = set()
    for path in (ROOT / app).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules


@pytest.mark.parametrize(
    ("app", "forbidden"), [("catalog", {"search", "analytics"}), ("search", {"analytics", "cart"})]
)
def test_an_app_never_imports_the_apps_that_listen_to_it(app, forbidden):
    assert imported_modules(app) & forbidden == set()
