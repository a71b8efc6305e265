"""The core (consumer/) depends on no adapter and no transport library; only the CLI wires them."""

from __future__ import annotations

import ast

from tests.samples import REPO_ROOT

FORBIDDEN = ("adapters", "aio_pika", "aiormq", "httpx", "tencentcloud", "cmq", "emulators")
COMPOSITION_ROOT = "consumer/cli.py"


def _imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_modules_import_no_adapter_or_transport_library() -> None:
    """Every consumer/ module but the composition root stays transport-free."""
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(_imported_roots(path.read_text()) & set(FORBIDDEN))
        for path in (REPO_ROOT / "consumer").rglob("*.py")
        if path.relative_to(REPO_ROOT).as_posix() != COMPOSITION_ROOT
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}
